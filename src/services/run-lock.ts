/**
 * A lock file that says which run of a command owns a directory's leftovers, so that the next run
 * of the same command can sweep what a killed run left (`.part` snapshots, decoded Secrets in a
 * staging tree, a half-extracted restore) without ever touching what a live run is writing.
 *
 * The lock holds its owner: PID, the process's start time in clock ticks (from `/proc/<pid>/stat`,
 * so a PID reused by another process is not mistaken for the owner: in a container every init
 * container's process may be PID 1), the host name, the command and when it started. It is made
 * complete under a temporary name and published with `link()`, which fails if the lock exists, so a
 * reader never sees a half-written lock. An owner is *gone* when its PID no longer runs, or runs
 * with another start time; a lock written on another host cannot be checked and counts as held.
 */
import { link, readFile, readlink, rename, unlink } from "node:fs/promises"
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { Effect, Schema, type Scope } from "effect"
import { BackupFileRefused, readBackupFile } from "./backup-file.ts"
import { describeFileSystemFailure, errnoCode } from "./file-system-error.ts"
import { createFreshFile } from "./fresh-file.ts"

export const RunLockOwner = Schema.Struct({
  pid: Schema.Int,
  startTicks: Schema.NullOr(Schema.String),
  host: Schema.String,
  command: Schema.String,
  startedAt: Schema.String,
  /** The owner's PID namespace (`pid:[<inode>]`, from `/proc/self/ns/pid`); absent in locks of older runs. */
  pidNamespace: Schema.optionalKey(Schema.String),
})
export type RunLockOwner = typeof RunLockOwner.Type

/** Another run that is (or may be) still alive holds the lock. */
export class RunLockHeld extends Schema.TaggedError<RunLockHeld>()("RunLockHeld", {
  path: Schema.String,
  owner: RunLockOwner,
  message: Schema.String,
}) {}

/** The lock file could not be read, written or removed. */
export class RunLockError extends Schema.TaggedError<RunLockError>()("RunLockError", {
  path: Schema.String,
  code: Schema.NullOr(Schema.String),
  message: Schema.String,
}) {}

/** What a lock file says about its directory. */
export type RunLockState =
  | { readonly _tag: "Free" }
  | { readonly _tag: "Held"; readonly owner: RunLockOwner }
  | { readonly _tag: "Stale"; readonly owner: RunLockOwner | undefined }

const errnoOf = (e: unknown): string | null => {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : null
}

const lockError = (path: string, doing: string) => (e: unknown) =>
  new RunLockError({
    path,
    code: errnoOf(e),
    message: describeFileSystemFailure(`${doing} the lock file`, path, e).message,
  })

/** The start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), or undefined. */
export const startTicksOf = async (pid: number): Promise<string | undefined> => {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined)
  if (stat === undefined) return undefined
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return fields[19]
}

const procAvailable = async (): Promise<boolean> => (await startTicksOf(process.pid)) !== undefined

/** This process's PID namespace (`pid:[4026531836]`), or undefined without /proc. */
const ownPidNamespace = (): Promise<string | undefined> => readlink("/proc/self/ns/pid").catch(() => undefined)

/** Whether `owner` still runs: "gone" only when that is certain. */
export const ownerLiveness = async (owner: RunLockOwner): Promise<"alive" | "gone" | "unknown"> => {
  if (owner.host !== hostname()) return "unknown"
  // Another container with the same host name (a pod on the host network): its PIDs are not ours to look up.
  if (owner.pidNamespace !== undefined && owner.pidNamespace !== (await ownPidNamespace())) return "unknown"
  if (await procAvailable()) {
    const ticks = await startTicksOf(owner.pid)
    if (ticks === undefined) return "gone"
    return owner.startTicks === null || owner.startTicks === ticks ? "alive" : "gone"
  }
  try {
    process.kill(owner.pid, 0)
    return "alive"
  } catch (e) {
    return errnoOf(e) === "ESRCH" ? "gone" : "alive"
  }
}

const decodeOwner = Schema.decodeUnknownOption(Schema.fromJsonString(RunLockOwner))

const readOwner = async (path: string): Promise<RunLockOwner | undefined | "absent"> => {
  const chunks: Array<Buffer> = []
  try {
    // A regular file only, opened without waiting: anything else (a FIFO would block the read forever) was not written by this code.
    for await (const chunk of readBackupFile(path, { maxBytes: 64 * 1024 })) chunks.push(chunk)
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return "absent"
    if (e instanceof BackupFileRefused) return undefined
    throw e
  }
  const decoded = decodeOwner(Buffer.concat(chunks).toString("utf8"))
  return decoded._tag === "Some" ? decoded.value : undefined
}

