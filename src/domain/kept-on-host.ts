/**
 * What `restore` and `stand-down` kept on a host instead of deleting it (README: "What the recovery
 * keeps on each host"), and what `prune-host` may remove of it: only entries these commands name
 * (a regular file or a directory, never a link), only once the host runs its control plane again,
 * and only those kept longer than `--older-than`. The two records that guard a recovery
 * (`restored-member.json`, `stood-down.json`) are never among them.
 */
import { posix } from "node:path"
import { formatBytes } from "./byte-format.ts"
import { formatDuration } from "./durations.ts"
import { type OperandTable, operandList } from "./operands.ts"
import { baseOrWithRunId, hostLayout, isKeptRevisionJsonName, isSnapshotCopyName, restoreIdPattern } from "./host-layout.ts"
import { formatRfc3339Utc } from "./rfc3339.ts"
import { isLayoutSegment } from "./store-layout.ts"

export const keptKinds = {
  OldMember: "etcd's member as it was before a restore or stand-down",
  OldRevisionJson: "revision.json of that member",
  FailedRestoreOutput: "etcdutl's output of an interrupted restore",
  SnapshotCopy: "the snapshot a restore restored",
  StoppedManifest: "a static pod manifest that ran before a restore or stand-down",
  ReplacedResources: "the static pod resources a restore replaced",
  RestoredResources: "the static pod resources of a restore step that was undone",
  Download: "a backup downloaded from a store for a restore",
} as const
export type KeptKind = keyof typeof keptKinds

/** Where a restore downloads a store's backup (`--backup-id`), one directory per backup id. */
export const downloadsDir = posix.join(hostLayout.keptDataDir, "downloads")

const withRunId = (prefix: string, name: string) => name.startsWith(prefix) && restoreIdPattern.test(name.slice(prefix.length))

export type EntryType = "File" | "Directory" | "Other"

interface KeptPlace {
  readonly dir: string
  readonly kind: KeptKind
  readonly type: Exclude<EntryType, "Other">
  readonly named: (name: string) => boolean
}

const keptPlaces = (table: OperandTable): ReadonlyArray<KeptPlace> => {
  const manifests = operandList(table).map((o) => `${o.podConfigMap}.yaml`)
  return [
    { dir: hostLayout.keptDataDir, kind: "OldMember", type: "Directory", named: (n) => baseOrWithRunId("member", n) },
    { dir: hostLayout.keptDataDir, kind: "OldRevisionJson", type: "File", named: isKeptRevisionJsonName },
    {
      dir: hostLayout.keptDataDir,
      kind: "FailedRestoreOutput",
      type: "Directory",
      named: (n) => {
        const [id, runId, ...rest] = n.slice("failed-restore-".length).split(".")
        return n.startsWith("failed-restore-") && restoreIdPattern.test(id ?? "") && (runId === undefined || restoreIdPattern.test(runId)) && rest.length === 0
      },
    },
    { dir: hostLayout.keptDataDir, kind: "SnapshotCopy", type: "File", named: isSnapshotCopyName },
    { dir: hostLayout.stoppedManifestsDir, kind: "StoppedManifest", type: "File", named: (n) => manifests.some((m) => baseOrWithRunId(m, n)) },
    { dir: hostLayout.configDir, kind: "ReplacedResources", type: "Directory", named: (n) => withRunId("static-pod-resources-replaced-by-restore-", n) },
    { dir: hostLayout.configDir, kind: "RestoredResources", type: "Directory", named: (n) => withRunId("static-pod-resources-restored-by-restore-", n) },
    // Named by its backup id; hidden names are the downloads' own working files.
    { dir: downloadsDir, kind: "Download", type: "Directory", named: (n) => isLayoutSegment(n) && !n.startsWith(".") && !n.endsWith(".lock") },
  ]
}

/** The host directories (without the root) that hold what was kept. */
export const keptDirectories: ReadonlyArray<string> = [hostLayout.keptDataDir, downloadsDir, hostLayout.stoppedManifestsDir, hostLayout.configDir]

/**
 * `prune-host` renames an entry to this prefix and its name in the same directory before removing it,
 * so a kill mid-removal never leaves a half-removed member under a kept name: the next run of
 * `prune-host`, `restore` or `stand-down` removes what is left under this name.
 */
export const removingPrefix = ".cluster-backup-removing-"

/** What the entry `name` of the host directory `dir` is, if a restore or stand-down kept it there; a link or a special file never is. */
export const keptKindOf = (table: OperandTable, dir: string, name: string, type: EntryType): KeptKind | undefined =>
  keptPlaces(table).find((p) => p.dir === dir && p.type === type && p.named(name))?.kind

