/**
 * `cluster-backup prune-host`: gives back the space of what `restore` and `stand-down` kept on this host
 * (the old member, stopped manifests, replaced resources, downloads...; `domain/kept-on-host.ts`), once
 * the host runs its control plane again and what was kept is older than `--older-than`.
 *
 * A real run holds the restore lock (no restore or stand-down runs meanwhile), sweeps what killed runs
 * left, then removes each entry by renaming it to a hidden name in its directory and removing that, so
 * a kill at any moment leaves every kept entry whole under its name or gone; the next run finishes the
 * removal. A download is removed under its own lock, and kept while a live restore holds it.
 */
import { posix } from "node:path"
import { Clock, Effect, Schema } from "effect"
import { formatBytes } from "../../domain/byte-format.ts"
import {
  controlPlaneManifests,
  decidePrune,
  type EntryType,
  type KeptItem,
  keptDirectories,
  keptKindOf,
  removingPrefix,
  renderPruneDecisions,
  stillNeededReasons,
} from "../../domain/kept-on-host.ts"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { type PruneHostReport, pruneHostReport, type RemovalOutcome } from "../../domain/prune-host-report.ts"
import { type PreflightCheck, renderPreflightCheck } from "../../domain/restore-plan-render.ts"
import { hostLayout } from "../../domain/host-layout.ts"
import { allocatedBytes } from "../../domain/tree-measure.ts"
import { DurableFiles } from "../../services/durable-files.ts"
import { acquireRunLock, inspectRunLock } from "../../services/run-lock.ts"
import { treeEntryOfStats, treeSize } from "../../services/tree-size.ts"
import { resolveRoot } from "../restore/restore-inputs.ts"
import { findPartialRestores, holdHostLock, namesIn } from "../restore/restore-leftovers.ts"
import { lockCheck, refusal } from "../restore/restore.ts"

export interface PruneHostOptions {
  readonly root: string
  readonly dryRun: boolean
  /** Remove only what was kept at least this long ago. */
  readonly olderThanMs: number
  readonly operands?: OperandTable | undefined
  readonly output: (text: string) => Effect.Effect<void>
  /** Given the run's report (`--json`) at its end, dry or real, refused or not. */
  readonly report?: ((report: PruneHostReport) => Effect.Effect<void>) | undefined
}

/** Some entries that were to go could not be removed; the others were. */
export class PruneHostIncomplete extends Schema.TaggedError<PruneHostIncomplete>()("PruneHostIncomplete", {
  failures: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String })),
  message: Schema.String,
}) {}

export interface PruneHostOutcome {
  /** Host paths removed (none for a dry run). */
  readonly removed: ReadonlyArray<string>
  /** What removing them freed. */
  readonly freedBytes: number
}

const entryType = (info: { isFile(): boolean; isDirectory(): boolean } | undefined): EntryType | undefined =>
  info === undefined ? undefined : info.isFile() ? "File" : info.isDirectory() ? "Directory" : "Other"

/** What removing `path` frees: a file with another name (the restored snapshot is often a hard link to the backup's) frees nothing. */
const freedByRemoving = (path: string) =>
  DurableFiles.use((files) =>
    treeSize(
      path,
      {
        lstat: (p) =>
          Effect.map(files.lstat(p), (s) => (s === undefined ? undefined : { ...treeEntryOfStats(s), ...(s.isFile() && s.nlink > 1 ? { blocks: 0 } : {}) })),
        readDirectory: files.readDirectory,
      },
      allocatedBytes,
      { hardLinks: "once" },
    ),
  )

/** A live restore that downloaded into `path` holds `<path>.lock` (services/owned-work-dir.ts). */
const downloadInUse = (path: string) =>
  Effect.map(inspectRunLock(`${path}.lock`), (state) =>
    state._tag === "Held" ? `a live run uses it: ${state.owner.command} (PID ${state.owner.pid}, started ${state.owner.startedAt})` : undefined,
  )

/** Everything a restore or stand-down kept under `root`. */
const findKept = (root: string, table: OperandTable) =>
  Effect.gen(function* () {
    const items: Array<KeptItem> = []
    for (const dir of keptDirectories) {
      for (const name of yield* namesIn(posix.join(root, dir))) {
        const path = posix.join(root, dir, name)
        const info = yield* DurableFiles.use((files) => files.lstat(path))
        const type = entryType(info)
        const kind = type === undefined ? undefined : keptKindOf(table, dir, name, type)
        if (info === undefined || kind === undefined) continue
        items.push({
          path: posix.join(dir, name),
          kind,
          bytes: yield* freedByRemoving(path),
          keptSinceMs: info.ctimeMs,
          inUse: kind === "Download" ? yield* downloadInUse(path) : undefined,
        })
      }
    }
    return items
  })

/** Whether the host runs its control plane again, as checks a dry run lists and a real run refuses on. */
const inServiceCheck = (root: string, table: OperandTable) =>
  Effect.gen(function* () {
    // Links followed, as etcd and the kubelet follow them: a dangling one is no member or manifest.
    const inspect = (path: string) => DurableFiles.use((files) => files.stat(posix.join(root, path)))
    const member = yield* inspect(posix.join(hostLayout.dataDir, "member"))
    const missingManifests: Array<string> = []
    for (const manifest of controlPlaneManifests(table)) if ((yield* inspect(manifest)) === undefined) missingManifests.push(manifest)
    const reasons = stillNeededReasons({
      memberInPlace: member?.isDirectory() === true,
      missingManifests,
      partialRestores: yield* findPartialRestores(root),
    })
    const what = "this host runs its control plane again (etcd's member and the static pod manifests in place, no restore interrupted)"
    const check: PreflightCheck =
      reasons.length === 0 ? { what } : { what, unmet: `${reasons.join("; ")}. What was kept may be needed to finish or undo that, so nothing is removed` }
    return check
  })

