/**
 * prune-host on control-plane hosts under a temporary root, after a real restore (etcdutl scripted) and a
 * real stand-down: what it removes is exactly what those kept, and only once the host runs again and it
 * is old enough; the records, the live member, links, special files and anything else stay.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { TestClock } from "effect/testing"
import { beforeAll, describe, expect, it } from "vitest"
import { pruneHost, type PruneHostOptions } from "../../../src/programs/prune-host/prune-host.ts"
import { renderSwept, sweepLeftovers } from "../../../src/programs/restore/restore-leftovers.ts"
import { standDown } from "../../../src/programs/restore/stand-down.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { BackupFileError } from "../../../src/services/atomic-files.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { HostProcesses } from "../../../src/services/host-processes.ts"
import { acquireRunLock } from "../../../src/services/run-lock.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { makeFakeBackup, makeHostTree, makeOtherHostTree, restoreOnHost, writeScriptedEtcdutl } from "../../support/bad-backups.ts"
import { snapshotTree } from "../../support/hostile-tarballs.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const restoreId = "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"
const otherRunId = "5d1c7e2a-9b3f-4c8d-a1e6-0f2b3c4d5e6f"
const dayMs = 86_400_000
const work = tempDir("cb-prune-host-")
const backup = join(work, "backup")
const etcdutl = join(work, "bin", "etcdutl")

beforeAll(async () => {
  writeScriptedEtcdutl(etcdutl)
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
}, 60_000)

const layersWith = (files: Layer.Layer<DurableFiles>) =>
  Layer.mergeAll(Etcdutl.live({ binary: etcdutl }), DiskSpace.live, Tarball.live, NodeServices.layer, files, HostProcesses.live)
const hostLayers = layersWith(DurableFiles.live)

/** The host's files, where removing anything whose name starts `.cluster-backup-` fails as EPERM does (an immutable file in it). */
const cannotRemoveHidden = Layer.effect(
  DurableFiles,
  Effect.map(DurableFiles, (live) =>
    DurableFiles.of({
      ...live,
      removeTree: (path) =>
        basename(path).startsWith(".cluster-backup-")
          ? Effect.fail(new BackupFileError({ path, code: "EPERM", operation: "remove", message: `cannot remove ${path}: EPERM: operation not permitted` }))
          : live.removeTree(path),
    }),
  ),
).pipe(Layer.provide(DurableFiles.live))

/** What a restore keeps on the recovery host, under the names it gives them. */
const keptByRestore = [
  "etc/kubernetes/manifests-stopped/etcd-pod.yaml",
  "etc/kubernetes/manifests-stopped/kube-apiserver-pod.yaml",
  "etc/kubernetes/manifests-stopped/kube-controller-manager-pod.yaml",
  "etc/kubernetes/manifests-stopped/kube-scheduler-pod.yaml",
  `etc/kubernetes/static-pod-resources-replaced-by-restore-${restoreId}`,
  "var/lib/etcd-backup/member",
  "var/lib/etcd-backup/revision.json",
  "var/lib/etcd-backup/snapshot.db",
]

const restoredHost = async () => {
  const host = makeHostTree(work, backup)
  const out: Array<string> = []
  const exit = await Effect.runPromise(Effect.exit(restoreOnHost(host, out, { restoreId }).pipe(Effect.provide(hostLayers))))
  expect(Exit.isSuccess(exit), out.join("")).toBe(true)
  return host.root
}

const prune = async (root: string, options: Partial<PruneHostOptions> = {}, nowMs?: number, layers = hostLayers) => {
  const out: Array<string> = []
  const run = pruneHost({ root, dryRun: false, olderThanMs: 0, output: (t) => Effect.sync(() => void out.push(t)), ...options })
  const clocked = nowMs === undefined ? run : Effect.andThen(TestClock.setTime(nowMs), run).pipe(Effect.provide(TestClock.layer()))
  const exit = await Effect.runPromise(Effect.exit(clocked.pipe(Effect.provide(layers))))
  const output = out.join("")
  const error = Exit.isFailure(exit) ? (exit.cause.reasons.find(Cause.isFailReason)?.error as { _tag: string; message: string } | undefined) : undefined
  return { ok: Exit.isSuccess(exit), output, error, context: `${output}\n${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""}` }
}

