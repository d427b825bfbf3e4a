/** The sha256 of a local file, read as a stream (the files are large: never read whole). */
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { Effect } from "effect"

/** The hex sha256 of the file at `path`; `undefined` when it cannot be read (a download not yet made, or unreadable: fetched again). */
export const fileSha256OrUndefined = (path: string): Effect.Effect<string | undefined> =>
  Effect.callback<string | undefined>((resume) => {
    const hash = createHash("sha256")
    const stream = createReadStream(path)
      .on("data", (d) => hash.update(d as Buffer))
      .on("end", () => resume(Effect.succeed(hash.digest("hex"))))
      .on("error", () => resume(Effect.succeed(undefined)))
    return Effect.sync(() => stream.destroy())
  })
