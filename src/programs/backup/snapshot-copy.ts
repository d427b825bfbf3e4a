/**
 * Copies an etcd snapshot stream into a file while checking its sha256 trailer: the bytes go
 * through `TrailerCheck` into two reused 512 KiB buffers; one is written while the other fills,
 * so the disk and the network work at the same time, with no allocation per write (fresh large
 * buffers fragment the allocator and make the process grow). The stream is pulled only as fast
 * as the file takes it, so memory stays bounded whatever the snapshot's size.
 *
 * The buffers are page-aligned and every write but the last is a whole buffer, as direct I/O
 * needs (see `snapshot-file.ts`); the last one, with the trailer, is padded to the alignment and
 * the file truncated to its length. On a buffered file an fsync starts in the background every
 * `flushEveryBytes` written (never two at once), so the disk takes the snapshot while it streams
 * instead of gigabytes of dirty pages at the final fsync.
 */
import { Effect, Fiber, Pull, Ref, Stream } from "effect"
import { EtcdSnapshotFailed, type EtcdError } from "../../services/etcd/etcd-errors.ts"
import { TrailerCheck, trailerLength, type SnapshotHashMismatch, type SnapshotTooShort, type TrailerVerified } from "../../services/etcd/snapshot-trailer.ts"
import type { BackupFileError } from "../../services/atomic-files.ts"
import { alignedBuffer, directAlignment, type SnapshotFile } from "../../services/snapshot-file.ts"

/**
 * Bytes per write (a multiple of `directAlignment`). Measured on 1 GiB (ext4, kernel 6.18, buffered):
 * 256-768 KiB cost ~0.7 s of system CPU, writes of exactly 1 MiB ~2.3 s, smaller ones more user CPU.
 */
const bufferBytes = 512 * 1024

/** Measured on 1 GiB, buffered: 8-128 MiB take the final fsync from ~0.6 s to a few ms. */
const defaultFlushEveryBytes = 32 * 1024 * 1024

export interface CopyOptions {
  readonly source: Stream.Stream<Uint8Array, EtcdError>
  readonly file: SnapshotFile
  readonly endpoint: string
  /** Bytes received so far (read by the progress reporter). */
  readonly received: Ref.Ref<number>
  /** Fails the copy when no data arrives for this long. */
  readonly stallTimeoutMs: number
  /** Runs once, after the first bytes arrived and before more are pulled. */
  readonly afterFirstBytes: Effect.Effect<void, EtcdError>
  /** Buffered files: written bytes after which a background fsync starts (default `defaultFlushEveryBytes`). */
  readonly flushEveryBytes?: number
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to

export const copySnapshot = Effect.fnUntraced(function* (
  options: CopyOptions,
): Effect.fn.Return<TrailerVerified, EtcdError | BackupFileError | SnapshotHashMismatch | SnapshotTooShort> {
  const { file } = options
  const check = new TrailerCheck()
  // Room past a full buffer for the last write: the trailer and the padding to the alignment.
  const buffers = [alignedBuffer(bufferBytes + directAlignment), alignedBuffer(bufferBytes + directAlignment)] as const
  let current = 0
  let filled = 0
  let position = 0
  let writing: Fiber.Fiber<void, BackupFileError> | undefined
  const flushEveryBytes = file.direct ? Infinity : (options.flushEveryBytes ?? defaultFlushEveryBytes)
  let flushing: Fiber.Fiber<void, BackupFileError> | undefined
  let unflushed = 0
  // Starts a background fsync once enough was written and the previous one is done (its failure
  // fails the copy here).
  const flushIfDue = Effect.gen(function* () {
    if (unflushed < flushEveryBytes) return
    if (flushing !== undefined) {
      const previous = flushing.pollUnsafe()
      if (previous === undefined) return
      if (previous._tag === "Failure") return yield* Fiber.join(flushing)
    }
    unflushed = 0
    flushing = yield* Effect.forkChild(file.sync)
  })
  // Hands `length` bytes of the current buffer to a writer fiber; waits for the previous write
  // first, so writes stay in order and a buffer is never refilled while it is being written.
  const rotate = (length: number) =>
    Effect.gen(function* () {
      if (writing !== undefined) yield* Fiber.join(writing)
      writing = yield* Effect.forkChild(file.writeAt(buffers[current]!.subarray(0, length), position))
      position += length
      unflushed += length
      current ^= 1
      filled = 0
      yield* flushIfDue
    })

  // Wall time, not effect's Clock: a stall is real time without data, and the mark is set once per chunk on the hot path.
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
            if (filled === bufferBytes) yield* rotate(bufferBytes)
          }
        }
      }
      yield* Ref.update(options.received, (n) => n + received)
      if (first) {
        first = false
        yield* options.afterFirstBytes
      }
    }
    if (writing !== undefined) yield* Fiber.join(writing)
    if (flushing !== undefined) yield* Fiber.join(flushing)
  })

  yield* Effect.scoped(Effect.raceFirst(copy, watchdog))
  const verified = check.finish()
  if (!("sha256" in verified)) return yield* Effect.fail(verified)
  // The rest of the database bytes and the trailer, padded for direct I/O and cut back after.
  const last = buffers[current]!
  last.set(verified.trailer, filled)
  const length = filled + trailerLength
  const padded = file.direct ? roundUp(length, directAlignment) : length
  last.fill(0, length, padded)
  yield* file.writeAt(last.subarray(0, padded), position)
  if (padded !== length) yield* file.truncate(position + length)
  return verified
})