const under = (paths: ReadonlyArray<string>) => (line: string) => {
  const path = line.split(" ")[2]!
  return paths.some((p) => path === p || path.startsWith(`${p}/`))
}

describe("prune-host after a restore", () => {
  it("keeps everything younger than --older-than; with 0 removes exactly what the restore kept, never the records, the live member, links, special files or other names", async () => {
    const root = await restoredHost()
    const outside = tempDir("cb-prune-host-outside-")
    writeFileSync(join(outside, "precious"), "not the host's\n")
    symlinkSync(outside, join(root, `var/lib/etcd-backup/member.${otherRunId}`))
    symlinkSync(join(outside, "precious"), join(root, "var/lib/etcd-backup/member/snap/link-out"))
    execFileSync("mkfifo", [join(root, `var/lib/etcd-backup/snapshot.db.${otherRunId}`)])
    writeFileSync(join(root, "var/lib/etcd-backup/notes.txt"), "a person's notes\n")
    writeFileSync(join(root, "etc/kubernetes/manifests-stopped/custom-pod.yaml"), "kind: Pod # stopped by a person\n")
    const before = snapshotTree(root)
    const outsideBefore = snapshotTree(outside)

    for (const dryRun of [true, false]) {
      const young = await prune(root, { dryRun, olderThanMs: 7 * dayMs })
      expect(young.ok, young.context).toBe(true)
      expect(young.output).toContain(`Kept by restores and stand-downs under ${root}: 8 (`)
      expect(young.output).toMatch(/less than --older-than 168h/)
      expect(young.output).toContain(`${dryRun ? "Would remove" : "Removing"} 0 (0 B freed); keeping 8`)
      expect(snapshotTree(root)).toEqual(before)
    }
    const dry = await prune(root, { dryRun: true })
    expect(dry.ok, dry.context).toBe(true)
    for (const path of keptByRestore) {
      expect(dry.output).toContain(`would remove  /${path}\n`)
    }
    expect(snapshotTree(root)).toEqual(before)

    const real = await prune(root)
    expect(real.ok, real.context).toBe(true)
    for (const path of keptByRestore) {
      expect(real.output).toContain(`removed  /${path} (`)
    }
    // A hard link to the backup's snapshot: removing it frees nothing.
    expect(real.output).toContain("removed  /var/lib/etcd-backup/snapshot.db (0 B)")
    expect(real.output).toContain("prune-host: removed 8 of 8 kept entries")
    expect(snapshotTree(root)).toEqual(before.filter((line) => !under(keptByRestore)(line)))
    expect(readdirSync(join(root, "var/lib/etcd-backup")).sort()).toEqual([
      `member.${otherRunId}`,
      "notes.txt",
      "restored-member.json",
      `snapshot.db.${otherRunId}`,
    ])
    expect(snapshotTree(outside)).toEqual(outsideBefore)

    const again = await prune(root)
    expect(again.ok, again.context).toBe(true)
    expect(again.output).toContain(`Nothing kept by a restore or stand-down under ${root}.`)
  })

  it("by default (--older-than 7d) removes what was kept more than a week ago", async () => {
    const root = await restoredHost()
    const sixDays = await prune(root, { olderThanMs: 7 * dayMs }, Date.now() + 6 * dayMs)
    expect(sixDays.ok, sixDays.context).toBe(true)
    expect(sixDays.output).toContain("Removing 0 (")
    const eightDays = await prune(root, { olderThanMs: 7 * dayMs }, Date.now() + 8 * dayMs)
    expect(eightDays.ok, eightDays.context).toBe(true)
    expect(eightDays.output).toContain("prune-host: removed 8 of 8 kept entries")
    for (const path of keptByRestore) {
      expect(existsSync(join(root, path)), path).toBe(false)
    }
  })

  it("refuses, removing nothing, after an interrupted restore (its output directory in /var/lib/etcd)", async () => {
    const root = await restoredHost()
    mkdirSync(join(root, `var/lib/etcd/restore-${otherRunId}/member`), { recursive: true })
    const before = snapshotTree(root)
    for (const dryRun of [true, false]) {
      const run = await prune(root, { dryRun })
      expect(run.ok, run.context).toBe(false)
      expect(run.error?._tag).toBe("RestoreRefused")
      expect(run.error?.message).toContain(`/var/lib/etcd/restore-${otherRunId} is there: restore ${otherRunId} was interrupted`)
      expect(run.error?.message).toMatch(dryRun ? /^dry run: a real prune-host would be refused/ : /^prune-host refused before any change/)
      expect(snapshotTree(root)).toEqual(before)
    }
  })

  it("refuses while a restore or stand-down holds the host's lock", async () => {
    const root = await restoredHost()
    const before = snapshotTree(root)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(join(root, "etc/kubernetes/.cluster-backup-restore.lock"), "cluster-backup restore (test)")
          const dry = yield* Effect.promise(() => prune(root, { dryRun: true }))
          expect(dry.error?.message).toContain("held by cluster-backup restore (test)")
          const real = yield* Effect.promise(() => prune(root))
          expect(real.error?._tag).toBe("RunLockHeld")
        }),
      ),
    )
    expect(snapshotTree(root)).toEqual(before)
  })
})

