/**
 * Writing a file's pages to disk while the rest of it is still being written: one fdatasync at a
 * time, each started once `every` more bytes were written, so the fsync that makes the file
 * durable finds little left to write instead of the whole file. On a machine with memory to spare
 * the kernel would otherwise hold every page dirty until that fsync (its background writeback
 * starts at 10 % of memory), and the disk would sit idle while the file is made, then write it all
 * at the end (bench/AGE.md: 1 GiB, 2.5 s to 1.8 s).
 *
 * A failed flush is kept and thrown by `settle`: the kernel reports a writeback error once per
 * open file, so the final fsync would no longer see it.
 */
import type { FileHandle } from "node:fs/promises"

export interface BackgroundWriteback {
  /** Told, in order, how many bytes from the file's start are written. */
  readonly written: (end: number) => void
  /** Waits for the flush under way; throws the first flush's failure. */
  readonly settle: () => Promise<void>
}

export const flushEveryBytes = 64 * 1024 * 1024

export const backgroundWriteback = (handle: FileHandle, every: number = flushEveryBytes): BackgroundWriteback => {
  let flushedTo = 0
  let underWay: Promise<void> | undefined
  let failure: { readonly error: unknown } | undefined
  return {
    written: (end) => {
      if (underWay !== undefined || failure !== undefined || end - flushedTo < every) return
      flushedTo = end
      underWay = handle.datasync().then(
        () => {
          underWay = undefined
        },
        (error: unknown) => {
          failure ??= { error }
          underWay = undefined
        },
      )
    },
    settle: async () => {
      await underWay
      if (failure !== undefined) throw failure.error
    },
  }
}
