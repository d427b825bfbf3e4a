/**
 * `cluster-backup restore` and OpenShift versions (issue 18): the plan prints the backup's
 * versions and the host's release, read from its running kube-apiserver revision (the static pod
 * manifest's `revision` label, then that revision's pod ConfigMap `version` key); another z-stream
 * release is refused before any change unless --allow-version-mismatch; where the host's release
 * cannot be read, the plan says it could not compare. Fake backup, scripted etcdutl 3.5.16.
 */
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { encodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { fakeBackupForSuite, hostFiles, makeHostTree, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"
import { runCli } from "../support/run-cli.ts"

const restoreId = "5d2c0f4e-1a3b-4c5d-8e9f-0a1b2c3d4e5f"
const { work, backup } = fakeBackupForSuite("cli-restore-versions")
const runningRevision = 9
const versionFile = `/etc/kubernetes/static-pod-resources/kube-apiserver-pod-${runningRevision}/configmaps/kube-apiserver-pod/version`

/** A host whose kube-apiserver runs `hostVersion` (no version file: undefined), and a backup of OpenShift 4.16.3. */
const host = (hostVersion: string | undefined) => {
  const tree = makeHostTree(work, backup)
  const manifest = readManifest(tree.backupDir)
  writeFileSync(
    join(tree.backupDir, "backup-manifest.json"),
    encodeBackupManifest({ ...manifest, cluster: { openshiftVersion: "4.16.3", clusterId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", etcdVersion: "3.5.16" } }),
  )
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(tree.root, path)), { recursive: true })
    writeFileSync(join(tree.root, path), text)
  }
  write(
    hostFiles.otherManifest,
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  labels:\n    app: openshift-kube-apiserver\n    revision: "${runningRevision}"\n`,
  )
  if (hostVersion !== undefined) write(versionFile, hostVersion)
  const etcdutl = writeScriptedEtcdutl(join(tree.root, "usr/local/bin/etcdutl"))
  const args = (...more: Array<string>) => [
    "restore",
    tree.backupDir,
    "--root",
    tree.root,
    "--member-name",
    "master-0",
    "--restore-id",
    restoreId,
    "--etcdutl",
    etcdutl,
    ...more,
  ]
  return { ...tree, args }
}

const cli = (args: Array<string>) => runCli(args, { timeoutMs: 60_000 })
const backupLine = "  backup:     OpenShift 4.16.3, cluster ID 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0, etcd 3.5.16"

describe("cluster-backup restore: the OpenShift release of backup and host", () => {
  // Two runs of the command on a shared, busy machine.
  it("refuses a backup of another z-stream release before any change, dry run and real run", { timeout: 180_000 }, async () => {
    const h = host("4.16.5\n")
    const before = snapshotTree(h.root)
    const dry = await cli(h.args("--dry-run"))
    expect(dry.status).toBe(1)
    expect(dry.stdout).toContain(`${backupLine}\n  host:       OpenShift 4.16.5 (${versionFile})\n`)
    expect(dry.stdout).toContain(
      "check    the backup's OpenShift release is the host's (the same z-stream release): NOT MET (the backup is OpenShift 4.16.3 and the host runs 4.16.5 (another z-release of 4.16)",
    )
    expect(dry.stderr).toContain("--allow-version-mismatch overrides this at your own risk")
    const real = await cli(h.args())
    expect(real.status).toBe(1)
    expect(real.stderr).toContain("error: restore refused before any change: the backup is OpenShift 4.16.3 and the host runs 4.16.5")
    expect(snapshotTree(h.root)).toEqual(before)
  })

  it("--allow-version-mismatch lets it go ahead, saying so", async () => {
    const h = host("4.16.5\n")
    const dry = await cli(h.args("--dry-run", "--allow-version-mismatch"))
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toContain(
      "(another z-release of 4.16); OpenShift restores only a backup of the same z-stream release; going ahead because of --allow-version-mismatch: ok",
    )
  })

  it("passes the same release", async () => {
    const same = await cli(host("4.16.3\n").args("--dry-run"))
    expect(same.status, same.stderr).toBe(0)
    expect(same.stdout).toContain("check    backup and host are both OpenShift 4.16.3: ok")
  })

  it("reads the kube-apiserver manifest a restore that did not finish moved aside, while it is the only one there", { timeout: 120_000 }, async () => {
    const h = host("4.16.5\n")
    const stopped = join(h.root, "etc/kubernetes/manifests-stopped")
    mkdirSync(stopped, { recursive: true })
    renameSync(join(h.root, hostFiles.otherManifest), join(stopped, `kube-apiserver-pod.yaml.${restoreId}`))
    const rerun = await cli(h.args("--dry-run"))
    expect(rerun.status).toBe(1)
    expect(rerun.stdout).toContain(`${backupLine}\n  host:       OpenShift 4.16.5 (${versionFile})\n`)
    // A second copy (an earlier restore's): which one ran last cannot be told, so nothing is compared.
    copyFileSync(join(stopped, `kube-apiserver-pod.yaml.${restoreId}`), join(stopped, "kube-apiserver-pod.yaml"))
    const ambiguous = await cli(h.args("--dry-run"))
    expect(ambiguous.status, ambiguous.stderr).toBe(0)
    expect(ambiguous.stdout).toContain(
      `  host:       release unknown (/etc/kubernetes/manifests/kube-apiserver-pod.yaml does not exist, and /etc/kubernetes/manifests-stopped holds 2 copies of it (kube-apiserver-pod.yaml, kube-apiserver-pod.yaml.${restoreId}) from earlier restores)`,
    )
  })

  it("says it could not compare where the host's release cannot be read, and goes ahead", async () => {
    const unknown = await cli(host(undefined).args("--dry-run"))
    expect(unknown.status, unknown.stderr).toBe(0)
    expect(unknown.stdout).toContain(`  host:       release unknown (${versionFile} (of the running revision ${runningRevision}) does not exist)`)
    expect(unknown.stdout).toContain("check    could not compare versions: the host's release (not readable from its static-pod manifests) unknown")
  })
})
