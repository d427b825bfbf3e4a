/** The one failure of prune: the path it concerns and what to do. */
import { Schema } from "effect"
import { describeFileSystemFailure } from "../../services/file-system-error.ts"

export class PruneFailed extends Schema.TaggedError<PruneFailed>()("PruneFailed", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** A failed file-system call of prune, as a `PruneFailed` that says to run prune again. */
export const fsError = (path: string, doing: string) => (e: unknown) =>
  new PruneFailed({ path, message: `${describeFileSystemFailure(doing, path, e).message} (then run prune again)` })
