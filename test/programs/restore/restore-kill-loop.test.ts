/**
 * `cluster-backup restore` (the real command, the real etcdutl 3.5, a backup made from a real
 * etcd) on a host simulated under `--root`, killed at seeded random points of its work, then run
 * again: the rerun resumes and completes (once a run completed, a rerun without --even-after-restore refuses: nothing
 * is left to continue, and another restore would take the running cluster back); the host holds a correct restore; no extraction staging
 * directory (decoded keys) and no lock is left; nothing was deleted (the old member, the stopped
 * manifest and the replaced revision directory are kept). A kill point is a random step's start
 * and up to 300 ms into it. Kills take the whole process group, as
 * a container or systemd stop with SIGKILL does (etcdutl with it); every fifth is a SIGTERM to
 * the command alone, after which nothing may be left at once. Then the case of the issue: a kill
 * during `etcdutl snapshot restore`, whose partial output the rerun moves aside. The seed is
 * fixed (KILL_LOOP_SEED replays another); the kill points are in the failure messages.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  hostFiles,
  makeBackup,
  makeHostTree,
  readManifest,
  runningOperand,
  startSharedEtcd,
  type HostTree,
  type SharedEtcd,
} from "../../support/bad-backups.ts"
import { atPlanStep, planBegun, runAndKillWhen, seededRandom } from "../../support/kill-loop.ts"
import { runCli } from "../../support/run-cli.ts"
import { etcdTool } from "../../support/tools.ts"
import { allInstallerFiles, loadedCluster, walk, type Loaded } from "../backup/backup-resources-harness.ts"

const seed = Number(process.env.KILL_LOOP_SEED ?? 13)
const kills = 10
const lockName = "etc/kubernetes/.cluster-backup-restore.lock"

const restoreArgs = (host: HostTree, etcdutl: string) => ["restore", host.backupDir, "--root", host.root, "--member-name", "master-0", "--etcdutl", etcdutl]

/**
 * Runs that restore again after one completed (as a new recovery would, told to), so that every kill lands in a
 * restore's work; without the flag, such a run refuses (the loop on a dedicated disk).
 */
const againArgs = (host: HostTree, etcdutl: string) => [...restoreArgs(host, etcdutl), "--even-after-restore"]

/** A run refused because an earlier one completed: the cluster runs from that restore's member (--even-after-restore). */
const refusedAsComplete = (run: { readonly status: number | null; readonly stderr: string }) =>
  run.status === 1 && run.stderr.includes("that restore is complete and the cluster runs from it") && run.stderr.includes("pass --even-after-restore")

const extractLeftovers = (host: HostTree) => readdirSync(join(host.root, "etc/kubernetes")).filter((n) => n.startsWith(".cluster-backup-extract-"))

/** Every file under `dir` (relative path) whose content is `text`. */
const filesHolding = (dir: string, text: string) => [...walk(dir)].filter(([, e]) => e.bytes?.toString() === text).map(([path]) => path)

let etcd: SharedEtcd
let loaded: Loaded
let backup: string

beforeAll(async () => {
  etcd = await startSharedEtcd("restore-kill", 200)
  loaded = loadedCluster()
  backup = join(etcd.workDir, "backup")
  await Effect.runPromise(makeBackup(backup, etcd.member.connection, loaded))
}, 60_000)

afterAll(async () => {
  await etcd?.close()
})

