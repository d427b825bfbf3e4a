/**
 * `cluster-backup stand-down` as a person runs it on another control-plane host (here a tree
 * under a temporary root): the real run, the dry run, a refusal's exit code and message, and kills.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { etcdOnDedicatedDisk, makeOtherHostTree, recordedRestoreId, staticPods, writeRestoredMemberRecord } from "../support/bad-backups.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"
import { atPlanStep, holdsRunLock, runAndKillWhen, seededRandom } from "../support/kill-loop.ts"
import { runCli } from "../support/run-cli.ts"

const standDownId = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

const hostTree = () => makeOtherHostTree("cb-cli-stand-down-", "data\n")

const cli = (...args: Array<string>) => runCli(args, { timeoutMs: 60_000 })

describe("cluster-backup stand-down", () => {
  it("--dry-run changes nothing; the real run stops the pods and keeps etcd's data, exit 0", async () => {
    const root = hostTree()
    const before = snapshotTree(root)
    const dry = await cli("stand-down", "--root", root, "--dry-run", "--stand-down-id", standDownId)
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toContain(`Stand-down plan stand-down-${standDownId}`)
    expect(snapshotTree(root)).toEqual(before)
    const real = await cli("stand-down", "--root", root, "--stand-down-id", standDownId)
    expect(real.status, real.stderr).toBe(0)
    expect(real.stdout).toContain(`Stand-down stand-down-${standDownId} complete: 5 steps ran.`)
    expect(readdirSync(join(root, "etc/kubernetes/manifests"))).toEqual([])
    expect(readdirSync(join(root, "var/lib/etcd-backup")).sort()).toEqual(["member", "stood-down.json"])
  })

  it("exits 1 with the reason when it would refuse, and 2 on a bad --stand-down-id", async () => {
    const root = hostTree()
    writeFileSync(join(root, "var/lib/etcd-backup"), "a file\n")
    const before = snapshotTree(root)
    const refused = await cli("stand-down", "--root", root)
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/error: stand-down refused before any change: .*var\/lib\/etcd-backup/)
    expect(snapshotTree(root)).toEqual(before)
    const usage = await cli("stand-down", "--root", root, "--stand-down-id", "not-a-uuid")
    expect(usage.status).toBe(2)
  })

  it("on the recovery host of a restore, exits 1 naming --even-on-recovery-host, and stands down with it", async () => {
    const root = hostTree()
    writeRestoredMemberRecord(root)
    const before = snapshotTree(root)
    const refused = await cli("stand-down", "--root", root)
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain(`this is the recovery host: restore-${recordedRestoreId} put the restored member`)
    expect(snapshotTree(root)).toEqual(before)
    const forced = await cli("stand-down", "--root", root, "--even-on-recovery-host", "--stand-down-id", standDownId)
    expect(forced.status, forced.stderr).toBe(0)
    expect(readdirSync(join(root, "var/lib/etcd"))).toEqual([])
  })

  it("on a --root that is no control-plane host's (no etc/kubernetes: a debug container's own /), stand-down and --undo exit 1 saying so", async () => {
    const root = mkdtempSync(join(tmpdir(), "cb-cli-not-host-"))
    mkdirSync(join(root, "var/lib/etcd"), { recursive: true })
    const before = snapshotTree(root)
    for (const more of [[], ["--undo"]]) {
      const run = await cli("stand-down", "--root", root, ...more)
      expect(run.status).toBe(1)
      expect(run.stderr).toContain(
        `error: --root ${root} is not a control-plane host's root: ${root}/etc/kubernetes does not exist; --root must be the host's / (from oc debug node: --root /host) [RestoreInputInvalid]`,
      )
    }
    expect(snapshotTree(root)).toEqual(before)
  })
})

describe("cluster-backup stand-down --undo", () => {
  it("puts the host back, exit 0; exits 1 where there is no kept member to put back", async () => {
    const root = hostTree()
    const before = snapshotTree(root)
    const down = await cli("stand-down", "--root", root, "--stand-down-id", standDownId)
    expect(down.status, down.stderr).toBe(0)
    const undone = await cli("stand-down", "--root", root, "--undo")
    expect(undone.status, undone.stderr).toBe(0)
    expect(undone.stdout).toContain("Stand-down undone: 5 moves back.")
    expect(snapshotTree(root).filter((l) => !/stood-down\.json|d \d+ (etc\/kubernetes\/manifests-stopped|var\/lib\/etcd-backup)$/.test(l))).toEqual(before)

    const again = await cli("stand-down", "--root", root, "--stand-down-id", standDownId.replace("7c9e", "8c9e"))
    expect(again.status, again.stderr).toBe(0)
    rmSync(join(root, "var/lib/etcd-backup/member"), { recursive: true })
    const refused = await cli("stand-down", "--root", root, "--undo", "--dry-run")
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain("holds no kept member to put back")
    for (const flag of [["--stand-down-id", standDownId], ["--even-on-recovery-host"]]) {
      const usage = await cli("stand-down", "--root", root, "--undo", ...flag)
      expect(usage.status, usage.stderr).toBe(2)
      expect(usage.stderr).toContain("not beside --undo")
    }
  })
})

describe("cluster-backup stand-down under kills", () => {
  const seed = 7
  const kills = 6
  const lock = (root: string) => join(root, "etc/kubernetes/.cluster-backup-restore.lock")

  it(`killed ${kills} times at seeded random points, then run again: every pod stopped, etcd's data kept once, nothing deleted (seed ${seed})`, async () => {
    const random = seededRandom(seed)
    const root = hostTree()
    const points: Array<string> = []
    for (let i = 0; i < kills; i++) {
      const fraction = random()
      const delay = Math.round(random() * 50)
      const signal = i % 3 === 2 ? "SIGTERM" : "SIGKILL"
      let step = 0
      const trigger = atPlanStep(lock(root), fraction, (chosen) => {
        step = chosen
      })
      const run = await runAndKillWhen(["stand-down", "--root", root], { begun: trigger, delayMs: delay, signal, group: true })
      points.push(`${signal} ${delay} ms after the start of step ${step}${run.finished ? ` (finished, exit ${run.status})` : ""}`)
      if (run.finished) expect(run.status, points.at(-1)).toBe(0)
    }
    const context = `kill points:\n  ${points.join("\n  ")}`
    const final = await cli("stand-down", "--root", root)
    expect(final.status, `${context}\n${final.stdout}\n${final.stderr}`).toBe(0)
    expect(readdirSync(join(root, "etc/kubernetes/manifests")), context).toEqual([])
    const stopped = readdirSync(join(root, "etc/kubernetes/manifests-stopped"))
    for (const pod of staticPods) {
      expect(
        stopped.filter((n) => n.startsWith(`${pod}-pod.yaml`)),
        context,
      ).toHaveLength(1)
    }
    expect(readdirSync(join(root, "var/lib/etcd")), context).toEqual([])
    expect(readdirSync(join(root, "var/lib/etcd-backup")).sort(), context).toEqual(["member", "stood-down.json"])
    expect(readFileSync(join(root, "var/lib/etcd-backup/member/snap/db"), "utf8"), context).toBe("data\n")
    expect(existsSync(lock(root)), context).toBe(false)
  }, 120_000)
  it("--undo killed at seeded random points, off a dedicated etcd disk: etcd's member is whole in one place after each kill; run again, the host is as it was (seed 5)", async () => {
    const random = seededRandom(5)
    const root = hostTree()
    for (let i = 0; i < 2000; i++) {
      mkdirSync(join(root, `var/lib/etcd/member/wal/d${i % 20}`), { recursive: true })
      writeFileSync(join(root, `var/lib/etcd/member/wal/d${i % 20}/f${i}`), `entry ${i}\n`)
    }
    const disk = etcdOnDedicatedDisk(root)
    try {
      const memberTree = snapshotTree(join(root, "var/lib/etcd/member"))
      const before = snapshotTree(root)
      const down = await cli("stand-down", "--root", root, "--stand-down-id", standDownId)
      expect(down.status, down.stderr).toBe(0)
      const points: Array<string> = []
      for (let i = 0; i < 6; i++) {
        const delay = Math.round(random() * 40)
        const run = await runAndKillWhen(["stand-down", "--root", root, "--undo"], {
          begun: (pid, stdout) => holdsRunLock(lock(root), pid) && stdout.includes("moves back"),
          delayMs: delay,
          signal: "SIGKILL",
          group: true,
        })
        points.push(`SIGKILL ${delay} ms after it planned${run.finished ? ` (finished, exit ${run.status})` : ""}`)
        const context = `kill points:\n  ${points.join("\n  ")}`
        const places = [join(root, "var/lib/etcd/member"), join(root, "var/lib/etcd-backup/member")].filter((p) => existsSync(p))
        expect(places, context).toHaveLength(1)
        expect(snapshotTree(places[0]!), context).toEqual(memberTree)
      }
      const context = `kill points:\n  ${points.join("\n  ")}`
      const final = await cli("stand-down", "--root", root, "--undo")
      expect(final.status, `${context}\n${final.stdout}\n${final.stderr}`).toBe(0)
      expect(
        snapshotTree(root).filter((l) => !/stood-down\.json|d \d+ (etc\/kubernetes\/manifests-stopped|var\/lib\/etcd-backup)$/.test(l)),
        context,
      ).toEqual(before)
      expect(snapshotTree(disk), context).toEqual(snapshotTree(join(root, "var/lib/etcd")))
      // Nothing kept is left, not a hidden part of a copy, nor the stand-down's record (removed once the host is back).
      expect(readdirSync(join(root, "var/lib/etcd-backup")), context).toEqual([])
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  }, 180_000)
})
