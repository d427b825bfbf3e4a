/**
 * Checking a restore plan's preconditions against the host, one at a time, each failure saying
 * what was required and what was found. `BackupVerified` is delegated to the caller (it runs the
 * verifier); the others read the file system, `/proc` and the free space.
 */
import { dirname, posix } from "node:path"
import { Effect, Result, Schema } from "effect"
import { renderPrecondition } from "../../domain/restore-plan-render.ts"
import { etcdPrograms } from "../../domain/host-layout.ts"
import type { HostSteps, Precondition } from "../../domain/host-steps.ts"
import { type HostPlan, isStandDown, readsAfterMoved } from "../../domain/restore-plan.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { allocatedBytes, bytesToCopy as copiedBytes } from "../../domain/tree-measure.ts"
import { DiskSpace, type DiskUsage } from "../../services/disk-space.ts"
import { DurableFiles } from "../../services/durable-files.ts"
import { type TreeReader, treeEntryOfStats, treeSize } from "../../services/tree-size.ts"
import { describeActivity, findActivity } from "./static-pod-activity.ts"
import { findLeftovers, type Leftover } from "./restore-leftovers.ts"
import type { VerifiedEvidence } from "../verify/verify.ts"

export class RestorePreconditionFailed extends Schema.TaggedError<RestorePreconditionFailed>()("RestorePreconditionFailed", {
  precondition: Schema.String,
  message: Schema.String,
}) {}

/**
 * What the restore's verification proved of the files it will use: the tarball's size and sha256 (its
 * manifest's, which the plan was made from) and the snapshot's size and etcd's sha256 trailer as hashed.
 * The steps that read the backup check against these, so a file swapped in after the verification is refused.
 */
export interface VerifiedFiles {
  readonly resources: { readonly size: number; readonly sha256: string }
  readonly snapshot: NonNullable<VerifiedEvidence["snapshot"]>
}

export interface PreconditionContext {
  readonly plan: HostPlan
  /** Runs the backup's verification (memoised by the caller). */
  readonly backupVerified: Effect.Effect<VerifiedFiles, RestorePreconditionFailed>
}

const inspectFailed = (path: string) => (e: { readonly message: string }) => new RestorePreconditionFailed({ precondition: path, message: e.message })

/** lstat, `undefined` when the path does not exist (symbolic links are not followed). */
export const lstatOrUndefined = (path: string) => DurableFiles.use((files) => files.lstat(path)).pipe(Effect.mapError(inspectFailed(path)))

/** stat (symbolic links followed), `undefined` when the path or its target does not exist. */
const followed = (path: string) => DurableFiles.use((files) => files.stat(path)).pipe(Effect.mapError(inspectFailed(path)))

