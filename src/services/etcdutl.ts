/**
 * etcd's offline snapshot tool, as a service: `snapshotStatus` (does the file parse as an etcd
 * database; its hash, revision, key count and size), `snapshotRestore` (a new single-member data
 * directory from a snapshot, with the flags of the restore plan) and `capabilities` (version, and
 * whether `snapshot restore` knows `--bump-revision`/`--mark-compacted`, which etcd 3.4 tools do
 * not). The live Layer runs the real binary; failures carry etcdutl's own last words.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process"
import type { FileHandle } from "node:fs/promises"
import type { Readable } from "node:stream"
import { Context, Effect, Layer, Result, Schema } from "effect"
import { snapshotRestoreArgs, type SnapshotRestoreRequest } from "../domain/restore-plan.ts"
import type { EtcdutlCapabilities } from "../domain/restore-plan-input.ts"
import type { RevisionBump } from "../domain/revision-bump.ts"
import { BackupFileRefused, openBackupFile } from "./backup-file.ts"
import { descriptorPath, descriptorsHavePaths } from "./descriptor-path.ts"
import { type FileIdentity, fileIdentity, identityOf } from "./file-identity.ts"
import { etcdToolPath } from "./local-etcd.ts"

export type { EtcdutlCapabilities } from "../domain/restore-plan-input.ts"

/** `etcdutl snapshot status -w json`. */
export const SnapshotStatus = Schema.Struct({
  hash: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  revision: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  totalKey: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  totalSize: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
})
export type SnapshotStatus = typeof SnapshotStatus.Type

export const EtcdutlOperation = Schema.Literals(["version", "help", "snapshot status", "snapshot restore"])
export type EtcdutlOperation = typeof EtcdutlOperation.Type

export const EtcdutlFailureReason = Schema.Literals([
  /** The binary could not be started. */
  "binary-missing",
  "missing-file",
  /** A FIFO, device, directory or link where the snapshot should be: etcdutl would block or read without end. */
  "not-regular-file",
  /** Not an etcd database (bolt refuses it). */
  "corrupt-snapshot",
  /** The trailing sha256 is missing or does not match the content. */
  "hash-mismatch",
  /** The restore's data directory exists and is not empty. */
  "data-dir-exists",
  /** The file system it wrote to is full (ENOSPC, EDQUOT): not a fault of the snapshot. */
  "no-space",
  /** etcdutl succeeded but printed something this code cannot read. */
  "unexpected-output",
  "interrupted",
  "failed",
])
export type EtcdutlFailureReason = typeof EtcdutlFailureReason.Type

export class EtcdutlFailed extends Schema.TaggedError<EtcdutlFailed>()("EtcdutlFailed", {
  operation: EtcdutlOperation,
  reason: EtcdutlFailureReason,
  /** The snapshot the operation was about, when there is one. */
  file: Schema.optionalKey(Schema.String),
  exitCode: Schema.NullOr(Schema.Int),
  /** The end of etcdutl's stderr. */
  stderr: Schema.String,
  message: Schema.String,
}) {}

/** The binary lacks flags the operation needs (e.g. etcd 3.4: no `--bump-revision`). */
export class EtcdutlUnsupported extends Schema.TaggedError<EtcdutlUnsupported>()("EtcdutlUnsupported", {
  command: Schema.String,
  version: Schema.String,
  missing: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

export type { SnapshotRestoreRequest } from "../domain/restore-plan.ts"

// ---------------------------------------------------------------------------------------------

interface Completed {
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Output kept per stream: etcdutl's useful words are at the end. */
const maxCaptured = 256 * 1024
const stderrShown = 4 * 1024

const keepTail = (text: string, max: number) => (text.length > max ? text.slice(text.length - max) : text)

/** Runs the binary to completion; on interruption kills it (TERM, then KILL) and waits for it to exit. */
const run = (
  binary: string,
  args: ReadonlyArray<string>,
  operation: EtcdutlOperation,
  file?: string,
  /** A descriptor the child gets as its fd 3 (the snapshot it reads). */
  passed?: number,
): Effect.Effect<Completed, EtcdutlFailed> =>
  Effect.callback<Completed, EtcdutlFailed>((resume) => {
    const stdio: Array<"ignore" | "pipe" | number> = ["ignore", "pipe", "pipe", ...(passed === undefined ? [] : [passed])]
    const child = spawn(binary, args, { stdio, env: { ...process.env, ETCDCTL_API: "3" } }) as ChildProcessByStdio<null, Readable, Readable>
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout = keepTail(stdout + chunk, maxCaptured)
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = keepTail(stderr + chunk, maxCaptured)
    })
    const exited = new Promise<void>((resolve) => {
      child.once("error", (e) => {
        resume(
          Effect.fail(
            new EtcdutlFailed({
              operation,
              reason: "binary-missing",
              exitCode: null,
              stderr: "",
              message: `cannot run ${binary}: ${e.message}; install etcdutl (etcd 3.5 or newer) or name it explicitly`,
              ...(file === undefined ? {} : { file }),
            }),
          ),
        )
        resolve()
      })
      child.once("close", (code, signal) => {
        resume(
          signal !== null && code === null
            ? Effect.fail(
                new EtcdutlFailed({
                  operation,
                  reason: "interrupted",
                  exitCode: null,
                  stderr: keepTail(stderr, stderrShown),
                  message: `${binary} ${operation} was killed by ${signal}`,
                  ...(file === undefined ? {} : { file }),
                }),
              )
            : Effect.succeed({ exitCode: code, stdout, stderr }),
        )
        resolve()
      })
    })
    return Effect.promise(() => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref()
      }
      return exited
    })
  })

