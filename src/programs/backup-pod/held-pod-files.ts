/**
 * The files a backup pod holds in its /backup, read through `pods/exec` of `cat` in its hold container: `oc cp` reads
 * them through `tar`, but `cat` of each file needs no archive parsed here, and each is checked against the manifest.
 * A read that fails on a transient API failure (unavailable, a connection cut, a deadline) is done again from its
 * start, within the retry policy, each retry logged: `cat` changes nothing, and a file's part is made anew.
 */
import { createHash } from "node:crypto"
import { rename } from "node:fs/promises"
import { Effect, Schedule, Schema, Stream } from "effect"
import type { KubeError } from "../../services/kube/errors.ts"
import { defaultRetryPolicy, isRetryable, retrySchedule, type RetryPolicy } from "../../services/kube/retry.ts"
import { warnEachRetry } from "../../services/retry-warning.ts"
import { backupHoldContainerName } from "../../domain/backup-pod-names.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import type { KubeService } from "../../services/kube/kube.ts"
import { createFreshFile } from "../../services/fresh-file.ts"
import { removeQuietly } from "../../services/atomic-files.ts"
import { batchedFileWriter } from "../../services/store/batched-file-writer.ts"
import { minorGc } from "../../services/etcd/minor-gc.ts"
import { localIoFailedOn, type StoreLocalIoFailed } from "../../services/store/store-errors.ts"

/** A file in the pod larger than the manifest (or a document's bound) allows: nothing of it is kept. */
export class HeldFileTooLarge extends Schema.TaggedError<HeldFileTooLarge>()("HeldFileTooLarge", {
  pod: Schema.String,
  path: Schema.String,
  maxBytes: Schema.Number,
  message: Schema.String,
}) {}

/**
 * `cat` of a regular file only: a FIFO would never end, a device never stop, and a symbolic link could stand for any
 * file of the container (a key it mounts); any of them exits 3, saying so on stderr, before anything is read.
 */
const catRegular = (path: string): ReadonlyArray<string> => [
  "sh",
  "-c",
  'if [ -L "$1" ] || [ ! -f "$1" ]; then echo "$1 is not a regular file" >&2; exit 3; fi; exec cat -- "$1"',
  "sh",
  path,
]

const writeBatchBytes = 1024 * 1024
/** Copied bytes between two young-generation collections (as a store's download: every frame is a fresh buffer outside the heap). */
const gcEveryBytes = 8 * 1024 * 1024

/** Whether a failed read is worth doing again: a transient API failure, not the command's own failure nor a local one. */
const transient = (error: { readonly _tag: string }): boolean =>
  (error._tag === "Unavailable" || error._tag === "Timeout") && isRetryable(error as KubeError, "get")

export const heldPodFiles = (kube: KubeService, namespace: string, pod: string, retry: RetryPolicy = defaultRetryPolicy) => {
  const location = `pod ${namespace}/${pod}`
  const again = <A, E extends { readonly _tag: string; readonly message: string }, R>(read: Effect.Effect<A, E, R>) =>
    Effect.retry(
      read,
      retrySchedule<E>(retry).pipe(
        Schedule.passthrough,
        Schedule.while(({ input }) => transient(input)),
        warnEachRetry(retry.maxRetries),
      ),
    )
  const run = (command: ReadonlyArray<string>) => kube.pods.exec(namespace, pod, backupHoldContainerName, command)
  const tooLarge = (path: string, maxBytes: number) =>
    new HeldFileTooLarge({
      pod,
      path,
      maxBytes,
      message: `${path} in ${location} has more than ${formatBytes(maxBytes)}, the most it may have: it is not the file its backup's manifest describes; nothing of it was kept`,
    })
  return {
    location,
    /** Whether `path` is there (`test -e` exiting 1: it is not). */
    exists: (path: string) =>
      run(["test", "-e", path]).pipe(
        Stream.runDrain,
        Effect.as(true),
        Effect.catchIf(
          (e) => e._tag === "ExecCommandFailed" && e.exitCode === 1,
          () => Effect.succeed(false),
        ),
        again,
      ),
    /** The whole file, refused past `maxBytes`. */
    bytes: (path: string, maxBytes: number) =>
      Effect.suspend(() => {
        const chunks: Array<Uint8Array> = []
        let size = 0
        return run(catRegular(path)).pipe(
          Stream.runForEach((chunk): Effect.Effect<void, HeldFileTooLarge> => {
            size += chunk.length
            if (size > maxBytes) return Effect.fail(tooLarge(path, maxBytes))
            chunks.push(chunk)
            return Effect.void
          }),
          Effect.map(() => new Uint8Array(Buffer.concat(chunks))),
        )
      }).pipe(again),
    /** Written to `to` through `<to>.part` (0600, fsynced), refused past `maxBytes`: its size and sha256. `onProgress` sees each chunk written. */
    toFile: (path: string, to: string, maxBytes: number, onProgress?: (path: string, doneBytes: number, totalBytes: number) => void) => {
      const part = `${to}.part`
      return Effect.acquireUseRelease(
        Effect.tryPromise({ try: () => createFreshFile(part, 0o600), catch: localIoFailedOn(part, "create") }),
        (handle) =>
          Effect.gen(function* () {
            const hash = createHash("sha256")
            const writer = batchedFileWriter(handle.fd, 0, Buffer.allocUnsafeSlow(writeBatchBytes))
            let size = 0
            let sinceGc = 0
            yield* run(catRegular(path)).pipe(
              Stream.runForEach((chunk): Effect.Effect<void, HeldFileTooLarge | StoreLocalIoFailed> => {
                size += chunk.length
                if (size > maxBytes) return Effect.fail(tooLarge(path, maxBytes))
                return Effect.try({
                  try: () => {
                    hash.update(chunk)
                    writer.push(chunk)
                    onProgress?.(path, size, maxBytes)
                    sinceGc += chunk.length
                    if (sinceGc >= gcEveryBytes) {
                      sinceGc = 0
                      minorGc()
                    }
                  },
                  catch: localIoFailedOn(part, "write"),
                })
              }),
            )
            yield* Effect.try({ try: () => writer.end(), catch: localIoFailedOn(part, "write") })
            yield* Effect.tryPromise({ try: () => handle.sync(), catch: localIoFailedOn(part, "flush") })
            return { size, sha256: hash.digest("hex") }
          }),
        (handle) => Effect.promise(() => handle.close()),
      ).pipe(
        Effect.tap(() => Effect.tryPromise({ try: () => rename(part, to), catch: localIoFailedOn(to, "rename into place") })),
        Effect.onError(() => removeQuietly(part)),
        again,
      )
    },
  }
}