describe("prune-host on a host stood down", () => {
  it("refuses until the host has rejoined (a member and its manifests again), then removes what the stand-down kept", async () => {
    const root = makeOtherHostTree("cb-prune-host-stood-down-", "old data\n", '{"maxRaftIndex":5}\n')
    const out: Array<string> = []
    const stood = await Effect.runPromise(
      Effect.exit(
        standDown({ root, dryRun: false, standDownId: otherRunId, output: (t) => Effect.sync(() => void out.push(t)) }).pipe(Effect.provide(hostLayers)),
      ),
    )
    expect(Exit.isSuccess(stood), out.join("")).toBe(true)
    const before = snapshotTree(root)
    const refused = await prune(root)
    expect(refused.ok).toBe(false)
    expect(refused.error?.message).toContain("/var/lib/etcd/member is missing: etcd has no member on this host")
    expect(refused.error?.message).toContain("/etc/kubernetes/manifests/etcd-pod.yaml, /etc/kubernetes/manifests/kube-apiserver-pod.yaml")
    expect(snapshotTree(root)).toEqual(before)

    // Links are followed, as etcd and the kubelet follow them: a dangling one is no member or manifest.
    for (const pod of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
      writeFileSync(join(root, `etc/kubernetes/manifests/${pod}-pod.yaml`), `kind: Pod # ${pod}, redeployed\n`)
    }
    symlinkSync(join(root, "etc/kubernetes/gone.yaml"), join(root, "etc/kubernetes/manifests/etcd-pod.yaml"))
    symlinkSync(join(root, "var/lib/etcd/gone"), join(root, "var/lib/etcd/member"))
    const dangling = await prune(root)
    expect(dangling.error?.message).toContain("/var/lib/etcd/member is missing")
    expect(dangling.error?.message).toContain("/etc/kubernetes/manifests/etcd-pod.yaml is missing")
    rmSync(join(root, "var/lib/etcd/member"))
    rmSync(join(root, "etc/kubernetes/manifests/etcd-pod.yaml"))

    // The etcd operator adds the host back: a new member and new manifests.
    mkdirSync(join(root, "var/lib/etcd/member/snap"), { recursive: true })
    writeFileSync(join(root, "var/lib/etcd/member/snap/db"), "new member\n")
    for (const pod of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
      writeFileSync(join(root, `etc/kubernetes/manifests/${pod}-pod.yaml`), `kind: Pod # ${pod}, redeployed\n`)
    }
    const rejoined = await prune(root)
    expect(rejoined.ok, rejoined.context).toBe(true)
    expect(rejoined.output).toContain("prune-host: removed 6 of 6 kept entries")
    expect(readdirSync(join(root, "var/lib/etcd-backup"))).toEqual(["stood-down.json"])
    expect(readdirSync(join(root, "etc/kubernetes/manifests-stopped"))).toEqual([])
  })
})