/** The `Error: ...` line etcdutl ends with, else the last line of stderr. */
const lastWords = (stderr: string): string => {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
  return lines.findLast((l) => l.startsWith("Error:")) ?? lines.at(-1) ?? "(no output)"
}

const classify = (stderr: string): EtcdutlFailureReason => {
  const words = lastWords(stderr)
  if (/no such file or directory/.test(words)) return "missing-file"
  if (/expected sha256|missing hash|hash mismatch/i.test(words)) return "hash-mismatch"
  if (/data-dir .* not empty|already exists/i.test(words)) return "data-dir-exists"
  if (/no space left on device|disk quota exceeded/i.test(words)) return "no-space"
  if (/invalid database|file size too small|not a bolt|page .* invalid|unexpected EOF/i.test(words)) return "corrupt-snapshot"
  return "failed"
}

const failure = (operation: EtcdutlOperation, binary: string, completed: Completed, file?: string): EtcdutlFailed => {
  const reason = classify(completed.stderr)
  const advice: Partial<Record<EtcdutlFailureReason, string>> = {
    "missing-file": "check the path",
    "corrupt-snapshot": "the file is not an etcd snapshot, or it is damaged: use another backup",
    "hash-mismatch": "the snapshot was cut short or altered since it was taken: use another backup",
    "data-dir-exists": "move the existing data directory aside first",
    "no-space": "the file system it writes to is full: free space there (the snapshot is not at fault)",
  }
  return new EtcdutlFailed({
    operation,
    reason,
    exitCode: completed.exitCode,
    stderr: keepTail(completed.stderr, stderrShown),
    message: `${binary} ${operation}${file === undefined ? "" : ` ${file}`} failed (exit ${completed.exitCode}): ${lastWords(completed.stderr)}${advice[reason] === undefined ? "" : `; ${advice[reason]}`}`,
    ...(file === undefined ? {} : { file }),
  })
}

const requireFlags = (capabilities: EtcdutlCapabilities, bump: RevisionBump): Effect.Effect<void, EtcdutlUnsupported> => {
  if (bump._tag === "Disabled") return Effect.void
  const missing = [...(capabilities.bumpRevision ? [] : ["--bump-revision"]), ...(capabilities.markCompacted ? [] : ["--mark-compacted"])]
  return missing.length === 0
    ? Effect.void
    : Effect.fail(
        new EtcdutlUnsupported({
          command: capabilities.command,
          version: capabilities.version,
          missing,
          message: `${capabilities.command} (version ${capabilities.version}) cannot restore with ${missing.join(" and ")}: use etcdutl from etcd 3.5 or newer`,
        }),
      )
}

const decodeStatus = Schema.decodeUnknownResult(Schema.fromJsonString(SnapshotStatus))

/** The snapshot as etcdutl is to read it: the path it is given, and the descriptor passed to it as its fd 3, if any. */
interface SnapshotForEtcdutl {
  readonly path: string
  readonly passed?: { readonly fd: number; readonly identity: FileIdentity }
}

const passedAs = 3

