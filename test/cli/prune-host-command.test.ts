/**
 * `cluster-backup prune-host` as a person runs it on a control-plane host (a tree under a temporary root,
 * with what a restore and a stand-down keep made by hand): exit codes, and kills at any moment.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { makeOtherHostTree } from "../support/bad-backups.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"
import { holdsRunLock, runAndKillWhen, seededRandom } from "../support/kill-loop.ts"
import { runCli } from "../support/run-cli.ts"

const runId = "5d1c7e2a-9b3f-4c8d-a1e6-0f2b3c4d5e6f"
const cli = (...args: Array<string>) => runCli(args, { timeoutMs: 60_000 })

/** Kept entries, each a tree of `files` files (large enough that removing one takes a while). */
const kept = [
  "var/lib/etcd-backup/member",
  `var/lib/etcd-backup/member.${runId}`,
  `etc/kubernetes/static-pod-resources-replaced-by-restore-${runId}`,
  "var/lib/etcd-backup/downloads/2026-01-01_000000",
]
const keptFiles = ["var/lib/etcd-backup/revision.json", "etc/kubernetes/manifests-stopped/etcd-pod.yaml"]

/** A host back in service (member and manifests in place) holding what recoveries kept. */
/** What a restore and a stand-down keep on a host, `files` files in each kept directory (the same content each time). */
const writeKept = (root: string, files: number) => {
  for (const dir of kept) {
    for (let i = 0; i < files; i++) {
      mkdirSync(join(root, dir, `d${i % 10}`), { recursive: true })
      writeFileSync(join(root, dir, `d${i % 10}`, `f${i}`), `${dir} ${i}\n`)
    }
  }
  for (const file of keptFiles) {
    mkdirSync(join(root, file, ".."), { recursive: true })
    writeFileSync(join(root, file), `${file}\n`)
  }
}

const hostWithKept = (files: number) => {
  const root = makeOtherHostTree("cb-cli-prune-host-", "live data\n")
  writeKept(root, files)
  writeFileSync(join(root, "var/lib/etcd-backup/stood-down.json"), '{"standDownId":"x"}\n')
  return root
}

/** Each kept entry's content, one digest per entry; absent ones omitted. */
const keptDigests = (root: string) => {
  const out = new Map<string, string>()
  for (const path of [...kept, ...keptFiles]) {
    if (!existsSync(join(root, path))) continue
    const full = join(root, path)
    const content = statSync(full).isDirectory() ? snapshotTree(full).join("\n") : readFileSync(full)
    out.set(path, createHash("sha256").update(content).digest("hex"))
  }
  return out
}

const notKept = (root: string) =>
  snapshotTree(root).filter((line) => ![...kept, ...keptFiles].some((p) => line.split(" ")[2]!.startsWith(p)) && !line.includes(".cluster-backup-"))

describe("cluster-backup prune-host", () => {
  it("on a --root that is no control-plane host's (no etc/kubernetes), exits 1 saying so and changes nothing", async () => {
    const root = mkdtempSync(join(tmpdir(), "cb-cli-not-host-"))
    mkdirSync(join(root, "var/lib/etcd-backup/member"), { recursive: true })
    const before = snapshotTree(root)
    const run = await cli("prune-host", "--root", root)
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(`error: --root ${root} is not a control-plane host's root: ${root}/etc/kubernetes does not exist; --root must be the host's /`)
    expect(snapshotTree(root)).toEqual(before)
  })

  it("exits 0 on a dry run and a real run, 1 when the host does not run again, 2 on a bad --older-than", async () => {
    const root = hostWithKept(3)
    const before = snapshotTree(root)
    const dry = await cli("prune-host", "--root", root, "--dry-run", "--older-than", "0")
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toContain("Would remove 6 (")
    expect(snapshotTree(root)).toEqual(before)
    const young = await cli("prune-host", "--root", root)
    expect(young.status, young.stderr).toBe(0)
    expect(young.stdout).toContain("less than --older-than 168h")
    expect(snapshotTree(root)).toEqual(before)

    const usage = await cli("prune-host", "--root", root, "--older-than", "-1h")
    expect(usage.status).toBe(2)
    const word = await cli("prune-host", "--root", root, "--older-than", "a week")
    expect(word.status).toBe(2)
    const days = await cli("prune-host", "--root", root, "--older-than", "7")
    expect(days.status).toBe(2)
    expect(days.stderr).toContain('flag --older-than: "7". Expected: an age with its unit, like 7d, 36h, 90m or 0 (a bare number would be seconds)')

    for (const pod of ["etcd", "kube-apiserver"]) {
      renameSync(join(root, `etc/kubernetes/manifests/${pod}-pod.yaml`), join(root, `etc/kubernetes/${pod}-pod.yaml.aside`))
    }
    const stopped = snapshotTree(root)
    const refused = await cli("prune-host", "--root", root, "--older-than", "0")
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/error: prune-host refused before any change: .*etcd-pod\.yaml, .*kube-apiserver-pod\.yaml are missing/)
    expect(snapshotTree(root)).toEqual(stopped)
  })
})