/** The host as it is now, for whether its control plane runs again (host paths, without the root). */
export interface HostServiceState {
  /** `/var/lib/etcd/member` is a directory. */
  readonly memberInPlace: boolean
  /** The operands' manifests absent from the kubelet's directory. */
  readonly missingManifests: ReadonlyArray<string>
  /** `restore-<id>` output directories of an interrupted restore in etcd's data directory. */
  readonly partialRestores: ReadonlyArray<string>
}

/** The manifests the host runs its control plane from (host paths). */
export const controlPlaneManifests = (table: OperandTable): ReadonlyArray<string> =>
  operandList(table).map((o) => posix.join(hostLayout.manifestsDir, `${o.podConfigMap}.yaml`))

/**
 * Why what was kept may still be needed: the host's control plane does not run from its own member and
 * manifests (a restore or stand-down has not finished, or the host has not rejoined), so a rerun, an undo
 * or a person may need the old member and manifests. Empty when the host runs again.
 */
export const stillNeededReasons = (state: HostServiceState): ReadonlyArray<string> => [
  ...(state.memberInPlace
    ? []
    : [`${posix.join(hostLayout.dataDir, "member")} is missing: etcd has no member on this host (stood down and not rejoined, or a restore not finished)`]),
  ...(state.missingManifests.length === 0
    ? []
    : [
        `${state.missingManifests.join(", ")} ${state.missingManifests.length === 1 ? "is" : "are"} missing: the static pods are stopped (a restore or stand-down not finished, or not redeployed since)`,
      ]),
  ...state.partialRestores.map((id) => `${posix.join(hostLayout.dataDir, `restore-${id}`)} is there: restore ${id} was interrupted; run it again to finish it`),
]

/** One kept entry as found (host path, without the root). */
export interface KeptItem {
  readonly path: string
  readonly kind: KeptKind
  /** What removing it frees: its allocated blocks, less those of files with other names (a hard link's data stays until its last name goes). */
  readonly bytes: number
  /** Its ctime: set when it was moved or linked there, and by any later change, so never earlier than when it was kept. */
  readonly keptSinceMs: number
  /** Why it must stay regardless of age (a live run uses it). */
  readonly inUse?: string | undefined
}

export type PruneVerdict = { readonly _tag: "Remove" } | { readonly _tag: "Keep"; readonly why: string }

export interface PruneDecision {
  readonly item: KeptItem
  readonly verdict: PruneVerdict
}

/** Each item's verdict: removed once kept at least `olderThanMs` and used by no live run. */
export const decidePrune = (items: ReadonlyArray<KeptItem>, nowMs: number, olderThanMs: number): ReadonlyArray<PruneDecision> =>
  [...items]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((item): PruneDecision => {
      if (item.inUse !== undefined) return { item, verdict: { _tag: "Keep", why: item.inUse } }
      const age = nowMs - item.keptSinceMs
      return age >= olderThanMs
        ? { item, verdict: { _tag: "Remove" } }
        : {
            item,
            verdict: { _tag: "Keep", why: `kept ${formatDuration(Math.max(0, Math.floor(age)))} ago, less than --older-than ${formatDuration(olderThanMs)}` },
          }
    })

const sum = (decisions: ReadonlyArray<PruneDecision>) => decisions.reduce((total, d) => total + d.item.bytes, 0)

/** The listing both runs print: each item, what it is, its size, since when, and what happens to it. */
export const renderPruneDecisions = (root: string, decisions: ReadonlyArray<PruneDecision>, dryRun: boolean): string => {
  if (decisions.length === 0) return `Nothing kept by a restore or stand-down under ${root}.\n`
  const removed = decisions.filter((d) => d.verdict._tag === "Remove")
  const kept = decisions.filter((d) => d.verdict._tag === "Keep")
  const lines = [
    `Kept by restores and stand-downs under ${root}: ${decisions.length} (${formatBytes(sum(decisions))})`,
    ...decisions.map(({ item, verdict }) =>
      [
        `  ${verdict._tag === "Remove" ? (dryRun ? "would remove" : "remove") : "keep"}  ${item.path}`,
        `    ${keptKinds[item.kind]}; ${formatBytes(item.bytes)}; kept since ${formatRfc3339Utc(Math.floor(item.keptSinceMs / 1000) * 1000)}${verdict._tag === "Keep" ? `; stays: ${verdict.why}` : ""}`,
      ].join("\n"),
    ),
    `${dryRun ? "Would remove" : "Removing"} ${removed.length} (${formatBytes(sum(removed))} freed); keeping ${kept.length} (${formatBytes(sum(kept))}).`,
  ]
  return `${lines.join("\n")}\n`
}
