/**
 * The pacer a store's transfers share (`--bandwidth-limit`): every chunk of a request body or of a response, whichever
 * part or range it belongs to, waits its turn, so parts in flight together stay within the one limit
 * (domain/bandwidth-limit.ts decides the waits).
 * It paces promise-level I/O (an HTTP request's writes, a response's reads, a file's reads), so it reads the monotonic clock itself.
 */
import { performance } from "node:perf_hooks"
import { Transform } from "node:stream"
import { pacedBurstBytes, pacedChunkBytes, paceSend } from "../../domain/bandwidth-limit.ts"

export interface TransferPacer {
  /** The bytes a paced sender writes at a time (`pacedChunkBytes`). */
  readonly chunkBytes: number
  /** Resolves when `bytes` may be sent or read. */
  readonly take: (bytes: number) => Promise<void>
}

export const makeTransferPacer = (bytesPerSecond: number, now: () => number = () => performance.now()): TransferPacer => {
  const pace = { bytesPerSecond, burstBytes: pacedBurstBytes(bytesPerSecond) }
  let due = 0
  return {
    chunkBytes: pacedChunkBytes(bytesPerSecond),
    take: (bytes) => {
      const next = paceSend(due, now(), bytes, pace)
      due = next.due
      return next.waitMs < 1 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, next.waitMs))
    },
  }
}

/** Chunks of `source`, each let through only when the pacer gives its bytes. */
export async function* paced(source: AsyncIterable<Uint8Array>, pacer: TransferPacer | undefined): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    if (pacer !== undefined) await pacer.take(chunk.byteLength)
    yield chunk
  }
}

/** A stream stage that lets each chunk on only when the pacer gives its bytes (a download's response into its file). */
export const pacedTransform = (pacer: TransferPacer): Transform =>
  new Transform({
    transform(chunk: Buffer, _encoding, done) {
      pacer.take(chunk.length).then(() => done(null, chunk), done)
    },
  })
