/**
 * `cluster-backup restore` on a control-plane host simulated under a temporary root (shown as
 * `/host` in the golden text), with the deterministic fake backup and a scripted etcdutl 3.5.16
 * inside the root: `--dry-run` prints exactly the golden plan (fixed restore id) and changes
 * nothing; the real run then performs exactly the steps and actions it printed; refusals exit
 * non-zero with their reason. (The same comparison with the real etcdutl and a real snapshot is
 * in test/programs/restore.test.ts and the end-to-end test.)
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { fakeBackupForSuite, hostFiles, makeHostTree, readManifest, writeScriptedEtcdutl, type HostTree } from "../support/bad-backups.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"
import { runCli } from "../support/run-cli.ts"

const restoreId = "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"
const goldenFile = new URL("./restore-command.golden.txt", import.meta.url)

const cli = (...args: Array<string>) => runCli(args, { timeoutMs: 60_000 })

const { work, backup } = fakeBackupForSuite("cli-restore")

const host = (): HostTree & { readonly etcdutl: string } => {
  const tree = makeHostTree(work, backup)
  return { ...tree, etcdutl: writeScriptedEtcdutl(join(tree.root, "usr/local/bin/etcdutl")) }
}

const restoreArgs = (h: ReturnType<typeof host>, ...more: Array<string>) => [
  "restore",
  h.backupDir,
  "--root",
  h.root,
  "--member-name",
  "master-0",
  "--restore-id",
  restoreId,
  "--etcdutl",
  h.etcdutl,
  ...more,
]

describe("cluster-backup restore", () => {
  it("on a --root that is no control-plane host's (no etc/kubernetes), the dry run and the real run exit 1 saying so and change nothing", async () => {
    const h = host()
    rmSync(join(h.root, "etc/kubernetes"), { recursive: true })
    const before = snapshotTree(h.root)
    for (const run of [await cli(...restoreArgs(h, "--dry-run")), await cli(...restoreArgs(h))]) {
      expect(run.status).toBe(1)
      expect(run.stderr).toContain(
        `error: --root ${h.root} is not a control-plane host's root: ${h.root}/etc/kubernetes does not exist; --root must be the host's /`,
      )
    }
    expect(snapshotTree(h.root)).toEqual(before)
  })

  it("given the directory above the backup: refused before any change, naming the backup below it", async () => {
    const h = host()
    const before = snapshotTree(h.root)
    const [, , ...rest] = restoreArgs(h, "--dry-run")
    const run = await cli("restore", dirname(h.backupDir), ...rest)
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain(`backups lie below it, in ${basename(h.backupDir)}/: give one of those directories [RestoreInputInvalid]`)
    expect(snapshotTree(h.root)).toEqual(before)
  })

  it("--dry-run prints the golden plan and changes nothing; the real run performs exactly the steps and actions it printed", async () => {
    const h = host()
    const before = snapshotTree(h.root)
    const dry = await cli(...restoreArgs(h, "--dry-run"))
    expect(dry.status, dry.stderr).toBe(0)
    const text = dry.stdout.replaceAll(h.root, "/host")
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(goldenFile, text)
    expect(text).toBe(readFileSync(goldenFile, "utf8"))
    expect(snapshotTree(h.root)).toEqual(before)

    const real = await cli(...restoreArgs(h))
    expect(real.status, real.stderr + real.stdout).toBe(0)
    const plannedSteps = [...dry.stdout.matchAll(/^ ?\d+\. ([a-z-]+): /gm)].map((m) => m[1])
    const ranSteps = [...real.stdout.matchAll(/^\[\d+\/\d+\] ([a-z-]+): /gm)].map((m) => m[1])
    expect(ranSteps).toEqual(plannedSteps)
    expect(ranSteps).toHaveLength(13)
    // Every action line of the dry run (the first line of each), printed in the same order as it ran.
    const plannedActions = dry.stdout.split("\n").filter((l) => /^ {4}(run|mkdir|move|copy|extract|wait|rmdir|record) /.test(l))
    const printed = real.stdout.split("\n")
    let at = 0
    for (const line of plannedActions) {
      const found = printed.indexOf(line, at)
      expect(found, line).toBeGreaterThanOrEqual(at)
      at = found + 1
    }
    expect(real.stdout).toContain(`Restore restore-${restoreId} complete: 13 steps ran.`)
    expect(readdirSync(join(h.root, "var/lib/etcd"))).toEqual(["member"])
    expect(readFileSync(join(h.root, hostFiles.runningManifest), "utf8")).toContain("etcd")
    expect(existsSync(join(h.root, "etc/kubernetes/manifests-stopped/etcd-pod.yaml"))).toBe(true)
  })

  it("after a stand-down of this host, exits 1 naming --even-after-stand-down, changes nothing, and restores with it", async () => {
    const h = host()
    const stood = await cli("stand-down", "--root", h.root)
    expect(stood.status, stood.stderr).toBe(0)
    const before = snapshotTree(h.root)
    const refused = await cli(...restoreArgs(h))
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/error: restore refused before any change: .*this host was stood down \(stand-down-/)
    expect(refused.stderr).toContain("pass --even-after-stand-down")
    expect(snapshotTree(h.root)).toEqual(before)
    const real = await cli(...restoreArgs(h, "--even-after-stand-down"))
    expect(real.status, real.stderr).toBe(0)
    expect(readdirSync(join(h.root, "var/lib/etcd"))).toEqual(["member"])
  })

  it("--dry-run exits non-zero for a backup that does not verify, saying which checks failed, and changes nothing", async () => {
    const h = host()
    const manifest = readManifest(h.backupDir)
    const snapshot = join(h.backupDir, manifest.files.snapshot.name)
    const bytes = readFileSync(snapshot)
    bytes[100] = bytes[100]! ^ 0x01
    writeFileSync(snapshot, bytes)
    const before = snapshotTree(h.root)
    const dry = await cli(...restoreArgs(h, "--dry-run"))
    expect(dry.status).toBe(1)
    expect(dry.stdout).toMatch(/check {4}the backup verifies \(.*\): NOT MET \(the backup does not verify: snapshot-trailer FAIL/)
    expect(dry.stdout).toContain("Dry run: a real run would refuse before any change")
    expect(dry.stderr).toContain("error: dry run: a real restore would be refused before any change: the backup does not verify: snapshot-trailer FAIL")
    expect(snapshotTree(h.root)).toEqual(before)
  })

  it("exits non-zero with the reason when refused, and changes nothing", async () => {
    const h = host()
    writeFileSync(join(h.root, "var/lib/etcd/stray-file"), "left by someone\n")
    rmSync(join(h.root, "var/lib/etcd/revision.json"))
    const before = snapshotTree(h.root)
    const noMember = await cli("restore", h.backupDir, "--root", h.root, "--etcdutl", h.etcdutl)
    // A usage error (exit 2) before anything runs; before, exit 1 [RestoreInputInvalid] once the restore had started (with --backup-id, after the download).
    expect(noMember.status).toBe(2)
    expect(noMember.stderr).toContain(
      `Missing value for flag --member-name. Expected: this host's etcd member name (its node name), required with --root ${h.root}`,
    )
    const badId = await cli(...restoreArgs(h).map((a) => (a === restoreId ? "not-a-uuid" : a)))
    // A malformed id is a usage error, refused while the command line is parsed.
    expect(badId.status).toBe(2)
    expect(badId.stderr).toContain("--restore-id")
    expect(snapshotTree(h.root)).toEqual(before)
    // The stray file would keep the data directory from being empty: refused before etcd is stopped,
    // and the dry run says so too.
    const dry = await cli(...restoreArgs(h, "--dry-run"))
    expect(dry.status).toBe(1)
    expect(dry.stdout).toContain("Restore plan restore-")
    expect(dry.stdout).toMatch(/check {4}step 9 restore-snapshot: .*\/var\/lib\/etcd is empty \(lost\+found aside\): NOT MET \(/)
    expect(dry.stderr).toMatch(/error: dry run: a real restore would be refused before any change: step 9 restore-snapshot requires .* but it holds stray-file/)
    const stray = await cli(...restoreArgs(h))
    expect(stray.status).toBe(1)
    expect(stray.stderr).toMatch(
      /error: restore refused before any change: step 9 restore-snapshot requires .*\/var\/lib\/etcd is empty \(lost\+found aside\), but it holds stray-file, which no earlier step moves away: this restore did not make it; move it out of .*\/var\/lib\/etcd and run the restore again\. Nothing was changed\./,
    )
    expect(snapshotTree(h.root)).toEqual(before)
  })
})
