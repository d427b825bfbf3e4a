/** What a restore and a stand-down are planned from: the backup, the binary, and the host as observed. */
import { isIP } from "node:net"
import { posix } from "node:path"
import { Schema } from "effect"
import { restoreIdPattern } from "./host-layout.ts"
import { RevisionSet } from "./revisions.ts"
import { RevisionBump } from "./revision-bump.ts"

const absolutePath = Schema.String.check(
  Schema.makeFilter((p: string) =>
    p.startsWith("/") && posix.normalize(p) === p && (p === "/" || !p.endsWith("/"))
      ? undefined
      : `expected a normalized absolute path, got ${JSON.stringify(p)}`,
  ),
)
const fileName = Schema.String.check(
  Schema.makeFilter((n: string) =>
    n !== "" && n !== "." && n !== ".." && !n.includes("/") && !n.includes("\u0000") ? undefined : `expected a plain file name, got ${JSON.stringify(n)}`,
  ),
)

/** What `etcdutl --help`/`version` revealed about the binary the restore will run. */
export const EtcdutlCapabilities = Schema.Struct({
  /** How to run it (a path or a name on PATH); not a host path the plan touches. */
  command: Schema.NonEmptyString,
  version: Schema.String,
  bumpRevision: Schema.Boolean,
  markCompacted: Schema.Boolean,
})
export type EtcdutlCapabilities = typeof EtcdutlCapabilities.Type

const RestoreId = Schema.String.check(Schema.isPattern(restoreIdPattern))

/** Sizes measured where etcd's data directory is a disk of its own (see `RestorePlanInput`). */
export const SeparateDataDisk = Schema.Struct({
  memberBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  partialRestoresBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  memberCopyBytes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  partialRestoresCopyBytes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
})

export const RestorePlanInput = Schema.Struct({
  /** Prefix of every host path (the host's `/` as mounted where the restore runs). */
  root: absolutePath,
  /** The backup directory, as a host path. */
  backupDir: absolutePath,
  snapshotFile: fileName,
  resourcesFile: fileName,
  /** The etcd member name of this host (its node name). */
  memberName: Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9]([-a-zA-Z0-9._]{0,251}[a-zA-Z0-9])?$/)),
  /** This host's IP: the member's peer URL is `https://<ip>:2380`. */
  nodeIp: Schema.String.check(Schema.makeFilter((ip: string) => (isIP(ip) === 0 ? `expected an IPv4 or IPv6 address, got ${JSON.stringify(ip)}` : undefined))),
  /** A fresh UUID: names the cluster token and the restore's directories. */
  restoreId: RestoreId,
  /** The revisions the backup holds (from its manifest). */
  revisions: RevisionSet,
  bump: RevisionBump,
  etcdutl: EtcdutlCapabilities,
  snapshotBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** What the tarball's files take once extracted (`treeFootprint`: whole blocks, a block per directory). */
  resourcesBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** The inodes they take (files and directories). */
  resourcesInodes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /**
   * Leave kube-apiserver, kube-controller-manager and kube-scheduler running (`cluster-restore.sh`
   * with ETCD_RESTORE_SKIP_MOVE_CP_STATIC_PODS): the restore then stops and starts only etcd.
   */
  keepControlPlaneRunning: Schema.optionalKey(Schema.Boolean),
  /** Host paths (without root) found to exist, among `pathsToObserve(...)`. */
  existing: Schema.Array(Schema.String),
  /**
   * A copy of this backup's snapshot an earlier, interrupted restore made in the kept-data
   * directory (host path, found to have the manifest's size and sha256): used instead of copying again.
   */
  snapshotCopy: Schema.optionalKey(absolutePath),
  /**
   * The copy of the snapshot will write none of its data: a reflink (tried, leaving nothing), or a hard link (observed: a
   * 0600 regular file of the restore's user on the kept-data directory's file system), so it needs no room there. A
   * tight disk in a disaster must not refuse a restore for room it will not use; a file changed before the step is
   * copied instead, and a copy short of room fails leaving no part.
   */
  snapshotCopyLinked: Schema.optionalKey(Schema.Boolean),
  /** Ids of the `/var/lib/etcd/restore-<id>` directories found (see `partialRestoreId`). */
  partialRestores: Schema.optionalKey(Schema.Array(RestoreId)),
  /**
   * Present when etcd's data directory is a file system of its own (a dedicated etcd disk), not
   * the kept-data directory's: what the plan moves from one to the other is copied, then removed.
   * The footprints (allocated blocks: what moving them off frees) of the old member and of the partial
   * restores' directories, and what their copies take in the kept-data directory (`...CopyBytes`: a copy
   * writes a sparse file's holes as zeros; the footprints when absent).
   */
  separateDataDisk: Schema.optionalKey(SeparateDataDisk),
})
export type RestorePlanInput = typeof RestorePlanInput.Type

export const decodeRestorePlanInput = Schema.decodeUnknownResult(RestorePlanInput, { errors: "all" })

/** A stand-down's input: the host as observed (`stopPathsToObserve`), as a restore's. */
export const StandDownInput = Schema.Struct({
  root: absolutePath,
  /** A fresh UUID: names what this run moves where an earlier run took the usual name. */
  standDownId: RestoreId,
  existing: Schema.Array(Schema.String),
  partialRestores: Schema.optionalKey(Schema.Array(RestoreId)),
  separateDataDisk: Schema.optionalKey(SeparateDataDisk),
})
export type StandDownInput = typeof StandDownInput.Type

export const decodeStandDownInput = Schema.decodeUnknownResult(StandDownInput, { errors: "all" })