describe("cluster-backup prune-host --json", () => {
  it("prints one document, dry or real, refused or not, and nothing else on stdout", async () => {
    const root = hostWithKept(2)
    const dry = await cli("prune-host", "--root", root, "--dry-run", "--older-than", "0", "--json")
    expect(dry.status, dry.stderr).toBe(0)
    const planned = JSON.parse(dry.stdout)
    expect(planned).toMatchObject({ root, dryRun: true, olderThanSeconds: 0, removedBytes: 0 })
    expect(planned.entries).toHaveLength(6)
    expect(planned.entries.every((e: { verdict: string; outcome?: string }) => e.verdict === "remove" && e.outcome === undefined)).toBe(true)
    expect(planned.refused).toBeUndefined()

    const real = await cli("prune-host", "--root", root, "--older-than", "0", "--json")
    expect(real.status, real.stderr).toBe(0)
    const done = JSON.parse(real.stdout)
    expect(done.entries.map((e: { outcome: string }) => e.outcome)).toEqual(Array(6).fill("removed"))
    expect(done.removedBytes).toBeGreaterThan(0)
    expect(done.entries.find((e: { path: string }) => e.path === "/var/lib/etcd-backup/member")).toMatchObject({ kind: "OldMember", verdict: "remove" })

    rmSync(join(root, "var/lib/etcd/member"), { recursive: true })
    mkdirSync(join(root, "var/lib/etcd-backup/member.5d1c7e2a-9b3f-4c8d-a1e6-0f2b3c4d5e6f"))
    const refused = await cli("prune-host", "--root", root, "--older-than", "0", "--json")
    expect(refused.status).toBe(1)
    const report = JSON.parse(refused.stdout)
    expect(report.refused[0]).toContain("/var/lib/etcd/member is missing")
    expect(report.entries).toHaveLength(1)
    expect(refused.stderr).toContain("prune-host refused before any change")
  })
})

describe("cluster-backup prune-host under kills", () => {
  const seed = 11
  const kills = 6
  const lock = (root: string) => join(root, "etc/kubernetes/.cluster-backup-restore.lock")

  it(`killed ${kills} times at seeded random points: every kept entry whole or gone, nothing else touched; run again, all gone (seed ${seed})`, async () => {
    const random = seededRandom(seed)
    const root = hostWithKept(1500)
    const original = keptDigests(root)
    const others = notKept(root)
    const points: Array<string> = []
    let halfRemoved = 0
    for (let i = 0; i < kills; i++) {
      const delay = Math.round(random() * 60)
      const signal = i % 3 === 2 ? "SIGTERM" : "SIGKILL"
      const run = await runAndKillWhen(["prune-host", "--root", root, "--older-than", "0"], {
        // Once it has listed what it removes: the removals follow.
        begun: (pid, stdout) => holdsRunLock(lock(root), pid) && stdout.includes("Removing "),
        delayMs: delay,
        signal,
        group: true,
      })
      points.push(`${signal} ${delay} ms after it listed what it removes${run.finished ? ` (finished, exit ${run.status})` : ""}`)
      const context = `kill points:\n  ${points.join("\n  ")}`
      for (const [path, digest] of keptDigests(root)) {
        expect(digest, `${path} is half-removed; ${context}`).toBe(original.get(path))
      }
      expect(notKept(root), context).toEqual(others)
      if (snapshotTree(root).some((line) => line.includes(".cluster-backup-removing-"))) halfRemoved++
      // A run that finished before its kill (a loaded machine delays the kill) left nothing for the next kills to land in.
      if (keptDigests(root).size === 0 && i < kills - 1) writeKept(root, 1500)
    }
    const context = `kill points:\n  ${points.join("\n  ")}`
    // The kills did land mid-removal: what they left is under the hidden name only.
    expect(halfRemoved, context).toBeGreaterThan(0)
    const final = await cli("prune-host", "--root", root, "--older-than", "0")
    expect(final.status, `${context}\n${final.stdout}\n${final.stderr}`).toBe(0)
    expect(keptDigests(root).size, context).toBe(0)
    expect(notKept(root), context).toEqual(others)
    expect(
      snapshotTree(root).filter((l) => l.includes(".cluster-backup-")),
      context,
    ).toEqual([])
    expect(readdirSync(join(root, "var/lib/etcd-backup")).sort(), context).toEqual(["downloads", "stood-down.json"])
    expect(existsSync(lock(root)), context).toBe(false)
  }, 180_000)
})