describe("prune-host and downloads", () => {
  it("keeps a download a live restore holds, removes a finished one, and finishes a removal a killed run left", async () => {
    const root = await restoredHost()
    const downloads = join(root, "var/lib/etcd-backup/downloads")
    for (const id of ["2026-01-01_000000", "2026-01-02_000000"]) {
      mkdirSync(join(downloads, id), { recursive: true })
      writeFileSync(join(downloads, id, "backup-manifest.json"), "{}\n")
    }
    mkdirSync(join(root, "var/lib/etcd-backup/.cluster-backup-removing-member.old/snap"), { recursive: true })
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(join(downloads, "2026-01-02_000000.lock"), "cluster-backup restore (test)")
          const run = yield* Effect.promise(() => prune(root))
          expect(run.ok, run.context).toBe(true)
          expect(run.output).toContain("removed  /var/lib/etcd-backup/downloads/2026-01-01_000000 (")
          expect(run.output).toMatch(
            /keep {2}\/var\/lib\/etcd-backup\/downloads\/2026-01-02_000000\n.*stays: a live run uses it: cluster-backup restore \(test\)/,
          )
          expect(run.output).toContain("what a killed prune-host was removing")
        }),
      ),
    )
    expect(readdirSync(downloads)).toEqual(["2026-01-02_000000"])
    expect(readdirSync(join(root, "var/lib/etcd-backup")).filter((n) => n.startsWith("."))).toEqual([])
  })
})

describe("prune-host when an entry cannot be removed", () => {
  it("removes the others and fails naming it; the hidden rest never blocks a restore's sweep, and the next prune-host removes it", async () => {
    const root = await restoredHost()
    const failing = await prune(root, {}, undefined, layersWith(cannotRemoveHidden))
    expect(failing.ok).toBe(false)
    expect(failing.error?._tag).toBe("PruneHostIncomplete")
    expect(failing.error?.message).toMatch(
      /^prune-host removed 0 of 8 kept entries, 0 B freed, but could not remove \/etc\/kubernetes\/manifests-stopped\/etcd-pod\.yaml/,
    )
    for (const path of keptByRestore) {
      expect(failing.output).toContain(`FAILED   /${path}: cannot remove`)
      expect(existsSync(join(root, path)), path).toBe(false)
    }
    expect(existsSync(join(root, "var/lib/etcd-backup/.cluster-backup-removing-member"))).toBe(true)

    // What restore and stand-down sweep first: only space, so left with a word, not a failure; decoded keys must go.
    const swept = await Effect.runPromise(sweepLeftovers(root).pipe(Effect.provide(cannotRemoveHidden)))
    expect(swept.find((l) => l.path.endsWith("/var/lib/etcd-backup/.cluster-backup-removing-member"))?.notRemoved).toContain("EPERM")
    expect(swept.map(renderSwept).join("\n")).toContain("it could not be removed (cannot remove")
    mkdirSync(join(root, "etc/kubernetes/.cluster-backup-extract-x"))
    const secrets = await Effect.runPromise(Effect.exit(sweepLeftovers(root).pipe(Effect.provide(cannotRemoveHidden))))
    expect(Exit.isFailure(secrets)).toBe(true)

    const next = await prune(root)
    expect(next.ok, next.context).toBe(true)
    expect(next.output).toContain("what a killed prune-host was removing")
    expect(snapshotTree(root).filter((line) => line.includes(".cluster-backup-"))).toEqual([])
  })
})