/**
 * Opens the snapshot for etcdutl (a regular file, not through a link, a FIFO never waited on) and hands
 * etcdutl the opened file itself (`/proc/self/fd/3`, inherited): what was checked is what it reads, even if
 * the path is re-pointed meanwhile. Refuses anything but a regular file; a file that cannot be opened
 * (missing, no permission) is left to etcdutl to report, and so is every file where descriptors have no path.
 */
const withSnapshotOpen = <A, E>(
  operation: EtcdutlOperation,
  file: string,
  use: (snapshot: SnapshotForEtcdutl) => Effect.Effect<A, E>,
): Effect.Effect<A, E | EtcdutlFailed> =>
  Effect.acquireUseRelease(
    Effect.flatMap(
      Effect.promise(() => openSnapshot(file)),
      (opened) =>
        opened instanceof BackupFileRefused
          ? Effect.fail(
              new EtcdutlFailed({
                operation,
                reason: "not-regular-file",
                file,
                exitCode: null,
                stderr: "",
                message: `${operation} not run: ${opened.message}`,
              }),
            )
          : Effect.succeed(opened),
    ),
    (opened) =>
      use(
        opened === undefined || !descriptorsHavePaths()
          ? { path: file }
          : { path: descriptorPath(passedAs), passed: { fd: opened.handle.fd, identity: opened.identity } },
      ),
    (opened) => (opened === undefined ? Effect.void : Effect.promise(() => opened.handle.close())),
  )

/** The snapshot opened with its identity; the refusal of what is not a regular file; `undefined` when it cannot be opened. */
const openSnapshot = async (file: string): Promise<{ readonly handle: FileHandle; readonly identity: FileIdentity } | BackupFileRefused | undefined> => {
  const opened = await openBackupFile(file).catch((e: unknown) => (e instanceof BackupFileRefused ? e : undefined))
  if (opened === undefined || opened instanceof BackupFileRefused) return opened
  try {
    return { handle: opened.handle, identity: identityOf(await opened.handle.stat({ bigint: true })) }
  } catch {
    await opened.handle.close()
    return undefined
  }
}

/** etcdutl's output, with the descriptor's path it was given shown as the snapshot's own. */
const named = (completed: Completed, snapshot: SnapshotForEtcdutl, file: string): Completed =>
  snapshot.path === file ? completed : { ...completed, stderr: completed.stderr.replaceAll(snapshot.path, file) }

