/**
 * A container's report, written to its --report-file (the termination log the kubelet mounted): in place (a rename
 * over it would fail), in one write, after everything else succeeded.
 */
import { Effect, FileSystem, Schema } from "effect"
import { describeFileSystemFailure } from "../../services/file-system-error.ts"

export class PodReportNotWritten extends Schema.TaggedError<PodReportNotWritten>()("PodReportNotWritten", {
  path: Schema.String,
  code: Schema.UndefinedOr(Schema.String),
  message: Schema.String,
}) {}

/** Writes `text` to `path`; `done` says what was done all the same (`backup X is stored at Y`), for the message. */
export const writeTerminationReport = (path: string, text: string, done: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs.writeFileString(path, text).pipe(
      Effect.mapError((e) => {
        const failure = describeFileSystemFailure("write", path, e)
        return new PodReportNotWritten({ path, code: failure.code, message: `${done}, but ${failure.message}` })
      }),
    )
  })
