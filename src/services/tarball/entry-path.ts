/**
 * The generic safety rules for a path inside a resource tarball, shared by the writer (what it
 * may put in) and the reader (what it may accept). A path is relative, made of non-empty
 * segments that are neither `.` nor `..`, holds no NUL, control character or backslash, and
 * stays within sane lengths. Layout rules (which directories may appear) are a separate,
 * pluggable `LayoutCheck`.
 */
import { Result } from "effect"
import type { RefusalReason } from "./errors.ts"

export type EntryKind = "file" | "directory"

/**
 * Confines entries to an archive layout (e.g. `static-pod-resources/<pod>-<N>/...`). Called for
 * every entry after the generic checks passed; a failure refuses the entry. The failure value's
 * `message` (when it has one) is shown to the user.
 */
export type LayoutCheck = (path: string, kind: EntryKind) => Result.Result<unknown, unknown>

export interface PathLimits {
  /** Longest accepted path, in UTF-8 bytes. */
  readonly maxPathBytes: number
  /** Longest accepted path segment, in UTF-8 bytes (Linux NAME_MAX is 255). */
  readonly maxSegmentBytes: number
}

export const defaultPathLimits: PathLimits = { maxPathBytes: 4096, maxSegmentBytes: 255 }

export interface PathProblem {
  readonly reason: RefusalReason | "path-bytes" | "segment-bytes"
  readonly message: string
}

const problem = (reason: PathProblem["reason"], message: string): Result.Result<string, PathProblem> => Result.fail({ reason, message })

// Control characters would make listings and error messages lie about the name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this pattern is for
const controlCharacter = /[\u0000-\u001f\u007f]/

/** The path itself when it is a safe relative path, else why not. */
export const checkEntryPath = (path: string, limits: PathLimits = defaultPathLimits): Result.Result<string, PathProblem> => {
  if (path.length === 0) return problem("empty-path", "the entry has an empty name")
  if (path.includes("\u0000")) return problem("nul-byte", "the name contains a NUL byte")
  const bytes = Buffer.byteLength(path, "utf8")
  if (bytes > limits.maxPathBytes) {
    return problem("path-bytes", `the name is ${bytes} bytes long, more than the limit of ${limits.maxPathBytes}`)
  }
  if (controlCharacter.test(path)) return problem("control-character", "the name contains a control character")
  if (path.includes("\\")) return problem("backslash", "the name contains a backslash")
  if (path.startsWith("/")) return problem("absolute-path", "the name is an absolute path; only relative paths are accepted")
  for (const segment of path.split("/")) {
    if (segment === "") return problem("empty-segment", "the name has an empty segment (`//` or a trailing `/`)")
    if (segment === ".") return problem("dot-segment", "the name has a `.` segment")
    if (segment === "..") return problem("parent-segment", "the name has a `..` segment, which could escape the target directory")
    const segmentBytes = Buffer.byteLength(segment, "utf8")
    if (segmentBytes > limits.maxSegmentBytes) {
      return problem("segment-bytes", `a segment of the name is ${segmentBytes} bytes long, more than the limit of ${limits.maxSegmentBytes}`)
    }
  }
  return Result.succeed(path)
}

/** The message of a layout check's failure value, whatever its shape. */
export const layoutFailureMessage = (failure: unknown): string => {
  if (typeof failure === "string") return failure
  if (typeof failure === "object" && failure !== null && "message" in failure && typeof failure.message === "string") {
    return failure.message
  }
  return String(failure)
}
