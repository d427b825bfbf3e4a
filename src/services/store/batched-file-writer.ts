/**
 * Writes a stream's chunks at consecutive positions of a file through one buffer: each chunk is
 * copied in, and the buffer written with one synchronous write whenever it is full.
 * - Batches: per 64 KiB network chunk, an asynchronous write costs a thread-pool round trip, and
 *   on a loaded machine the worker's wake-up preempts the event loop (profiled: most of a
 *   download's own CPU time sat in the write binding); a synchronous write of 1 MiB into the page
 *   cache (in 64 KiB calls, page-cache-write.ts) takes well under a millisecond and switches no thread.
 * - A copy, not the chunks kept until written: a chunk kept past a young-generation collection is
 *   promoted, and its memory waits for a full one (peak RSS +30 MiB on a 1 GiB download).
 */
import { writeAllSync } from "../page-cache-write.ts"

export interface BatchedFileWriter {
  /** Copies the chunk in, writing the buffer whenever it fills; throws a write's failure. */
  readonly push: (chunk: Uint8Array) => void
  /** Writes what the buffer holds; throws the write's failure. Returns the bytes written in all. */
  readonly end: () => number
}

/** A writer from byte `position` of the open file `fd`, through `buffer` (the caller's, reused from writer to writer). */
export const batchedFileWriter = (fd: number, position: number, buffer: Uint8Array): BatchedFileWriter => {
  let filled = 0
  let at = position

  const write = () => {
    writeAllSync(fd, buffer, 0, filled, at)
    at += filled
    filled = 0
  }

  return {
    push: (chunk) => {
      for (let taken = 0; taken < chunk.length; ) {
        const n = Math.min(chunk.length - taken, buffer.length - filled)
        buffer.set(chunk.subarray(taken, taken + n), filled)
        filled += n
        taken += n
        if (filled === buffer.length) write()
      }
    },
    end: () => {
      write()
      return at - position
    },
  }
}
