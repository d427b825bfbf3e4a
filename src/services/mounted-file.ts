/**
 * A small file given by flag that may be mounted from a Secret or ConfigMap (an age identity, a signing or trusted key):
 * a kubelet's volume presents each key as a symbolic link (`key -> ..data/key`, `..data -> ..2026_01_02_...`), so links
 * are followed, unlike a backup's own files (backup-file.ts). Only a regular file is read: a FIFO in its place must not
 * hang the open (O_NONBLOCK). Its mode comes from the same open file, so the file judged is the file read.
 */
import { constants } from "node:fs"
import { open } from "node:fs/promises"
import { Effect, Schema } from "effect"
import { describeFileSystemFailure, FileSystemFailureFields } from "./file-system-error.ts"

export class MountedFileUnusable extends Schema.TaggedError<MountedFileUnusable>()("MountedFileUnusable", {
  ...FileSystemFailureFields,
  /** Why: not a regular file, larger than `maxBytes`, or the file system refused (`code`). */
  reason: Schema.Literals(["NotRegular", "TooLarge", "Unreadable"]),
}) {}

/**
 * The bytes of `path` (links followed, a regular file, at most `maxBytes`) and its permission bits; `operation` names
 * the read in a message ("read the identity file"). The read buffer is zeroed: the file may hold a private key.
 */
export const readMountedFile = (
  path: string,
  maxBytes: number,
  operation = "read",
): Effect.Effect<{ readonly bytes: Uint8Array; readonly mode: number }, MountedFileUnusable> =>
  Effect.tryPromise({
    try: async () => {
      const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
      const refuse = (reason: "NotRegular" | "TooLarge", message: string) => new MountedFileUnusable({ path, operation, reason, message })
      try {
        const info = await handle.stat()
        if (!info.isFile()) throw refuse("NotRegular", `${path} is not a regular file (a FIFO, device, socket or directory); give the file itself`)
        if (info.size > maxBytes) throw refuse("TooLarge", `${path} is ${info.size} bytes, more than the ${maxBytes} such a file can hold`)
        const buffer = Buffer.alloc(maxBytes + 1)
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
        const bytes = new Uint8Array(buffer.subarray(0, Math.min(bytesRead, maxBytes)))
        buffer.fill(0)
        if (bytesRead > maxBytes) throw refuse("TooLarge", `${path} grew past ${maxBytes} bytes while it was read`)
        return { bytes, mode: info.mode & 0o777 }
      } finally {
        await handle.close()
      }
    },
    catch: (e) => (e instanceof MountedFileUnusable ? e : new MountedFileUnusable({ ...describeFileSystemFailure(operation, path, e), reason: "Unreadable" })),
  })
