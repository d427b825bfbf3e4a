/**
 * One good backup made by the backup pod's real programs (backup-init against a real etcd,
 * backup-resources on the OpenShift fixtures, backup-create), and a corpus of bad backups built
 * from it, each with the checks `verify` must fail and words its report must contain.
 */
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer, Result, Scope } from "effect"
import { parseBackupTimestamp } from "../../src/domain/archive-names.ts"
import { decodeBackupManifest, encodeBackupManifest, type BackupManifest } from "../../src/domain/backup-manifest.ts"
import { formatRevisionSet } from "../../src/domain/revisions.ts"
import { backupCreate } from "../../src/programs/backup/backup-create.ts"
import { backupInit } from "../../src/programs/backup/backup-init.ts"
import { restoreBackup, type RestoreOptions } from "../../src/programs/restore/restore.ts"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { DurableFiles } from "../../src/services/durable-files.ts"
import { HostProcesses } from "../../src/services/host-processes.ts"
import type { EtcdConnection } from "../../src/services/etcd/etcd.ts"
import * as EtcdLive from "../../src/services/etcd/etcd-live.ts"
import { extractTarball, writeTarball } from "../../src/services/tarball/tarball.ts"
import { Tarball } from "../../src/services/tarball/tarball.ts"
import type { SnapshotStatus } from "../../src/services/etcdutl.ts"
import { beforeAll } from "vitest"
import { loadedCluster, revisions, stageAll, writeFakeSnapshot, type Loaded } from "../programs/backup/backup-resources-harness.ts"
import type { LocalEtcd } from "../../src/services/local-etcd.ts"
import { etcd3Client, putOperatorCrs, seedKeys, startTlsEtcd } from "./etcd-fixture.ts"
import { tempDir } from "./temp-dir.ts"

export { revisions }

/** Thousands of small keys and the four operator CRs at `revisions` (the fixture's). */
export const seedCluster = (connection: EtcdConnection, keys = 500, crRevisions: Readonly<Record<string, number | undefined>> = revisions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* etcd3Client(connection)
      yield* seedKeys(client, keys, 64)
      return yield* putOperatorCrs(client, crRevisions)
    }),
  )

/** backup-init, backup-resources for the four operands, backup-create: a complete backup in `backupDir`. */
export const makeBackup = (backupDir: string, connection: EtcdConnection, loaded: Loaded, set = revisions) =>
  Effect.gen(function* () {
    yield* backupInit({ backupDir }).pipe(Effect.provide(Layer.mergeAll(EtcdLive.live(connection).pipe(Layer.orDie), DiskSpace.live)))
    yield* stageAll(backupDir, loaded.cluster, set)
    return yield* backupCreate({ backupDir, revisions: set, toolVersion: "0.0.0-test" }).pipe(Effect.provide(Tarball.live))
  }).pipe(Effect.provide(NodeServices.layer))