/** The host holds a correct restore of the backup, with nothing of the old host deleted and nothing of the restore's own left. */
const expectRestored = (host: HostTree, context: string) => {
  const fixtureFiles = allInstallerFiles(loaded.fixture)
  const read = (relative: string) => readFileSync(join(host.root, relative), "utf8")
  expect(read(hostFiles.runningManifest), context).toBe(fixtureFiles.get("static-pod-resources/etcd-pod-3/etcd-pod.yaml")!.bytes.toString())
  expect(readdirSync(join(host.root, "var/lib/etcd")), context).toEqual(["member"])
  expect(existsSync(join(host.root, "var/lib/etcd/member/snap/db")), context).toBe(true)
  expect(existsSync(join(host.root, "var/lib/etcd/member/wal")), context).toBe(true)
  const restored = walk(join(host.root, "etc/kubernetes"))
  for (const [path, file] of fixtureFiles) {
    expect(restored.get(path)?.bytes?.equals(file.bytes), `${context}: ${path}`).toBe(true)
    expect(restored.get(path)?.mode, `${context}: ${path}`).toBe(file.mode)
  }
  // Nothing deleted: the old member, the stopped manifest, the replaced revision, the unrelated files.
  expect(
    filesHolding(join(host.root, "var/lib/etcd-backup"), "old etcd data\n").filter((p) => /^member[^/]*\/snap\/db$/.test(p)),
    context,
  ).toHaveLength(1)
  expect(filesHolding(join(host.root, "etc/kubernetes/manifests-stopped"), "kind: Pod # the running etcd\n"), context).toHaveLength(1)
  expect(
    filesHolding(join(host.root, "etc/kubernetes"), "kind: Pod # installed before the disaster\n").filter((p) =>
      p.startsWith("static-pod-resources-replaced-by-restore-"),
    ),
    context,
  ).toHaveLength(1)
  // The other control-plane pods run the backup's revisions; their stopped manifests are kept, once each.
  const revisions = readManifest(host.backupDir).revisions.requested
  for (const running of hostFiles.controlPlaneManifests) {
    const pod = basename(running).slice(0, -".yaml".length)
    const revision = revisions[runningOperand(running) as keyof typeof revisions]
    expect(read(running), context).toBe(fixtureFiles.get(`static-pod-resources/${pod}-${revision}/${pod}.yaml`)!.bytes.toString())
    expect(filesHolding(join(host.root, "etc/kubernetes/manifests-stopped"), `kind: Pod # ${runningOperand(running)}\n`), context).toHaveLength(1)
  }
  expect(read(hostFiles.certs), context).toBe("certificate\n")
  // One copy of the snapshot (a rerun restores from the copy an interrupted run made), no partial one.
  expect(
    readdirSync(join(host.root, "var/lib/etcd-backup")).filter((n) => n.startsWith("snapshot")),
    context,
  ).toEqual(["snapshot.db"])
  // The record names the member in place (a stand-down here refuses to move it aside); no partial record is left.
  const inPlace = lstatSync(join(host.root, "var/lib/etcd/member"), { bigint: true })
  expect(JSON.parse(read("var/lib/etcd-backup/restored-member.json")).member, context).toEqual({ device: String(inPlace.dev), inode: String(inPlace.ino) })
  expect(
    readdirSync(join(host.root, "var/lib/etcd-backup")).filter((n) => n.endsWith(".part")),
    context,
  ).toEqual([])
  // Nothing of the restore's own left behind.
  expect(extractLeftovers(host), context).toEqual([])
  expect(existsSync(join(host.root, lockName)), context).toBe(false)
}