/** Reads the lock at `path`: free, held by a live (or uncheckable) owner, or stale. Changes nothing. */
export const inspectRunLock = (path: string): Effect.Effect<RunLockState, RunLockError> =>
  Effect.tryPromise({
    try: async (): Promise<RunLockState> => {
      const owner = await readOwner(path)
      if (owner === "absent") return { _tag: "Free" }
      // Locks are published whole (link), so an unreadable one was not written by this code: stale.
      if (owner === undefined) return { _tag: "Stale", owner: undefined }
      return (await ownerLiveness(owner)) === "gone" ? { _tag: "Stale", owner } : { _tag: "Held", owner }
    },
    catch: lockError(path, "read"),
  })

const describeOwner = (owner: RunLockOwner) => `${owner.command} (PID ${owner.pid} on ${owner.host}, started ${owner.startedAt})`

const heldError = (path: string, owner: RunLockOwner) =>
  new RunLockHeld({
    path,
    owner,
    message:
      `${path} is held by ${describeOwner(owner)}, which may still be running: wait for it to finish. ` +
      `If it is certainly gone (another host or container, a stopped container), remove ${path} and run again.`,
  })

/**
 * Takes the lock at `path` for the enclosing scope, replacing a stale one (its owner is gone), and
 * returns what the stale lock said (undefined when there was none), so the caller knows a sweep of
 * a killed run's leftovers is due. Fails with `RunLockHeld` while another live run holds it. The
 * lock is removed when the scope closes, if it is still ours.
 */
export const acquireRunLock = (path: string, command: string): Effect.Effect<{ readonly replaced: RunLockState }, RunLockHeld | RunLockError, Scope.Scope> =>
  Effect.gen(function* () {
    const ticks = yield* Effect.promise(() => startTicksOf(process.pid))
    const pidNamespace = yield* Effect.promise(ownPidNamespace)
    const owner: RunLockOwner = {
      pid: process.pid,
      startTicks: ticks ?? null,
      host: hostname(),
      command,
      startedAt: new Date().toISOString(),
      ...(pidNamespace === undefined ? {} : { pidNamespace }),
    }
    const text = JSON.stringify(owner)
    const unique = `${process.pid}-${randomBytes(4).toString("hex")}`
    const temp = `${path}.new-${unique}`
    const attempt = Effect.tryPromise({
      try: async (): Promise<RunLockState | "taken"> => {
        const created = await createFreshFile(temp, 0o600)
        await created.writeFile(text).finally(() => created.close())
        try {
          await link(temp, path)
          return { _tag: "Free" }
        } catch (e) {
          if (errnoOf(e) !== "EEXIST") throw e
        } finally {
          await unlink(temp).catch(() => undefined)
        }
        const found = await readOwner(path)
        if (found === "absent") return "taken" // released meanwhile: try again
        const state: RunLockState =
          found !== undefined && (await ownerLiveness(found)) !== "gone" ? { _tag: "Held", owner: found } : { _tag: "Stale", owner: found }
        if (state._tag === "Held") return state
        // Move the stale lock aside under a name of our own, and check that what moved is what was
        // judged stale: a run that replaced it in between must keep its lock.
        const aside = `${path}.stale-${unique}`
        await rename(path, aside).catch((e: unknown) => (errnoOf(e) === "ENOENT" ? undefined : Promise.reject(e)))
        const moved = await readOwner(aside)
        if (moved !== "absent" && JSON.stringify(moved) !== JSON.stringify(found)) {
          await link(aside, path).catch(() => undefined)
        }
        await unlink(aside).catch(() => undefined)
        return moved !== "absent" && JSON.stringify(moved) !== JSON.stringify(found) ? "taken" : { _tag: "Stale", owner: found }
      },
      catch: lockError(path, "create"),
    })
    let replaced: RunLockState = { _tag: "Free" }
    for (let tries = 0; ; tries++) {
      const result = yield* attempt
      if (result !== "taken" && result._tag === "Held") return yield* heldError(path, result.owner)
      if (result !== "taken" && result._tag === "Free") break
      if (result !== "taken") replaced = result
      if (tries >= 5) return yield* new RunLockError({ path, code: null, message: `cannot take the lock file ${path}: other runs keep replacing it` })
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        const current = await readOwner(path).catch(() => undefined)
        if (current !== "absent" && current !== undefined && JSON.stringify(current) === text) await unlink(path).catch(() => undefined)
      }),
    )
    return { replaced }
  })