export const readManifest = (backupDir: string): BackupManifest => {
  const decoded = decodeBackupManifest(readFileSync(join(backupDir, "backup-manifest.json"), "utf8"))
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

const writeManifest = (backupDir: string, manifest: BackupManifest) =>
  writeFileSync(join(backupDir, "backup-manifest.json"), encodeBackupManifest(manifest), { mode: 0o600 })

/** A copy of a backup directory (the `.cluster-backup` dotdir included). */
export const copyBackup = (from: string, to: string) => {
  cpSync(from, to, { recursive: true })
  return to
}

const fileOf = (backupDir: string, kind: "snapshot" | "resources") => join(backupDir, readManifest(backupDir).files[kind].name)

const flipByte = (file: string, at: (size: number) => number) => {
  const bytes = readFileSync(file)
  const i = at(bytes.length)
  bytes[i] = bytes[i]! ^ 0xff
  writeFileSync(file, bytes)
}

/** Rebuilds the tarball with the writer after `change` edited its extracted tree; the manifest gets the new file's size and sha256, so only the content is wrong. */
const rebuildTarball = (backupDir: string, change: (tree: string) => void) =>
  Effect.gen(function* () {
    const manifest = readManifest(backupDir)
    const archive = join(backupDir, manifest.files.resources.name)
    const work = mkdtempSync(join(tmpdir(), "cb-rebuild-"))
    try {
      yield* extractTarball({ archive, target: work })
      change(work)
      rmSync(archive)
      const written = yield* writeTarball({ source: work, destination: archive, mtime: parseBackupTimestamp(manifest.timestamp) })
      writeManifest(backupDir, {
        ...manifest,
        files: { ...manifest.files, resources: { ...manifest.files.resources, size: written.bytes, sha256: written.sha256 } },
      })
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  })

/** A check `verify` must fail, and words its `found` must contain. */
export interface ExpectedFailure {
  readonly id: string
  readonly found: string | RegExp
}

export interface BadBackup {
  readonly name: string
  /** Turns a copy of the good backup into the bad one. */
  readonly spoil: (backupDir: string) => Effect.Effect<void, unknown>
  /** Checks that must fail (others may fail too). */
  readonly failing: ReadonlyArray<ExpectedFailure>
}

const sync = (f: (backupDir: string) => void) => (backupDir: string) => Effect.sync(() => f(backupDir))

export const badBackups: ReadonlyArray<BadBackup> = [
  {
    name: "a flipped byte in the snapshot",
    spoil: sync((dir) => flipByte(fileOf(dir, "snapshot"), (size) => Math.floor(size / 2))),
    failing: [
      { id: "snapshot-trailer", found: /the snapshot was cut, altered, or has no trailer/ },
      { id: "snapshot-sha256", found: /^[0-9a-f]{64}$/ },
    ],
  },
  {
    name: "a truncated snapshot",
    spoil: sync((dir) => {
      const file = fileOf(dir, "snapshot")
      truncateSync(file, Math.floor(readFileSync(file).length / 3))
    }),
    failing: [
      { id: "snapshot-size", found: /bytes$/ },
      { id: "snapshot-trailer", found: /cut, altered, or has no trailer/ },
      { id: "snapshot-sha256", found: /^[0-9a-f]{64}$/ },
    ],
  },
  {
    name: "a snapshot with its trailer stripped",
    spoil: sync((dir) => {
      const file = fileOf(dir, "snapshot")
      truncateSync(file, readFileSync(file).length - 32)
    }),
    failing: [
      { id: "snapshot-trailer", found: /has no trailer/ },
      { id: "snapshot-size", found: /bytes$/ },
      { id: "snapshot-db-size", found: "the file is exactly the database, etcd's sha256 trailer is missing" },
    ],
  },
  {
    name: "a tarball whose sha256 is not the manifest's",
    spoil: sync((dir) => {
      const manifest = readManifest(dir)
      writeManifest(dir, { ...manifest, files: { ...manifest.files, resources: { ...manifest.files.resources, sha256: "0".repeat(64) } } })
    }),
    failing: [{ id: "tarball-sha256", found: /^[0-9a-f]{64}$/ }],
  },
  {
    name: "a corrupted gzip stream in the tarball",
    spoil: sync((dir) => flipByte(fileOf(dir, "resources"), (size) => Math.floor(size / 2))),
    failing: [
      { id: "tarball-sha256", found: /^[0-9a-f]{64}$/ },
      { id: "tarball-readable", found: /gzip|checksum|header|truncated/ },
    ],
  },
  {
    name: "an extra operand directory in the tarball",
    spoil: (dir) =>
      rebuildTarball(dir, (tree) => {
        const extra = join(tree, "static-pod-resources", "etcd-pod-2")
        cpSync(join(tree, "static-pod-resources", `etcd-pod-${revisions.etcd}`), extra, { recursive: true })
      }),
    failing: [
      { id: "tarball-operands", found: `extra directory static-pod-resources/etcd-pod-2 (not an operand directory of ${formatRevisionSet(revisions)})` },
    ],
  },
  {
    name: "a missing operand directory in the tarball",
    spoil: (dir) =>
      rebuildTarball(dir, (tree) => rmSync(join(tree, "static-pod-resources", `kube-scheduler-pod-${revisions["kube-scheduler"]}`), { recursive: true })),
    failing: [
      { id: "tarball-operands", found: `missing directory static-pod-resources/kube-scheduler-pod-${revisions["kube-scheduler"]}` },
      { id: "tarball-entries", found: "is missing" },
    ],
  },
  {
    name: "a manifest that does not parse",
    spoil: sync((dir) => writeFileSync(join(dir, "backup-manifest.json"), readFileSync(join(dir, "backup-manifest.json"), "utf8").slice(0, 200))),
    failing: [{ id: "manifest", found: /backup manifest: the document is not JSON/ }],
  },
]

/** Names of the files of a backup directory (without the dotdir). */
export const backupFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort()

export interface SharedEtcd {
  readonly member: LocalEtcd
  readonly workDir: string
  readonly close: () => Promise<void>
}

/** A TLS etcd member for a test file (beforeAll/afterAll), seeded with keys and the operator CRs at `revisions`. */
export const startSharedEtcd = async (prefix: string, keys = 500): Promise<SharedEtcd> => {
  const scope = await Effect.runPromise(Scope.make())
  try {
    const started = await Effect.runPromise(startTlsEtcd(prefix).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer)))
    await Effect.runPromise(seedCluster(started.member.connection, keys))
    return { member: started.member, workDir: started.workDir, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  } catch (e) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// Backups without etcd, and control-plane hosts under a root, for restore tests

/** A deterministic backup (timestamp `2026-01-02_030405`) whose snapshot is 64 KiB of fake database bytes with etcd's trailer: for tests that script etcdutl. */
export const makeFakeBackup = (backupDir: string, loaded: Loaded, set = revisions, snapshotDbBytes?: number) =>
  Effect.gen(function* () {
    yield* stageAll(backupDir, loaded.cluster, set)
    yield* writeFakeSnapshot(backupDir, set, undefined, snapshotDbBytes)
    return yield* backupCreate({ backupDir, revisions: set, toolVersion: "0.0.0-test" }).pipe(Effect.provide(Tarball.live))
  }).pipe(Effect.provide(NodeServices.layer))

/**
 * For a test file, declared at its top level or in a `describe` body: a temporary directory
 * (`work`, removed after the suite's tests) whose `backup/` holds the fake backup, made before the
 * suite's tests run.
 */
export const fakeBackupForSuite = (prefix: string): { readonly work: string; readonly backup: string } => {
  const work = tempDir(prefix)
  const backup = join(work, "backup")
  beforeAll(() => Effect.runPromise(makeFakeBackup(backup, loadedCluster())), 60_000)
  return { work, backup }
}

/** What `etcdutl snapshot status` says of the fake backup's snapshot, keyed by its path: for `Etcdutl.inMemory`. */
export const fakeSnapshotStatuses = (backupDir: string): Record<string, SnapshotStatus> => {
  const manifest = readManifest(backupDir)
  const status = { hash: 1, revision: manifest.etcd.revision, totalKey: 10, totalSize: manifest.files.snapshot.size - 32 }
  const dir = realpathSync(backupDir)
  return { [join(dir, manifest.files.snapshot.name)]: status }
}

export const hostFiles = {
  runningManifest: "etc/kubernetes/manifests/etcd-pod.yaml",
  otherManifest: "etc/kubernetes/manifests/kube-apiserver-pod.yaml",
  /** kube-apiserver's, kube-controller-manager's, kube-scheduler's: each holds `kind: Pod # <operand>`. */
  controlPlaneManifests: [
    "etc/kubernetes/manifests/kube-apiserver-pod.yaml",
    "etc/kubernetes/manifests/kube-controller-manager-pod.yaml",
    "etc/kubernetes/manifests/kube-scheduler-pod.yaml",
  ],
  oldRevision: `etc/kubernetes/static-pod-resources/etcd-pod-${revisions.etcd}/etcd-pod.yaml`,
  certs: "etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-certs/tls.crt",
  etcdEnv: "etc/kubernetes/static-pod-resources/etcd-certs/configmaps/etcd-scripts/etcd.env",
  oldDb: "var/lib/etcd/member/snap/db",
  revisionJson: "var/lib/etcd/revision.json",
} as const

/** The operand whose running pod a host tree's manifest is (`kube-apiserver` of `.../kube-apiserver-pod.yaml`). */
export const runningOperand = (manifest: string) => /([^/]+)-pod\.yaml$/.exec(manifest)![1]!

/**
 * Makes the host's /var/lib/etcd under `root` a file system of its own: its content moves to a new directory on
 * /dev/shm (a tmpfs on Linux, not the test's file system), which /var/lib/etcd then links to. Returns that directory
 * (remove it after).
 */
export const etcdOnDedicatedDisk = (root: string): string => {
  const disk = mkdtempSync("/dev/shm/cb-etcd-disk-")
  const dataDir = join(root, "var/lib/etcd")
  if (statSync(disk).dev === statSync(root).dev) throw new Error(`${disk} is on the test's file system: /dev/shm is no tmpfs here`)
  cpSync(dataDir, disk, { recursive: true })
  rmSync(dataDir, { recursive: true })
  symlinkSync(disk, dataDir)
  return disk
}

/** The four static pods a control-plane host runs, as their manifests are named. */
export const staticPods = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const

/**
 * A control-plane host other than the recovery host, under a fresh root (removed after the test): its four
 * static pods' manifests (`kind: Pod # <pod>`), etcd's member holding `db` and, when given, its revision.json.
 */
export const makeOtherHostTree = (prefix: string, db: string, revisionJson?: string): string => {
  const root = tempDir(prefix)
  const write = (relative: string, text: string) => {
    mkdirSync(dirname(join(root, relative)), { recursive: true })
    writeFileSync(join(root, relative), text, { mode: 0o600 })
  }
  for (const pod of staticPods) write(`etc/kubernetes/manifests/${pod}-pod.yaml`, `kind: Pod # ${pod}\n`)
  write("var/lib/etcd/member/snap/db", db)
  if (revisionJson !== undefined) write("var/lib/etcd/revision.json", revisionJson)
  return root
}

export interface HostTree {
  readonly root: string
  readonly backupDir: string
}

/**
 * A control-plane host under a fresh root: etcd running from its manifest with old data and a
 * `revision.json`, kube-apiserver, kube-controller-manager and kube-scheduler from theirs (maxRaftIndex 5000: bump 6000), an installed copy of the backup's etcd revision
 * (to be moved aside), unrelated files, OpenShift's etcd.env, and `backup` copied to
 * `<root>/home/core/backup`.
 */
export const makeHostTree = (parent: string, backup: string): HostTree => {
  const root = mkdtempSync(join(parent, "host-"))
  const write = (relative: string, text: string) => {
    mkdirSync(dirname(join(root, relative)), { recursive: true, mode: 0o755 })
    writeFileSync(join(root, relative), text, { mode: 0o600 })
  }
  write(hostFiles.runningManifest, "kind: Pod # the running etcd\n")
  for (const manifest of hostFiles.controlPlaneManifests) write(manifest, `kind: Pod # ${runningOperand(manifest)}\n`)
  write(hostFiles.oldRevision, "kind: Pod # installed before the disaster\n")
  write(hostFiles.certs, "certificate\n")
  write(hostFiles.etcdEnv, 'export NODE_master_0_ETCD_NAME="master-0"\nexport NODE_master_0_IP="10.0.0.5"\nexport NODE_master_1_IP="10.0.0.6"\n')
  write(hostFiles.oldDb, "old etcd data\n")
  write(
    hostFiles.revisionJson,
    '{"clusterId":"123","raftIndex":{"https://10.0.0.5:2380":4000,"https://10.0.0.6:2380":5000},"maxRaftIndex":5000,"created":"2024-05-01T10:00:00Z"}\n',
  )
  const backupDir = join(root, "home", "core", "backup")
  mkdirSync(dirname(backupDir), { recursive: true })
  copyBackup(backup, backupDir)
  return { root, backupDir }
}

/**
 * A stand-in `etcdutl` 3.5.16 for command-line tests of fake backups: `snapshot status` describes
 * any file as the fake backup's snapshot (revision 4242, its size less the trailer), `snapshot
 * restore` makes `<data-dir>/member/snap/db` from the snapshot. Written at `path` (mode 0755).
 */
export const writeScriptedEtcdutl = (path: string) => {
  mkdirSync(dirname(path), { recursive: true })
  const script = [
    "#!/bin/bash",
    'if [ "$1" = version ]; then echo "etcdutl version: 3.5.16"; echo "API version: 3.5"; exit 0; fi',
    'if [ "$1 $2 $3" = "snapshot restore --help" ]; then',
    '  printf "Usage: etcdutl snapshot restore <filename> [options]\\n      --bump-revision uint\\n      --data-dir string\\n      --mark-compacted\\n      --name string\\n"; exit 0',
    "fi",
    'if [ "$1 $2" = "snapshot status" ]; then size=$(stat -L -c %s "$3") || exit 1; echo "{\\"hash\\":1,\\"revision\\":4242,\\"totalKey\\":10,\\"totalSize\\":$((size - 32))}"; exit 0; fi',
    'if [ "$1 $2" = "snapshot restore" ]; then',
    '  snap="$3"; while [ $# -gt 0 ]; do if [ "$1" = --data-dir ]; then dir="$2"; fi; shift; done',
    '  mkdir -p "$dir/member/snap" && head -c -32 "$snap" > "$dir/member/snap/db"; exit $?',
    "fi",
    'echo "Error: unexpected arguments: $*" >&2; exit 2',
    "",
  ].join("\n")
  writeFileSync(path, script, { mode: 0o755 })
  return path
}

/** The restore on a host tree as the tests run it: member master-0, a fixed restore id, output collected. */
export const restoreOnHost = (
  host: HostTree,
  out: Array<string>,
  options: Partial<RestoreOptions> & { readonly restoreId: string },
  hostProcesses: Layer.Layer<HostProcesses> = HostProcesses.live,
) =>
  restoreBackup({
    backupDir: host.backupDir,
    root: host.root,
    dryRun: false,
    memberName: "master-0",
    noBump: false,
    output: (text) => Effect.sync(() => void out.push(text)),
    ...options,
  }).pipe(Effect.provide(Layer.mergeAll(DurableFiles.live, hostProcesses)))

/** The restore id `writeRestoredMemberRecord` records. */
export const recordedRestoreId = "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"

/**
 * A restore's record of the member it put in place, written by hand as `restore` writes it, naming etcd's
 * member directory under `root` as it is now (restore-<recordedRestoreId> of /home/core/backup). Returns its path.
 */
export const writeRestoredMemberRecord = (root: string, restoredAt = "2026-12-06T11:00:00Z"): string => {
  const member = lstatSync(join(root, "var/lib/etcd/member"), { bigint: true })
  const path = join(root, "var/lib/etcd-backup/restored-member.json")
  mkdirSync(dirname(path), { recursive: true })
  const record = {
    restoreId: recordedRestoreId,
    backup: "/home/core/backup",
    restoredAt,
    member: { device: String(member.dev), inode: String(member.ino) },
  }
  writeFileSync(path, JSON.stringify(record))
  return path
}