const unmet = (checks: ReadonlyArray<PreflightCheck>) => checks.flatMap((c) => (c.unmet === undefined ? [] : [c.unmet]))

/** Renames `path` (under `root`) to a hidden name beside it, then removes that: never half-removed under its kept name. */
const removeKept = (path: string) =>
  DurableFiles.use((files) =>
    Effect.gen(function* () {
      const hidden = posix.join(posix.dirname(path), `${removingPrefix}${posix.basename(path)}`)
      yield* files.move(path, hidden)
      yield* files.removeTree(hidden)
      yield* files.syncDirectory(posix.dirname(path))
    }),
  )

const survey = (options: PruneHostOptions, root: string) =>
  Effect.gen(function* () {
    const table = options.operands ?? defaultOperands
    const decisions = decidePrune(yield* findKept(root, table), yield* Clock.currentTimeMillis, options.olderThanMs)
    return { decisions, checks: [yield* inServiceCheck(root, table)] }
  })

const realRun = (options: PruneHostOptions, root: string) =>
  Effect.gen(function* () {
    const line = (text: string) => options.output(`${text}\n`)
    yield* holdHostLock(root, "cluster-backup prune-host", line)
    const { decisions, checks } = yield* survey(options, root)
    yield* options.output(renderPruneDecisions(root, decisions, false))
    for (const c of checks) yield* line(renderPreflightCheck(c))
    const report = (outcomes?: ReadonlyMap<string, RemovalOutcome>) =>
      options.report?.(pruneHostReport({ root, dryRun: false, olderThanMs: options.olderThanMs, refused: unmet(checks) }, decisions, outcomes)) ?? Effect.void
    const refused = refusal(checks, false, undefined, "prune-host")
    if (refused !== undefined) return yield* Effect.andThen(report(), refused)
    const outcomes = new Map<string, RemovalOutcome>()
    const removed: Array<string> = []
    const failures: Array<{ readonly path: string; readonly message: string }> = []
    let freedBytes = 0
    for (const { item, verdict } of decisions) {
      if (verdict._tag !== "Remove") continue
      const path = posix.join(root, item.path)
      const remove =
        item.kind === "Download"
          ? Effect.scoped(Effect.andThen(acquireRunLock(`${path}.lock`, "cluster-backup prune-host"), removeKept(path)))
          : removeKept(path)
      // One entry that cannot go (EPERM, EROFS...) does not keep the others: the run fails at its end, naming it.
      const outcome = yield* remove.pipe(
        Effect.as<RemovalOutcome>({ _tag: "Removed" }),
        Effect.catchTags({
          RunLockHeld: (e) => Effect.succeed<RemovalOutcome>({ _tag: "Held", why: e.message }),
          BackupFileError: (e) => Effect.succeed<RemovalOutcome>({ _tag: "Failed", why: e.message }),
          RunLockError: (e) => Effect.succeed<RemovalOutcome>({ _tag: "Failed", why: e.message }),
        }),
      )
      outcomes.set(item.path, outcome)
      if (outcome._tag === "Held") yield* line(`kept     ${item.path}: a restore took it meanwhile (${outcome.why})`)
      if (outcome._tag === "Failed") {
        failures.push({ path: item.path, message: outcome.why })
        yield* line(`FAILED   ${item.path}: ${outcome.why}`)
      }
      if (outcome._tag !== "Removed") continue
      removed.push(item.path)
      freedBytes += item.bytes
      yield* line(`removed  ${item.path} (${formatBytes(item.bytes)})`)
    }
    const summary = `removed ${removed.length} of ${decisions.length} kept entries, ${formatBytes(freedBytes)} freed`
    yield* report(outcomes)
    if (failures.length > 0)
      return yield* new PruneHostIncomplete({
        failures,
        message:
          `prune-host ${summary}, but could not remove ${failures.map((f) => `${f.path} (${f.message})`).join("; ")}. ` +
          `One that could not be moved stays whole under its name; one moved first is left beside it as ${removingPrefix}<name>, which the next prune-host, restore or stand-down tries again`,
      })
    yield* line(`prune-host: ${summary}.`)
    return { removed, freedBytes } satisfies PruneHostOutcome
  }).pipe(Effect.scoped)

export const pruneHost = Effect.fn("pruneHost")(function* (options: PruneHostOptions) {
  const root = yield* resolveRoot(options.root)
  if (!options.dryRun) return yield* realRun(options, root)
  const { decisions, checks: serviceChecks } = yield* survey(options, root)
  const checks = [...(yield* lockCheck(root)), ...serviceChecks]
  yield* options.output(`${renderPruneDecisions(root, decisions, true)}${checks.map((c) => `${renderPreflightCheck(c)}\n`).join("")}`)
  if (options.report !== undefined)
    yield* options.report(pruneHostReport({ root, dryRun: true, olderThanMs: options.olderThanMs, refused: unmet(checks) }, decisions))
  const refused = refusal(checks, true, undefined, "prune-host")
  if (refused !== undefined) return yield* refused
  return { removed: [], freedBytes: 0 } satisfies PruneHostOutcome
})
