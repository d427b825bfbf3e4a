/**
 * A backup directory that backup-upload takes as it takes backup-create's: a snapshot of random
 * bytes of any size, a small random "tarball", a manifest describing both (otherwise the example
 * manifest), and backup-init's record of the snapshot with the file's identity, as the pod leaves
 * them. Written in 1 MiB chunks, so a 1 GiB backup costs no 1 GiB of memory.
 */
import { createHash, randomBytes } from "node:crypto"
import { closeSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { type BackupManifest, encodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import type { SnapshotRecord } from "../../src/programs/backup-dir/snapshot-record.ts"
import { exampleManifest } from "./example-manifest.ts"

const randomFile = (path: string, size: number) => {
  const hash = createHash("sha256")
  const fd = openSync(path, "w", 0o600)
  try {
    for (let at = 0; at < size; at += 1024 * 1024) {
      const chunk = randomBytes(Math.min(1024 * 1024, size - at))
      hash.update(chunk)
      writeSync(fd, chunk)
    }
  } finally {
    closeSync(fd)
  }
  return { size, sha256: hash.digest("hex") }
}

/** Writes the backup into `dir` (created if missing); its manifest. */
export const writeLargeBackup = (dir: string, snapshotBytes: number): BackupManifest => {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const { snapshot, resources } = exampleManifest.files
  const manifest: BackupManifest = {
    ...exampleManifest,
    files: {
      snapshot: { name: snapshot.name, ...randomFile(join(dir, snapshot.name), snapshotBytes) },
      resources: { name: resources.name, ...randomFile(join(dir, resources.name), 48 * 1024) },
    },
  }
  writeFileSync(join(dir, "backup-manifest.json"), encodeBackupManifest(manifest), { mode: 0o600 })
  const written = statSync(join(dir, snapshot.name), { bigint: true })
  const record: SnapshotRecord = {
    timestamp: manifest.timestamp,
    snapshotFile: snapshot.name,
    size: manifest.files.snapshot.size,
    sha256: manifest.files.snapshot.sha256,
    etcdRevision: manifest.etcd.revision,
    etcdRevisionUpperBound: manifest.etcd.revision,
    raftIndex: manifest.etcd.revision,
    memberDbSize: manifest.etcd.memberDbSize ?? snapshotBytes,
    memberId: "8e9e05c52164694d",
    etcdVersion: "3.5.16",
    endpoint: "https://etcd.openshift-etcd.svc:2379",
    operatorRevisions: manifest.revisions.requested,
    operatorRevisionReasons: {},
    pairing: "verified",
    pairingDetail: "operator revisions unchanged during the snapshot",
    file: { sha256: manifest.files.snapshot.sha256, inode: String(written.ino), mtimeNs: String(written.mtimeNs) },
  }
  mkdirSync(join(dir, ".cluster-backup"), { recursive: true, mode: 0o700 })
  writeFileSync(join(dir, ".cluster-backup", "snapshot.json"), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 })
  return manifest
}