const liveEtcdutl = (binary: string): Etcdutl["Service"] => {
  const probe = Effect.gen(function* () {
    const version = yield* run(binary, ["version"], "version")
    const help = yield* run(binary, ["snapshot", "restore", "--help"], "help")
    if (help.exitCode !== 0) return yield* Effect.fail(failure("help", binary, help))
    const text = help.stdout + help.stderr
    return {
      command: binary,
      version: /version:?\s*v?([0-9]+\.[0-9]+\.[0-9]+\S*)/i.exec(version.stdout + version.stderr)?.[1] ?? "unknown",
      bumpRevision: /(^|\s)--bump-revision\b/m.test(text),
      markCompacted: /(^|\s)--mark-compacted\b/m.test(text),
    } satisfies EtcdutlCapabilities
  })
  // One binary's capabilities do not change while this process runs; a snapshot's status does not while the file is
  // the same (inode, size, modification time): restore's verify and its check-snapshot step read it once.
  let known: EtcdutlCapabilities | undefined
  const capabilities = Effect.suspend(() =>
    known !== undefined
      ? Effect.succeed(known)
      : probe.pipe(
          Effect.tap((c) =>
            Effect.sync(() => {
              known = c
            }),
          ),
        ),
  )
  const statuses = new Map<string, SnapshotStatus>()
  // The opened file's identity where etcdutl reads that descriptor, else the path's.
  const statusKey = (file: string, snapshot: SnapshotForEtcdutl) =>
    (snapshot.passed === undefined ? fileIdentity(file) : Effect.succeed(snapshot.passed.identity)).pipe(
      Effect.map((id) => `${id.inode}:${id.size}:${id.mtimeNs}:${file}`),
      Effect.orElseSucceed(() => undefined),
    )
  const status = (file: string, snapshot: SnapshotForEtcdutl) =>
    Effect.gen(function* () {
      const key = yield* statusKey(file, snapshot)
      const seen = key === undefined ? undefined : statuses.get(key)
      if (seen !== undefined) return seen
      const completed = named(
        yield* run(binary, ["snapshot", "status", snapshot.path, "-w", "json"], "snapshot status", file, snapshot.passed?.fd),
        snapshot,
        file,
      )
      if (completed.exitCode !== 0) return yield* Effect.fail(failure("snapshot status", binary, completed, file))
      const decoded = decodeStatus(completed.stdout.trim())
      if (Result.isFailure(decoded)) {
        return yield* Effect.fail(
          new EtcdutlFailed({
            operation: "snapshot status",
            reason: "unexpected-output",
            file,
            exitCode: completed.exitCode,
            stderr: keepTail(completed.stderr, stderrShown),
            message: `${binary} snapshot status ${file} printed ${JSON.stringify(completed.stdout.slice(0, 200))}, not {hash, revision, totalKey, totalSize}: ${decoded.failure.message}`,
          }),
        )
      }
      if (key !== undefined) statuses.set(key, decoded.success)
      return decoded.success
    })

  return {
    capabilities,
    snapshotStatus: Effect.fn("Etcdutl.snapshotStatus")(function* (file: string) {
      return yield* withSnapshotOpen("snapshot status", file, (snapshot) => status(file, snapshot))
    }),
    snapshotRestore: Effect.fn("Etcdutl.snapshotRestore")(function* (request: SnapshotRestoreRequest) {
      yield* requireFlags(yield* capabilities, request.bump)
      yield* withSnapshotOpen("snapshot restore", request.snapshot, (snapshot) =>
        Effect.gen(function* () {
          const args = snapshotRestoreArgs({ ...request, snapshot: snapshot.path })
          const completed = named(yield* run(binary, args, "snapshot restore", request.snapshot, snapshot.passed?.fd), snapshot, request.snapshot)
          if (completed.exitCode !== 0) return yield* Effect.fail(failure("snapshot restore", binary, completed, request.snapshot))
        }),
      )
    }),
  }
}
export class Etcdutl extends Context.Service<
  Etcdutl,
  {
    readonly snapshotStatus: (file: string) => Effect.Effect<SnapshotStatus, EtcdutlFailed>
    readonly snapshotRestore: (request: SnapshotRestoreRequest) => Effect.Effect<void, EtcdutlFailed | EtcdutlUnsupported>
    readonly capabilities: Effect.Effect<EtcdutlCapabilities, EtcdutlFailed>
  }
>()("cluster-backup/Etcdutl") {
  /** The real binary: `binary` if given, else `.tools/etcd/bin/etcdutl`, else `etcdutl` on PATH. */
  static readonly live = (options: { readonly binary?: string } = {}) =>
    Layer.succeed(Etcdutl, Etcdutl.of(liveEtcdutl(etcdToolPath("etcdutl", options.binary))))

  /**
   * A scripted stand-in for tests of programs: statuses by file name, fixed capabilities, and
   * every restore request appended to `restores`.
   */
  static readonly inMemory = (options: {
    readonly statuses: Readonly<Record<string, SnapshotStatus>>
    readonly capabilities?: EtcdutlCapabilities
    readonly restores?: Array<SnapshotRestoreRequest>
  }) => {
    const capabilities = options.capabilities ?? { command: "etcdutl", version: "3.5.16", bumpRevision: true, markCompacted: true }
    return Layer.succeed(
      Etcdutl,
      Etcdutl.of({
        capabilities: Effect.succeed(capabilities),
        snapshotStatus: (file) => {
          const status = options.statuses[file]
          return status === undefined
            ? Effect.fail(
                new EtcdutlFailed({
                  operation: "snapshot status",
                  reason: "missing-file",
                  file,
                  exitCode: 1,
                  stderr: `Error: stat ${file}: no such file or directory`,
                  message: `etcdutl snapshot status ${file}: no such file`,
                }),
              )
            : Effect.succeed(status)
        },
        snapshotRestore: (request) =>
          Effect.gen(function* () {
            yield* requireFlags(capabilities, request.bump)
            if (options.statuses[request.snapshot] === undefined) {
              return yield* Effect.fail(
                new EtcdutlFailed({
                  operation: "snapshot restore",
                  reason: "missing-file",
                  file: request.snapshot,
                  exitCode: 1,
                  stderr: "",
                  message: `etcdutl snapshot restore ${request.snapshot}: no such file`,
                }),
              )
            }
            options.restores?.push(request)
          }),
      }),
    )
  }
}
