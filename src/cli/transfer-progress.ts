/**
 * The progress of a transfer (to or from a store, or off a backup pod) as log lines, at most one every 10 s: enough to see a large upload or download
 * move (an 8 GiB snapshot takes minutes), not to flood the log. Logged through the caller's services, so with the
 * logger `--log-format` chose.
 */
import { Effect } from "effect"
import { formatBytes } from "../domain/byte-format.ts"

export type TransferProgress = (key: string, doneBytes: number, totalBytes: number) => void

export const progressEveryMs = 10_000

export const transferProgress = (done: "stored" | "downloaded" | "copied") =>
  Effect.gen(function* () {
    const run = Effect.runForkWith(yield* Effect.context<never>())
    let last = Date.now()
    const progress: TransferProgress = (key, doneBytes, totalBytes) => {
      if (Date.now() - last < progressEveryMs) return
      last = Date.now()
      run(Effect.logInfo(`${key}: ${formatBytes(doneBytes)} of ${formatBytes(totalBytes)} ${done} (${Math.floor((doneBytes / totalBytes) * 100)}%)`))
    }
    return progress
  })