describe("restore under kills", () => {
  it(`killed ${kills} times at seeded random points, then run again: it resumes and completes, the host restored, nothing left, nothing deleted (seed ${seed})`, async () => {
    const etcdutl = etcdTool("etcdutl")
    const random = seededRandom(seed)
    const host = makeHostTree(etcd.workDir, backup)
    const points: Array<string> = []
    for (let i = 0; i < kills; i++) {
      // A kill point: a random step's start (0: the lock is taken), then up to 300 ms into it
      // (the extraction, etcdutl, a move, or the space between steps).
      const fraction = random()
      const delay = Math.round(random() * 300)
      const signal = i % 5 === 4 ? "SIGTERM" : "SIGKILL"
      let step = 0
      const trigger = atPlanStep(join(host.root, lockName), fraction, (chosen) => {
        step = chosen
      })
      const run = await runAndKillWhen(againArgs(host, etcdutl), { begun: trigger, delayMs: delay, signal, group: true })
      const last = run.stdout.trim().split("\n").at(-1) ?? ""
      points.push(
        `${signal} ${delay} ms after the start of step ${step}${run.finished ? ` (finished, exit ${run.status})` : ""}: last line ${JSON.stringify(last.slice(0, 120))}`,
      )
      const context = `kill ${i}: ${points.at(-1)}\n${run.stderr}`
      if (run.finished) expect(run.status, context).toBe(0)
      // A signal that lands after the last step, while the process exits, finds nothing to interrupt.
      const completed = /Restore restore-\S+ complete: \d+ steps ran\./.test(run.stdout)
      if (!run.finished && !completed && signal === "SIGTERM") {
        // Interrupted, not done: non-zero; its finalizers removed the decoded keys and the lock.
        expect(run.status, context).not.toBe(0)
        expect(run.stderr, context).toContain("interrupted")
        if (run.stdout.includes("interrupted during")) {
          expect(run.stdout, context).toMatch(
            /interrupted during \S+; (what it had changed was put back|it had changed nothing)\. Run the restore again to continue\./,
          )
        }
        expect(extractLeftovers(host), context).toEqual([])
        expect(existsSync(join(host.root, lockName)), context).toBe(false)
      }
    }
    const context = `kill points:\n  ${points.join("\n  ")}`
    const final = await runCli(againArgs(host, etcdutl))
    expect(final.status, `${context}\n${final.stdout}\n${final.stderr}`).toBe(0)
    expect(final.stdout, context).toMatch(/Restore restore-\S+ complete: \d+ steps ran\./)
    expectRestored(host, context)
    console.log(
      `restore kill loop (seed ${seed}): ${context}\nfinal run: ${final.stdout
        .split("\n")
        .filter((l) => /^(\[|removed|A restore)/.test(l))
        .join("; ")}`,
    )
  }, 240_000)

  // A dedicated etcd disk (here /dev/shm, a tmpfs, which the host's /var/lib/etcd links to): the old member is copied
  // off it, then removed. Kills land in that copy and removal half of the time.
  it(`on a dedicated etcd disk, killed ${kills / 2} times, half of them while the old member is copied off it: the rerun completes and the old member is kept whole (seed ${seed})`, async () => {
    const etcdutl = etcdTool("etcdutl")
    const random = seededRandom(seed + 1)
    const host = makeHostTree(etcd.workDir, backup)
    const disk = mkdtempSync("/dev/shm/cb-etcd-disk-kill-")
    try {
      const dataDir = join(host.root, "var/lib/etcd")
      // 24 MiB of WAL, so that the copy takes a while.
      for (let i = 0; i < 6; i++) writeFileSync(join(dataDir, "member", `wal-${i}.wal`), Buffer.alloc(4 * 1024 * 1024, i), { mode: 0o600 })
      cpSync(dataDir, disk, { recursive: true })
      rmSync(dataDir, { recursive: true })
      symlinkSync(disk, dataDir)
      const points: Array<string> = []
      for (let i = 0; i < kills / 2; i++) {
        const duringCopy = random() < 0.5
        const fraction = random()
        const delay = Math.round(random() * (duringCopy ? 150 : 300))
        const lock = join(host.root, lockName)
        const trigger = duringCopy ? (pid: number, out: string) => planBegun(lock, pid, out) && out.includes("keep-old-member: ") : atPlanStep(lock, fraction)
        const run = await runAndKillWhen(restoreArgs(host, etcdutl), { begun: trigger, delayMs: delay, group: true })
        points.push(
          `${delay} ms after ${duringCopy ? "keep-old-member" : `step ${Math.floor(fraction * 11)}`}: last line ${JSON.stringify((run.stdout.trim().split("\n").at(-1) ?? "").slice(0, 100))}`,
        )
        if (run.finished && !refusedAsComplete(run)) expect(run.status, points.join("\n")).toBe(0)
      }
      const context = `kill points:\n  ${points.join("\n  ")}`
      const final = await runCli(restoreArgs(host, etcdutl))
      if (!refusedAsComplete(final)) expect(final.status, `${context}\n${final.stdout}\n${final.stderr}`).toBe(0)
      expect(readdirSync(disk), context).toEqual(["member"])
      // The old member is kept whole on the root's file system: a copy killed half-way never took a member name, and a
      // kill between the copy's rename and the original's may leave two whole copies, never a partial one. (Once a run has
      // completed, the next refuses: the cluster runs from the restored member.)
      const kept = join(host.root, "var/lib/etcd-backup")
      const restoredDb = (m: string) => {
        const db = readFileSync(join(kept, m, "snap/db"))
        return db.length >= 4096 && db[0] === 0 // a bbolt database etcdutl wrote, not the old member's text
      }
      const members = readdirSync(kept).filter((n) => /^member/.test(n) && !restoredDb(n))
      expect(members.length, context).toBeGreaterThanOrEqual(1)
      for (const m of members) {
        expect(readFileSync(join(kept, m, "snap/db"), "utf8"), `${context}: ${m}`).toBe("old etcd data\n")
        for (let i = 0; i < 6; i++) expect(readFileSync(join(kept, m, `wal-${i}.wal`)).equals(Buffer.alloc(4 * 1024 * 1024, i)), `${context}: ${m}`).toBe(true)
      }
      expect(
        readdirSync(kept).filter((n) => n.startsWith(".cluster-backup-")),
        context,
      ).toEqual([])
      console.log(`restore kill loop on a dedicated disk (seed ${seed}): ${context}`)
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  }, 240_000)

  it("killed during etcdutl snapshot restore: the rerun moves the partial output aside and completes", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const started = join(etcd.workDir, `etcdutl-started-${Date.now()}`)
    // etcdutl as the real one, except that `snapshot restore` writes part of its output, says so, and hangs (until killed).
    const wrapper = join(host.root, "usr/local/bin/etcdutl-hanging")
    mkdirSync(dirname(wrapper), { recursive: true })
    writeFileSync(
      wrapper,
      [
        "#!/bin/bash",
        'if [ "$1 $2" = "snapshot restore" ] && [ "$3" != "--help" ] && [ -n "$HANG_MARKER" ]; then',
        '  while [ $# -gt 0 ]; do if [ "$1" = --data-dir ]; then mkdir -p "$2/member/snap" && head -c 4096 /dev/urandom > "$2/member/snap/db"; fi; shift; done',
        '  touch "$HANG_MARKER"; sleep 60; exit 1',
        "fi",
        `exec ${JSON.stringify(etcdTool("etcdutl"))} "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    )
    const killed = await runAndKillWhen(restoreArgs(host, wrapper), {
      begun: () => existsSync(started),
      delayMs: 0,
      group: true,
      env: { HANG_MARKER: started },
    })
    expect(killed.finished, killed.stdout + killed.stderr).toBe(false)
    const partial = readdirSync(join(host.root, "var/lib/etcd")).filter((n) => n.startsWith("restore-"))
    expect(partial).toHaveLength(1)
    expect(existsSync(join(host.root, lockName))).toBe(true)

    const again = await runCli(restoreArgs(host, wrapper))
    expect(again.status, again.stdout + again.stderr).toBe(0)
    expect(again.stdout).toContain("set-aside-partial-restores")
    expect(again.stdout).toContain(`move     ${host.root}/var/lib/etcd/${partial[0]} -> ${host.root}/var/lib/etcd-backup/failed-${partial[0]}`)
    expectRestored(host, again.stdout)
    // The partial output is kept, not deleted.
    expect(readFileSync(join(host.root, `var/lib/etcd-backup/failed-${partial[0]}/member/snap/db`)).length).toBe(4096)
  }, 120_000)
})