const kindOf = (s: { isFile(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }) =>
  s.isFile()
    ? "a regular file"
    : s.isFIFO()
      ? "a FIFO"
      : s.isSocket()
        ? "a socket"
        : s.isCharacterDevice() || s.isBlockDevice()
          ? "a device"
          : "not a directory"

/** `path` when it exists, else its nearest existing ancestor (the file system a missing directory will be created on). */
export const existingAncestor = (path: string) =>
  Effect.gen(function* () {
    let p = path
    while ((yield* lstatOrUndefined(p)) === undefined && p !== dirname(p)) p = dirname(p)
    return p
  })

/** The device of the file system `path` is on, or will be created on (its nearest existing ancestor's, links followed). */
export const fileSystemOf = (path: string) =>
  existingAncestor(path).pipe(
    Effect.flatMap(followed),
    Effect.map((s) => s?.dev),
  )

const hostTree: TreeReader<RestorePreconditionFailed, DurableFiles> = {
  lstat: (path) => lstatOrUndefined(path).pipe(Effect.map((s) => (s === undefined ? undefined : treeEntryOfStats(s)))),
  readDirectory: (path) => DurableFiles.use((files) => files.readDirectory(path)).pipe(Effect.mapError(inspectFailed(path))),
}

/** What the files and directories under `path` take on disk (allocated blocks, what removing them frees); 0 when it does not exist. */
export const bytesOnDisk = (path: string) => treeSize(path, hostTree, allocatedBytes, { hardLinks: "once" })

/**
 * What a copy of `path` takes on another file system (cross-device-move.ts): a file's whole size in blocks, not only
 * its allocated ones, since the copy (copyFile: copy_file_range or sendfile) writes a sparse file's holes as zeros,
 * and a hard-linked file once per name.
 */
export const bytesToCopy = (path: string) => treeSize(path, hostTree, copiedBytes, { hardLinks: "each" })

/**
 * The room on each file system (by device) that what killed restores left takes: a real run removes it before its first
 * step, so a dry run counts it as free (in a real run, swept already, there is none).
 */
const leftoverRoom = (root: string) =>
  Effect.gen(function* () {
    const room = new Map<number, number>()
    for (const { path } of yield* findLeftovers(root).pipe(Effect.orElseSucceed((): ReadonlyArray<Leftover> => []))) {
      const dev = yield* fileSystemOf(posix.dirname(path))
      if (dev !== undefined) room.set(dev, (room.get(dev) ?? 0) + (yield* bytesOnDisk(path)))
    }
    return room
  })

/** What is missing on the file system of `on` for `bytes` (and `inodes`), and what to do; undefined when there is room. */
const shortfall = (on: string, usage: DiskUsage, bytes: number, inodes: number | undefined, freedBefore = 0, leftovers = 0): string | undefined => {
  if (usage.availableBytes + freedBefore + leftovers < bytes)
    return `only ${usage.availableBytes} bytes are available on the file system of ${on}${freedBefore === 0 ? "" : ` (${freedBefore} more once earlier steps moved their data off it)`}${leftovers === 0 ? "" : ` (${leftovers} more once what killed restores left is removed)`}; free ${bytes - freedBefore - leftovers - usage.availableBytes} bytes there and run the restore again`
  if (inodes !== undefined && usage.availableInodes !== undefined && usage.availableInodes < inodes)
    return `only ${usage.availableInodes} inodes are free on the file system of ${on}, ${inodes} are needed; remove files there (or give it more inodes) and run the restore again`
  return undefined
}

/**
 * The free space the steps need on each file system they share, together: each step's `FreeSpace`
 * is checked against what is free now, but steps writing to one file system (the snapshot's copy
 * in the kept-data directory, then etcdutl's output beside etcd's data) need the sum, or the
 * restore would stop half-way with etcd down. One check per file system more than one step writes to.
 */
export const freeSpaceTogether = (plan: HostSteps) =>
  Effect.gen(function* () {
    const shared = new Map<number, { readonly on: string; readonly paths: Array<string>; bytes: number; inodes: number; freedBefore: number }>()
    for (const p of plan.steps.flatMap((s) => s.preconditions)) {
      if (p._tag !== "FreeSpace") continue
      const on = yield* existingAncestor(p.path)
      const found = yield* followed(on)
      if (found === undefined) continue
      const group = shared.get(found.dev) ?? { on, paths: [], bytes: 0, inodes: 0, freedBefore: 0 }
      group.paths.push(p.path)
      group.bytes += p.bytes
      group.inodes += p.inodes ?? 0
      group.freedBefore += p.freedBefore ?? 0
      shared.set(found.dev, group)
    }
    const checks: Array<{ readonly what: string; readonly unmet: string | undefined }> = []
    const leftovers = yield* leftoverRoom(plan.root)
    for (const [dev, g] of shared.entries()) {
      if (g.paths.length < 2) continue
      const what = `${formatBytes(g.bytes)} free on the file system of ${g.paths.join(" and ")}, for the steps writing there together`
      const usage = yield* Effect.result(DiskSpace.use((d) => d.usage(g.on)))
      checks.push({
        what,
        unmet: Result.isFailure(usage)
          ? usage.failure.message
          : shortfall(g.on, usage.success, g.bytes, g.inodes || undefined, g.freedBefore, leftovers.get(dev)),
      })
    }
    return checks
  })

/** `dataDir` of the plan's host (etcd's data directory under the root). */
export const planDataDir = (plan: HostSteps) => `${plan.root === "/" ? "" : plan.root}/var/lib/etcd`

export const checkPrecondition = (p: Precondition, context: PreconditionContext) =>
  Effect.gen(function* () {
    const unmet = (found: string) => new RestorePreconditionFailed({ precondition: p._tag, message: `required: ${renderPrecondition(p)}; found: ${found}` })
    switch (p._tag) {
      case "BackupVerified":
        return yield* Effect.asVoid(context.backupVerified)
      case "EtcdutlSupports": {
        const plan = context.plan
        if (isStandDown(plan)) return yield* unmet("a stand-down runs no etcdutl")
        const supported = [...(plan.etcdutl.bumpRevision ? ["--bump-revision"] : []), ...(plan.etcdutl.markCompacted ? ["--mark-compacted"] : [])]
        const missing = p.flags.filter((f) => !supported.includes(f))
        if (missing.length > 0)
          return yield* unmet(
            `${plan.etcdutl.command} ${plan.etcdutl.version} has no ${missing.join(" or ")} (etcd 3.4 or older): use etcdutl 3.5 or newer, or --no-bump`,
          )
        return
      }
      case "PathExists":
        if ((yield* lstatOrUndefined(p.path)) === undefined) return yield* unmet("it does not exist")
        return
      case "PathAbsent":
        if ((yield* lstatOrUndefined(p.path)) !== undefined) return yield* unmet("it exists")
        return
      case "DirectoryEmpty": {
        const entries = yield* DurableFiles.use((files) => files.readDirectory(p.path)).pipe(
          Effect.catchIf(
            (e) => e.code === "ENOENT",
            () => Effect.succeed([]),
          ),
          Effect.mapError((e) => unmet(e.message)),
        )
        const others = entries.filter((n) => !p.ignoring.includes(n)).sort()
        if (others.length > 0) return yield* unmet(`it holds ${others.join(", ")}`)
        return
      }
      case "FreeSpace": {
        const on = yield* existingAncestor(p.path)
        const usage = yield* DiskSpace.use((d) => d.usage(on)).pipe(Effect.mapError((e) => unmet(e.message)))
        const dev = yield* fileSystemOf(on)
        const leftovers = dev === undefined ? 0 : (yield* leftoverRoom(context.plan.root)).get(dev)
        const short = shortfall(on, usage, p.bytes, p.inodes, p.freedBefore, leftovers)
        if (short !== undefined) return yield* unmet(short)
        return
      }
      case "IsDirectory": {
        const found = yield* lstatOrUndefined(p.path)
        if (found === undefined) return p.mayBeAbsent ? undefined : yield* unmet("it does not exist; create it (it is part of a control-plane host)")
        if (found.isDirectory()) return
        if (found.isSymbolicLink()) {
          if (!p.linkAllowed) {
            return yield* unmet(
              `it is a symbolic link: the restore writes into it and never follows links there; replace the link by the directory it points to (or restore with --root pointing at that tree)`,
            )
          }
          const target = yield* followed(p.path)
          if (target?.isDirectory() === true) return
          return yield* unmet(`it is a symbolic link to ${target === undefined ? "nothing" : "something that is not a directory"}; make it a directory`)
        }
        return yield* unmet(`it is ${kindOf(found)}, not a directory; move it away (the restore keeps its data in directories there)`)
      }
      case "EtcdStopped": {
        if ((yield* lstatOrUndefined(p.manifest)) !== undefined) return yield* unmet(`${p.manifest} is still in place, so the kubelet runs etcd`)
        const activity = yield* findActivity({
          what: "etcd",
          dataDir: planDataDir(context.plan),
          root: context.plan.root,
          programs: etcdPrograms,
          ports: p.ports,
        })
        if (activity.length > 0) return yield* unmet(activity.map(describeActivity).join("; "))
        return
      }
    }
  })

/**
 * Preconditions of later steps that already cannot hold, whatever the earlier steps do: a
 * directory that must be empty holds something no earlier step moves away, or a path that must
 * be absent exists and no earlier step moves it. Found before the first step, they refuse the
 * restore while nothing is changed, instead of stopping it half-way with etcd down.
 */
export const foreseeableFailures = (plan: HostPlan) =>
  Effect.gen(function* () {
    const failures: Array<{ readonly what: string; readonly message: string }> = readsAfterMoved(plan).map((r) => ({
      what: `step ${r.step} reads ${r.read}, which step ${r.movedBy} moves away (${r.moved})`,
      message: `the backup is inside ${r.moved}, which step ${r.movedBy} moves aside before step ${r.step} reads ${r.read}: copy the backup outside etcd's data and /etc/kubernetes (e.g. /home/core/backup) and restore from there`,
    }))
    // What killed restores left is removed before the first step (a dry run only lists it).
    const again = isStandDown(plan) ? "the stand-down" : "the restore"
    const movedAway: Array<string> = (yield* findLeftovers(plan.root).pipe(Effect.orElseSucceed((): ReadonlyArray<Leftover> => []))).map((l) => l.path)
    for (const [index, step] of plan.steps.entries()) {
      for (const p of step.preconditions) {
        const what = `step ${index + 1} ${step.id}: ${renderPrecondition(p)}`
        const before = `step ${index + 1} ${step.id} requires ${renderPrecondition(p)}`
        if (p._tag === "DirectoryEmpty") {
          const entries = yield* DurableFiles.use((files) => files.readDirectory(p.path)).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
          const left = entries.filter((n) => !p.ignoring.includes(n) && !movedAway.includes(`${p.path}/${n}`)).sort()
          if (left.length > 0) {
            failures.push({
              what,
              message: `${before}, but it holds ${left.join(", ")}, which no earlier step moves away: this restore did not make ${left.length === 1 ? "it" : "them"}; move ${left.length === 1 ? "it" : "them"} out of ${p.path} and run ${again} again`,
            })
          }
        }
        if (p._tag === "PathAbsent" && !movedAway.includes(p.path) && (yield* lstatOrUndefined(p.path)) !== undefined) {
          failures.push({
            what,
            message: `${before}, but it exists and no earlier step moves it away: move it elsewhere (or choose another ${isStandDown(plan) ? "--stand-down-id" : "--restore-id"}) and run ${again} again`,
          })
        }
      }
      for (const action of step.actions) if (action._tag === "Move") movedAway.push(action.from)
    }
    return failures
  })
