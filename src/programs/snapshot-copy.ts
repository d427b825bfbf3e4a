/**
 * Copies an etcd snapshot stream into an open file while checking its sha256 trailer: the
 * bytes go through `TrailerCheck` into two reused 512 KiB buffers; one is written while the other
 * fills, so the disk and the network work at the same time, with no allocation per write
 * (fresh large buffers fragment the allocator and make the process grow). The stream is pulled
 * only as fast as the file takes it, so memory stays bounded whatever the snapshot's size.
 */
import { Effect, Fiber, type FileSystem, Pull, Ref, Stream } from "effect"
import { EtcdSnapshotFailed, type EtcdError } from "../services/etcd/etcd-errors.ts"
import { TrailerCheck, type SnapshotHashMismatch, type SnapshotTooShort, type TrailerVerified } from "../services/etcd/snapshot-trailer.ts"
import { fileError, type BackupFileError } from "./atomic-files.ts"

/**
 * Bytes per write. Measured on 1 GiB (ext4, kernel 6.18): 256-768 KiB cost ~0.7 s of system CPU,
 * writes of exactly 1 MiB ~2.3 s (and 1.3 s more wall time), smaller ones more user CPU and memory.
 */
const bufferBytes = 512 * 1024

export interface CopyOptions {
  readonly source: Stream.Stream<Uint8Array, EtcdError>
  readonly file: FileSystem.File
  /** For messages. */
  readonly path: string
  readonly endpoint: string
  /** Bytes received so far (read by the progress reporter). */
  readonly received: Ref.Ref<number>
  /** Fails the copy when no data arrives for this long. */
  readonly stallTimeoutMs: number
  /** Runs once, after the first bytes arrived and before more are pulled. */
  readonly afterFirstBytes: Effect.Effect<void, EtcdError>
}

export const copySnapshot = Effect.fnUntraced(function* (
  options: CopyOptions,
): Effect.fn.Return<TrailerVerified, EtcdError | BackupFileError | SnapshotHashMismatch | SnapshotTooShort> {
  const { file } = options
  const check = new TrailerCheck()
  const buffers = [Buffer.allocUnsafeSlow(bufferBytes), Buffer.allocUnsafeSlow(bufferBytes)] as const
  let current = 0
  let filled = 0
  let writing: Fiber.Fiber<void, BackupFileError> | undefined
  const write = (data: Uint8Array) => file.writeAll(data).pipe(Effect.mapError(fileError("write", options.path)))
  // Hands the filled buffer to a writer fiber; waits for the previous write first, so writes stay
  // in order and a buffer is never refilled while it is being written.
  const rotate = Effect.gen(function* () {
    if (writing !== undefined) yield* Fiber.join(writing)
    writing = yield* Effect.forkChild(write(buffers[current]!.subarray(0, filled)))
    current ^= 1
    filled = 0
  })

  let lastData = Date.now()
  const watchdog = Effect.gen(function* () {
    for (;;) {
      yield* Effect.sleep(Math.max(10, Math.min(1000, options.stallTimeoutMs / 4)))
      if (Date.now() - lastData > options.stallTimeoutMs) {
        const received = yield* Ref.get(options.received)
        return yield* Effect.fail(
          new EtcdSnapshotFailed({
            endpoint: options.endpoint,
            receivedBytes: received,
            message: `etcd at ${options.endpoint} sent no snapshot data for ${options.stallTimeoutMs / 1000} s after ${received} bytes: check the member's health, then take the backup again.`,
          }),
        )
      }
    }
  })

  const copy = Effect.gen(function* () {
    const pull = yield* Stream.toPull(options.source)
    const next = Pull.catchDone(pull, () => Effect.succeed(undefined))
    let first = true
    for (;;) {
      const chunks = yield* next
      if (chunks === undefined) break
      lastData = Date.now()
      let received = 0
      for (const chunk of chunks) {
        received += chunk.length
        for (const part of check.push(chunk)) {
          let offset = 0
          while (offset < part.length) {
            const n = Math.min(part.length - offset, bufferBytes - filled)
            buffers[current]!.set(part.subarray(offset, offset + n), filled)
            filled += n
            offset += n
            if (filled === bufferBytes) yield* rotate
          }
        }
      }
      yield* Ref.update(options.received, (n) => n + received)
      if (first) {
        first = false
        yield* options.afterFirstBytes
      }
    }
    if (filled > 0) yield* rotate
    if (writing !== undefined) yield* Fiber.join(writing)
  })

  yield* Effect.scoped(Effect.raceFirst(copy, watchdog))
  const verified = check.finish()
  if (!("sha256" in verified)) return yield* Effect.fail(verified)
  yield* write(verified.trailer)
  return verified
})
