/**
 * Writing into the page cache synchronously, at most 64 KiB per call: on the Linux 6.x of the
 * machines measured, a 1 MiB write into new page-cache pages cost the kernel 4 x what sixteen
 * writes of 64 KiB cost (larger folios to allocate; `dd` of 512 MiB into a new file: 0.53 CPU-s
 * at `bs=1M`, 0.13 at `bs=64K`; bench/AGE.md).
 */
import { writeSync } from "node:fs"

const writeBytes = 64 * 1024

/** Writes `length` bytes of `buffer` from `offset` at `position` of `fd`; throws a write's failure. */
export const writeAllSync = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number): void => {
  for (let done = 0; done < length; ) {
    const n = writeSync(fd, buffer, offset + done, Math.min(writeBytes, length - done), position + done)
    // A regular file takes the bytes or the call fails; no progress is an I/O error, not a loop.
    if (n <= 0) throw Object.assign(new Error(`no bytes written at ${position + done}`), { code: "EIO" })
    done += n
  }
}
