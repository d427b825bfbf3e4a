/**
 * Fake but well-formed backups for prune's tests: a snapshot and a resource tarball of chosen
 * sizes (their content is not etcd's nor a real tarball: prune never reads it) and, when asked,
 * a `backup-manifest.json` that decodes and names them with their sizes and sha256, plus the
 * `.cluster-backup/snapshot.json` record the backup pod leaves.
 */
import { createHash } from "node:crypto"
import { lutimesSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { backupFileNames } from "../../src/domain/archive-names.ts"
import { encodeBackupManifest, type BackupManifest } from "../../src/domain/backup-manifest.ts"

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex")
const requested = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }

export interface FakeBackupOptions {
  /** Write a manifest naming the two files (default true). */
  readonly manifest?: boolean
  readonly snapshotBytes?: number
  readonly resourcesBytes?: number
  /** Write `.cluster-backup/snapshot.json` naming this timestamp (default: with the manifest). */
  readonly record?: boolean
}

/** A manifest for backup `ts` whose two files have these contents. */
export const fakeManifest = (ts: string, snapshot: Buffer, resources: Buffer): string => {
  const names = backupFileNames(ts, false)
  const manifest: BackupManifest = {
    formatVersion: 2,
    tool: { name: "cluster-backup", version: "0.0.0-test" },
    timestamp: ts,
    createdAt: `${ts.slice(0, 10)}T${ts.slice(11, 13)}:${ts.slice(13, 15)}:${ts.slice(15, 17)}Z`,
    revisions: { requested, inSnapshot: { ...requested } },
    etcd: { revision: 1000, memberDbSize: snapshot.length },
    files: {
      snapshot: { name: names.snapshot, size: snapshot.length, sha256: sha256(snapshot) },
      resources: { name: names.resources, size: resources.length, sha256: sha256(resources) },
    },
    entries: [{ path: "static-pod-resources/etcd-pod-3/etcd-pod.yaml", size: 10, mode: 0o600, sha256: "c".repeat(64) }],
    skippedOptional: [],
    verdict: "consistent",
    reasons: [],
  }
  return encodeBackupManifest(manifest)
}

/** Writes backup `ts` into `dir` (created if missing); returns the paths of its two files. */
export const writeFakeBackup = (dir: string, ts: string, options: FakeBackupOptions = {}) => {
  mkdirSync(dir, { recursive: true })
  const names = backupFileNames(ts, false)
  const snapshot = Buffer.alloc(options.snapshotBytes ?? 100, `s${ts}`)
  const resources = Buffer.alloc(options.resourcesBytes ?? 10, `r${ts}`)
  writeFileSync(join(dir, names.snapshot), snapshot, { mode: 0o600 })
  writeFileSync(join(dir, names.resources), resources, { mode: 0o600 })
  const withManifest = options.manifest ?? true
  if (withManifest) writeFileSync(join(dir, "backup-manifest.json"), fakeManifest(ts, snapshot, resources), { mode: 0o600 })
  if (options.record ?? withManifest) {
    mkdirSync(join(dir, ".cluster-backup"), { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, ".cluster-backup", "snapshot.json"), `${JSON.stringify({ timestamp: ts }, null, 2)}\n`, { mode: 0o600 })
  }
  return { snapshot: join(dir, names.snapshot), resources: join(dir, names.resources) }
}

/** What a killed backup-resources or backup-create leaves: decoded Secrets in the staging area, and its records. */
export const writeStagingLeftovers = (dir: string, files = 3) => {
  const tree = join(dir, ".cluster-backup", "staging", "static-pod-resources", "kube-apiserver-pod-7", "secrets", "service-account-key")
  mkdirSync(tree, { recursive: true, mode: 0o700 })
  for (let i = 0; i < files; i++) writeFileSync(join(tree, `key-${i}.pem`), "-----BEGIN PRIVATE KEY-----\n", { mode: 0o600 })
  writeFileSync(join(dir, ".cluster-backup", "resources-kube-apiserver.json"), "{}\n", { mode: 0o600 })
}

/** Sets the modification time of `root` and of everything under it (links themselves, never followed): backups made long ago. */
export const setTreeMtime = (root: string, atMs: number) => {
  for (const p of readdirSync(root, { recursive: true, encoding: "utf8" })) lutimesSync(join(root, p), atMs / 1000, atMs / 1000)
  lutimesSync(root, atMs / 1000, atMs / 1000)
}
