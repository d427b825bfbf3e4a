/**
 * A copy's progress hook that warns, once, when the copy at its pace so far ends after the pod's hold (`endAfterHold`):
 * the backup then goes with the pod's volume, and the person copying can act before the hour is spent. Wall time, as
 * the progress lines: a pace is wall time, also under a test clock.
 */
import { Effect } from "effect"
import { formatBytes } from "../../domain/byte-format.ts"
import { endAfterHold } from "../../domain/copy-pace.ts"
import { formatRfc3339Utc } from "../../domain/rfc3339.ts"

export const holdDeadlineWatch = (pod: string, holdEndsAt: number | undefined, now: () => number = Date.now) =>
  Effect.gen(function* () {
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const startedAt = new Map<string, number>()
    let warned = false
    return (path: string, doneBytes: number, totalBytes: number): void => {
      if (holdEndsAt === undefined || warned) return
      const at = now()
      const started = startedAt.get(path) ?? at
      startedAt.set(path, started)
      const end = endAfterHold({ startedAt: started, now: at, doneBytes, totalBytes }, holdEndsAt)
      if (end === undefined) return
      warned = true
      const pace = formatBytes((doneBytes * 1000) / (at - started))
      run(
        Effect.logWarning(
          `at its pace so far (${pace}/s), ${path} is copied by about ${formatRfc3339Utc(end)}, after pod ${pod}'s hold ends at ${formatRfc3339Utc(holdEndsAt)}: the copy will then fail, the backup going with the pod's volume. Copy from a machine nearer the cluster, or give the backup pod a longer hold (the operator's --hold-duration) and run backup-pod again`,
        ),
      )
    }
  })
