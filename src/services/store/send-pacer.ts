/**
 * The pacer a store's sends share (`--bandwidth-limit`): every request body's chunk, whichever part it belongs to,
 * waits its turn, so parts in flight together stay within the one limit (domain/bandwidth-limit.ts decides the waits).
 * It paces promise-level I/O (an HTTP request's writes, a file's reads), so it reads the monotonic clock itself.
 */
import { performance } from "node:perf_hooks"
import { pacedBurstBytes, pacedChunkBytes, paceSend } from "../../domain/bandwidth-limit.ts"

export interface SendPacer {
  /** The bytes a paced sender writes at a time (`pacedChunkBytes`). */
  readonly chunkBytes: number
  /** Resolves when `bytes` may be sent. */
  readonly take: (bytes: number) => Promise<void>
}

export const makeSendPacer = (bytesPerSecond: number, now: () => number = () => performance.now()): SendPacer => {
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
export async function* paced(source: AsyncIterable<Uint8Array>, pacer: SendPacer | undefined): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    if (pacer !== undefined) await pacer.take(chunk.byteLength)
    yield chunk
  }
}
