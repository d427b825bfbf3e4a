import { spawnSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { beforeEach, describe, expect, it } from "vitest"
import { setTreeMtime, writeFakeBackup, writeStagingLeftovers } from "../support/fake-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { cliEntry } from "../support/tools.ts"
import { tempDir } from "../support/temp-dir.ts"

let dir = ""
beforeEach(() => {
  dir = tempDir("prune")
})

const cli = (...args: Array<string>) => runCli(args)
const pair = (where: string, ts: string, suffix = "") => {
  writeFileSync(join(where, `snapshot_${ts}${suffix}.db`), "s".repeat(100))
  writeFileSync(join(where, `static_kuberesources_${ts}${suffix}.tar.gz`), "r".repeat(10))
}
const ls = (where: string) => readdirSync(where).sort()
/** Every path under `where`, relative, sorted (prune's own lock directory in the pruned directory aside). */
const tree = (where: string): Array<string> =>
  readdirSync(where, { recursive: true, encoding: "utf8" })
    .filter((p) => p !== ".cluster-backup")
    .sort()
/** A lock file naming a live owner (this test process) or a gone one. */
const lockOf = (backupDir: string, pid: number, command = "backup-init") => {
  mkdirSync(join(backupDir, ".cluster-backup"), { recursive: true })
  writeFileSync(
    join(backupDir, ".cluster-backup", "run.lock"),
    JSON.stringify({ pid, startTicks: null, host: hostname(), command, startedAt: "2026-01-01T00:00:00.000Z" }),
  )
}
/** Everything under `where` last modified two days ago: what a killed run left long ago, not a copy in progress. */
const twoDaysOld = (where: string) => setTreeMtime(where, Date.now() - 2 * 86_400_000)
const deadPid = () => spawnSync(process.execPath, ["-e", "0"]).pid!

// Each test runs the command one to three times: room for a loaded machine.
describe("cluster-backup prune", { timeout: 180_000 }, () => {
  it("keeps the newest N verified backups, removes older ones, unverified pairs and leftovers, across both layouts", async () => {
    pair(dir, "2026-01-01_000000")
    pair(dir, "2026-01-02_000000", "__POSSIBLY_DIRTY__")
    writeFileSync(join(dir, "snapshot_2026-01-03_000000.db.part"), "partial")
    for (const ts of ["2026-01-04_000000", "2026-01-05_000000", "2026-01-06_000000"]) writeFakeBackup(join(dir, `backup-${ts}`), ts)
    writeFileSync(join(dir, "notes.txt"), "not a backup")
    mkdirSync(join(dir, "unrelated"))
    // A copy in progress in a hidden directory: never looked at.
    mkdirSync(join(dir, ".incoming-b7"))
    writeFileSync(join(dir, ".incoming-b7", "snapshot_2026-01-07_000000.db"), "half a copy")
    twoDaysOld(dir)

    const dry = await cli("prune", dir, "--keep-last", "2", "--dry-run")
    expect(dry.status).toBe(0)
    expect(dry.stdout).toMatch(/^2 kept, 3 would be removed \(1\.\d KiB\); 1 leftover would be removed \(7 B\)$/m)
    expect(ls(dir)).toHaveLength(11)
    expect(existsSync(join(dir, ".cluster-backup"))).toBe(false)

    const real = await cli("prune", dir, "--keep-last", "2")
    expect(real.status).toBe(0)
    expect(real.stdout).toContain("2 kept, 3 removed")
    expect(ls(dir)).toEqual([".cluster-backup", ".incoming-b7", "backup-2026-01-05_000000", "backup-2026-01-06_000000", "notes.txt", "unrelated"])
    expect(ls(join(dir, ".incoming-b7"))).toEqual(["snapshot_2026-01-07_000000.db"])
    expect(real.stderr).toContain("unverified")
    expect(real.stderr).toContain("leftover snapshot_2026-01-03_000000.db.part")
    expect(ls(join(dir, ".cluster-backup"))).toEqual([])
  })

  it("a directory store's root given as a plain directory: nothing removed, and a warning names the backups below and the --prefix that prunes them", async () => {
    const store = join(dir, "cluster-backup", "abc")
    for (const ts of ["2026-01-04_000000", "2026-01-05_000000"]) writeFakeBackup(join(store, ts), ts)
    const before = tree(dir)
    const run = await cli("prune", dir, "--keep-last", "1")
    expect(run.status).toBe(0)
    expect(run.stderr).toContain(
      `no backup in ${dir} nor in a directory right below it; backups lie below it, in cluster-backup/abc/2026-01-04_000000/, cluster-backup/abc/2026-01-05_000000/: a directory store's backups: prune them as a store, with --prefix cluster-backup/abc`,
    )
    expect(tree(dir)).toEqual(before)
  })

  it("removes only a backup's own files from its subdirectory and keeps a user's file there, saying so (exit 0)", async () => {
    writeFakeBackup(join(dir, "old"), "2026-01-01_000000")
    writeFileSync(join(dir, "old", "NOTES.txt"), "why this backup was taken")
    writeFakeBackup(join(dir, "new"), "2026-01-02_000000")
    const dry = await cli("prune", dir, "--keep-last", "1", "--dry-run")
    expect(dry.stderr).toMatch(/would leave old\/: no backup is left in it, but it holds files prune does not own \(NOTES\.txt\)/)
    expect(dry.stdout).toContain("1 would be left in place")
    const run = await cli("prune", dir, "--keep-last", "1")
    expect(run.status).toBe(0)
    expect(ls(join(dir, "old"))).toEqual(["NOTES.txt"])
    expect(run.stderr).toMatch(/left old\/: no backup is left in it, but it holds files prune does not own \(NOTES\.txt\)/)
    expect(run.stdout).toContain("1 left in place")
    expect(ls(join(dir, "new"))).toEqual([
      ".cluster-backup",
      "backup-manifest.json",
      "snapshot_2026-01-02_000000.db",
      "static_kuberesources_2026-01-02_000000.tar.gz",
    ])
  })

  it("keeps a user's file inside .cluster-backup too, never follows a symbolic link, never opens a FIFO", async () => {
    const outside = tempDir("prune-outside")
    writeFakeBackup(join(outside, "victim"), "2026-01-01_000000")
    writeFakeBackup(join(dir, "old"), "2026-01-01_000000")
    writeFileSync(join(dir, "old", ".cluster-backup", "mine.txt"), "x")
    writeFakeBackup(join(dir, "new"), "2026-01-03_000000")
    spawnSync("ln", ["-s", join(outside, "victim"), join(dir, "linked")])
    mkdirSync(join(dir, "fifos"))
    for (const name of ["backup-manifest.json", "snapshot_2026-01-02_000000.db", "static_kuberesources_2026-01-02_000000.tar.gz"])
      spawnSync("mkfifo", [join(dir, "fifos", name)])
    mkdirSync(join(dir, "fifos", ".cluster-backup"))
    spawnSync("mkfifo", [join(dir, "fifos", ".cluster-backup", "snapshot.json")])
    const run = await runCli(["prune", dir, "--keep-last", "1"], { timeoutMs: 150_000 })
    expect(run.status).toBe(0)
    expect(tree(join(dir, "old"))).toEqual([".cluster-backup/mine.txt"])
    expect(ls(join(dir, "fifos"))).toHaveLength(4)
    expect(ls(join(outside, "victim"))).toHaveLength(4)
  })

  it("never removes the verified backup in favour of a newer loose pair without a manifest (flat layout, --keep-last 1)", async () => {
    writeFakeBackup(dir, "2026-01-01_000000")
    pair(dir, "2026-01-02_000000")
    const run = await cli("prune", dir, "--keep-last", "1")
    expect(run.status).toBe(0)
    expect(tree(dir)).toEqual([
      ".cluster-backup/snapshot.json",
      "backup-manifest.json",
      "snapshot_2026-01-01_000000.db",
      "static_kuberesources_2026-01-01_000000.tar.gz",
    ])
    expect(run.stderr).toContain("keep 2026-01-01_000000: the newest verified backup")
    expect(run.stderr).toMatch(/remove 2026-01-02_000000: unverified.*backup-manifest\.json describes backup 2026-01-01_000000, not this one/)
  })

  it("counts a backup whose files differ in size from its manifest as unverified", async () => {
    const { snapshot } = writeFakeBackup(join(dir, "a"), "2026-01-02_000000")
    writeFileSync(snapshot, "truncated")
    writeFakeBackup(join(dir, "b"), "2026-01-01_000000")
    twoDaysOld(dir)
    const run = await cli("prune", dir, "--keep-last", "1")
    expect(run.status).toBe(0)
    expect(existsSync(join(dir, "a"))).toBe(false)
    expect(ls(join(dir, "b"))).toHaveLength(4)
    expect(run.stderr).toMatch(/remove a\/: unverified.*gives snapshot_2026-01-02_000000\.db 100 bytes, the file has 9/)
  })

  it("finishes at once what a killed prune left under its stale locks, however young: a subdirectory holding only .cluster-backup, a flat group without its snapshot", async () => {
    writeFakeBackup(join(dir, "half"), "2026-01-01_000000")
    rmSync(join(dir, "half", "snapshot_2026-01-01_000000.db"))
    rmSync(join(dir, "half", "static_kuberesources_2026-01-01_000000.tar.gz"))
    rmSync(join(dir, "half", "backup-manifest.json"))
    mkdirSync(join(dir, "emptied", ".cluster-backup"), { recursive: true })
    pair(dir, "2026-01-02_000000")
    rmSync(join(dir, "snapshot_2026-01-02_000000.db"))
    writeFakeBackup(join(dir, "kept"), "2026-01-03_000000")
    // The killed prune's locks (the directory's, and the one of the subdirectory it was emptying), stale now.
    const killed = deadPid()
    lockOf(dir, killed, "prune")
    lockOf(join(dir, "half"), killed, "prune")
    const run = await cli("prune", dir, "--keep-last", "5")
    expect(run.status).toBe(0)
    expect(ls(dir)).toEqual([".cluster-backup", "kept"])
    expect(run.stderr).toContain("remains of backup 2026-01-02_000000 (its snapshot is missing)")
    expect(run.stderr).toContain("leftover half/")
  })

  it("removes leftovers of killed runs whatever the policy, after reporting them in a dry run", async () => {
    writeFakeBackup(join(dir, "b"), "2026-01-05_000000")
    writeStagingLeftovers(join(dir, "b"))
    writeFakeBackup(dir, "2026-01-04_000000")
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, `snapshot_2026-01-0${6 + i}_000000.db.part`), "p".repeat(1000))
    writeFileSync(join(dir, "backup-manifest.json.tmp-4242"), "{")
    writeFileSync(join(dir, ".cluster-backup", "snapshot.json.tmp-4242"), "{")
    mkdirSync(join(dir, ".cluster-backup", "building", "kube-apiserver-pod-7.abc"), { recursive: true })
    writeFileSync(join(dir, ".cluster-backup", "building", "kube-apiserver-pod-7.abc", "tls.key"), "secret")
    twoDaysOld(dir)

    const dry = await cli("prune", dir, "--keep-last", "100", "--dry-run")
    expect(dry.status).toBe(0)
    expect(dry.stdout).toContain("2 kept, 0 would be removed (0 B); 8 leftovers would be removed")
    expect(dry.stderr).toContain("would remove leftover b/.cluster-backup/staging")
    expect(ls(dir)).toContain("snapshot_2026-01-06_000000.db.part")

    const run = await cli("prune", dir, "--keep-last", "100")
    expect(run.status).toBe(0)
    expect(tree(dir)).toEqual(
      [
        "b",
        "b/.cluster-backup",
        "b/.cluster-backup/snapshot.json",
        "b/backup-manifest.json",
        "b/snapshot_2026-01-05_000000.db",
        "b/static_kuberesources_2026-01-05_000000.tar.gz",
        "backup-manifest.json",
        ".cluster-backup/snapshot.json",
        "snapshot_2026-01-04_000000.db",
        "static_kuberesources_2026-01-04_000000.tar.gz",
      ].sort(),
    )
    expect(run.stdout).toMatch(/8 leftovers removed \(3\.\d KiB\)/)
  })

  it("keeps a copy in progress written without the lock (oc cp: a snapshot and half a tarball, modified now) and says so; removes it when 2 days old or with --leftover-grace 0", async () => {
    writeFakeBackup(join(dir, "b1"), "2026-01-01_000000")
    writeFakeBackup(join(dir, "b2"), "2026-01-02_000000")
    twoDaysOld(dir)
    const copyIn = (sub: string) => {
      mkdirSync(join(dir, sub))
      writeFileSync(join(dir, sub, "snapshot_2026-01-03_000000.db"), "s".repeat(100))
      writeFileSync(join(dir, sub, "static_kuberesources_2026-01-03_000000.tar.gz"), "half a tarball")
    }
    copyIn("copy")
    // A directory store's upload in progress into the same directory: its tarball is still a .part.
    mkdirSync(join(dir, "upload"))
    writeFileSync(join(dir, "upload", "snapshot_2026-01-04_000000.db"), "s".repeat(100))
    writeFileSync(join(dir, "upload", "static_kuberesources_2026-01-04_000000.tar.gz.part"), "half an upload")
    const copied = ["snapshot_2026-01-03_000000.db", "static_kuberesources_2026-01-03_000000.tar.gz"]
    const kept = /may be a copy in progress; prune removes it after 24h or with --leftover-grace 0/

    const dry = await cli("prune", dir, "--keep-last", "1", "--dry-run")
    expect(dry.status).toBe(0)
    expect(dry.stderr).toMatch(
      /keep copy\/: kept: modified \d+ s ago, may be a copy in progress; prune removes it after 24h or with --leftover-grace 0 \[unverified: /,
    )
    const young = await cli("prune", dir, "--keep-last", "1")
    expect(young.status).toBe(0)
    expect(ls(join(dir, "copy"))).toEqual(copied)
    expect(ls(join(dir, "upload"))).toEqual(["snapshot_2026-01-04_000000.db", "static_kuberesources_2026-01-04_000000.tar.gz.part"])
    expect(ls(dir)).toEqual([".cluster-backup", "b2", "copy", "upload"])
    expect(young.stderr).toMatch(new RegExp(`keep copy/: kept: modified \\d+ s ago, ${kept.source}`))
    expect(young.stderr).toMatch(
      new RegExp(
        `keep leftover upload/ \\(.*\\): remains of backup 2026-01-04_000000 \\(its resource tarball is missing\\); kept: modified \\d+ s ago, ${kept.source}`,
      ),
    )
    expect(young.stdout).toContain("2 kept, 1 removed")
    expect(young.stdout).toContain("2 kept (a live run owns them or they may be a copy in progress: see the log)")

    setTreeMtime(join(dir, "copy"), Date.now() - 2 * 86_400_000)
    const old = await cli("prune", dir, "--keep-last", "1")
    expect(old.status).toBe(0)
    expect(ls(dir)).toEqual([".cluster-backup", "b2", "upload"])
    expect(old.stderr).toMatch(/remove copy\/: unverified/)

    const now = await cli("prune", dir, "--keep-last", "1", "--leftover-grace", "0")
    expect(now.status).toBe(0)
    expect(ls(dir)).toEqual([".cluster-backup", "b2"])
    expect(now.stdout).toContain("2 leftovers removed")
  })

  it("leaves a directory whose lock a live run holds untouched, and removes a gone run's leftovers", async () => {
    writeFakeBackup(join(dir, "live"), "2026-01-01_000000")
    writeFileSync(join(dir, "live", "snapshot_2026-01-02_000000.db.part"), "streaming")
    lockOf(join(dir, "live"), process.pid)
    writeFakeBackup(join(dir, "gone"), "2026-01-03_000000")
    writeFileSync(join(dir, "gone", "snapshot_2026-01-04_000000.db.part"), "killed")
    lockOf(join(dir, "gone"), deadPid())
    writeFakeBackup(join(dir, "newest"), "2026-01-05_000000")

    const run = await cli("prune", dir, "--keep-last", "1")
    expect(run.status).toBe(0)
    expect(ls(join(dir, "live"))).toContain("snapshot_2026-01-02_000000.db.part")
    expect(ls(join(dir, "live"))).toContain("snapshot_2026-01-01_000000.db")
    expect(run.stderr).toMatch(/keep leftover live\/snapshot_2026-01-02_000000\.db\.part.*a live run holds .*backup-init \(PID \d+/)
    expect(existsSync(join(dir, "gone"))).toBe(false)
  })

  it("refuses to prune a directory whose own lock a live run holds, removing nothing (exit 1)", async () => {
    writeFakeBackup(dir, "2026-01-01_000000")
    writeFileSync(join(dir, "snapshot_2026-01-02_000000.db.part"), "streaming")
    lockOf(dir, process.pid)
    const run = await cli("prune", dir, "--keep-last", "1")
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/is held by backup-init \(PID \d+.*wait for it to finish.*\[RunLockHeld\]/)
    expect(ls(dir)).toContain("snapshot_2026-01-02_000000.db.part")
  })

  it("refuses to run without a rule, on a bad size, a bad age or a negative count, deleting nothing", async () => {
    pair(dir, "2026-01-01_000000")
    pair(dir, "2026-01-02_000000")
    const usage = "Invalid value for"
    const cases = [
      [[dir], 2, "Missing value for flag --keep-last. Expected: a retention rule: at least one of --keep-last, --keep-daily"],
      [["s3://bucket/prefix"], 2, "Expected: a retention rule: at least one of"],
      [[dir, "--max-total-size=lots"], 2, `${usage} flag --max-total-size: "lots". Expected: a size with its unit, like 50Gi`],
      [[dir, "--max-total-size=-5"], 2, `${usage} flag --max-total-size: "-5". Expected: a size with its unit, like 50Gi`],
      // A bare number would be bytes: meant as GiB, it removed every backup but the newest.
      [
        [dir, "--max-total-size=50"],
        2,
        `${usage} flag --max-total-size: "50". Expected: a size with its unit, like 50Gi, 500Mi or 2G (a bare number would be bytes)`,
      ],
      [[dir, "--max-age=garbage"], 2, '"garbage" is not a duration'],
      [[dir, "--max-age=-5d"], 2, '"-5d" is not a duration'],
      [[dir, "--max-age=30"], 2, `${usage} flag --max-age: "30". Expected: an age with its unit, like 30d`],
      [[dir, "--keep-last=-1"], 2, `${usage} flag --keep-last: "-1". Expected: a whole number from 0 to 1000000 (a number of backups)`],
      [[dir, "--keep-daily", "-5"], 2, `${usage} flag --keep-daily: "-5"`],
      [[dir, "--keep-weekly=-1"], 2, `${usage} flag --keep-weekly: "-1"`],
      [[dir, "--keep-monthly=-2"], 2, `${usage} flag --keep-monthly: "-2"`],
      [[dir, "--keep-last=1.5"], 2, `${usage} flag --keep-last: "1.5"`],
      [[dir, "--keep-last=1", "--leftover-grace=-1h"], 2, '"-1h" is not a duration'],
      [[dir, "--keep-last=1", "--leftover-grace=soon"], 2, '"soon" is not a duration'],
      [["", "--keep-last=1"], 2, `${usage} argument <dir>: "". Expected: a non-empty path`],
    ] as const
    const runs = await Promise.all(cases.map(([args]) => runCli(["prune", ...args])))
    for (const [i, [args, status, says]] of cases.entries()) {
      expect(runs[i]!.status, args.join(" ")).toBe(status)
      expect(runs[i]!.stderr, args.join(" ")).toContain(says)
      expect(runs[i]!.stderr).not.toContain("unexpected failure")
    }
    expect(ls(dir)).toHaveLength(4)
  })

  it("always keeps the newest verified backup, even when it alone is over the size limit", async () => {
    writeFakeBackup(join(dir, "a"), "2026-01-01_000000")
    writeFakeBackup(join(dir, "b"), "2026-01-02_000000")
    const run = await cli("prune", dir, "--max-total-size", "1K")
    expect(run.status).toBe(0)
    expect(ls(dir)).toEqual([".cluster-backup", "b"])
  })
})

describe("prune at a volume root, as a user other than lost+found's owner", () => {
  it("leaves a subdirectory it cannot read as it is, with a warning, and prunes the rest", () => {
    const root = join(dir, "volume")
    writeFakeBackup(join(root, "b1"), "2026-02-01_000000")
    writeFakeBackup(join(root, "b2"), "2026-02-02_000000")
    mkdirSync(join(root, "lost+found"), { mode: 0o700 })
    chmodSync(dir, 0o755)
    for (const p of [
      root,
      ...readdirSync(root, { recursive: true, encoding: "utf8" })
        .filter((p) => !p.startsWith("lost+found"))
        .map((p) => join(root, p)),
    ]) {
      chownSync(p, 65534, 65534)
    }
    const run = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, cliEntry, "prune", root, "--keep-last", "1"], {
      encoding: "utf8",
      env: { ...process.env, KUBECONFIG: "" },
    })
    expect(run.status, run.stderr).toBe(0)
    expect(`${run.stdout}${run.stderr}`).toMatch(/cannot read \S*lost\+found \(EACCES\): left as it is/)
    expect(ls(root)).toEqual([".cluster-backup", "b2", "lost+found"])
  })
})
