/**
 * stand-down --undo on the tree a real stand-down leaves: the host comes back exactly as it was, what earlier
 * runs kept stays kept, a rerun finds nothing to do, and where what the stand-down moved cannot be told, or a
 * restore was interrupted, nothing moves.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { standDown } from "../../../src/programs/restore/stand-down.ts"
import { type StandDownUndoOptions, undoStandDown } from "../../../src/programs/restore/stand-down-undo.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { HostProcesses } from "../../../src/services/host-processes.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { etcdOnDedicatedDisk, makeOtherHostTree, recordedRestoreId, writeRestoredMemberRecord } from "../../support/bad-backups.ts"
import { snapshotTree } from "../../support/hostile-tarballs.ts"

const standDownId = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
const layers = Layer.mergeAll(DiskSpace.live, DurableFiles.live, HostProcesses.live, Etcdutl.live(), Tarball.live, NodeServices.layer)

const run = async <A>(effect: Effect.Effect<A, unknown, never>) => {
  const exit = await Effect.runPromise(Effect.exit(effect))
  const error = Exit.isFailure(exit) ? (exit.cause.reasons.find(Cause.isFailReason)?.error as { _tag: string; message: string } | undefined) : undefined
  return { ok: Exit.isSuccess(exit), error, cause: Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "" }
}

const standDownHere = async (root: string, evenOnRecoveryHost = false) => {
  const out: Array<string> = []
  const ran = await run(
    standDown({ root, dryRun: false, standDownId, evenOnRecoveryHost, output: (t) => Effect.sync(() => void out.push(t)) }).pipe(Effect.provide(layers)),
  )
  expect(ran.ok, `${out.join("")}\n${ran.cause}`).toBe(true)
}

const undo = async (root: string, options: Partial<StandDownUndoOptions> = {}) => {
  const out: Array<string> = []
  const ran = await run(undoStandDown({ root, dryRun: false, output: (t) => Effect.sync(() => void out.push(t)), ...options }).pipe(Effect.provide(layers)))
  return { ...ran, output: out.join("") }
}

/** What the host held before, without the record and the directories the stand-down made. */
const comparable = (root: string) =>
  snapshotTree(root).filter((l) => !l.includes("stood-down.json") && !/^d \d+ (etc\/kubernetes\/manifests-stopped|var\/lib\/etcd-backup)$/.test(l))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("stand-down --undo", () => {
  it("puts back exactly what the stand-down moved, not what earlier runs kept; a rerun finds nothing to do", async () => {
    const root = makeOtherHostTree("cb-undo-", "live data\n", '{"maxRaftIndex":7}\n')
    // What an earlier recovery kept, under the names the stand-down then finds taken.
    mkdirSync(join(root, "var/lib/etcd-backup/member/snap"), { recursive: true })
    writeFileSync(join(root, "var/lib/etcd-backup/member/snap/db"), "an older member\n")
    writeFileSync(join(root, "var/lib/etcd-backup/revision.json"), '{"maxRaftIndex":1}\n')
    mkdirSync(join(root, "etc/kubernetes/manifests-stopped"))
    writeFileSync(join(root, "etc/kubernetes/manifests-stopped/etcd-pod.yaml"), "kind: Pod # an older etcd\n")
    const before = comparable(root)
    await sleep(1100)
    await standDownHere(root)

    const dry = await undo(root, { dryRun: true })
    expect(dry.ok, dry.cause).toBe(true)
    expect(dry.output).toContain(`move  /var/lib/etcd-backup/member.${standDownId} -> /var/lib/etcd/member  (etcd's member)`)
    expect(dry.output).toContain(`move  /var/lib/etcd-backup/revision.json.${standDownId} -> /var/lib/etcd/revision.json`)
    expect(dry.output).toContain(`move  /etc/kubernetes/manifests-stopped/etcd-pod.yaml.${standDownId} -> /etc/kubernetes/manifests/etcd-pod.yaml`)
    expect(dry.output).toContain("6 moves back")

    expect(dry.output).toContain("remove /var/lib/etcd-backup/stood-down.json")
    expect(existsSync(join(root, "var/lib/etcd-backup/stood-down.json"))).toBe(true)

    const real = await undo(root)
    expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
    expect(real.output).toContain("Stand-down undone: 6 moves back.")
    expect(comparable(root)).toEqual(before)
    // The record is gone with the stand-down: what is kept here now is only what earlier runs kept.
    expect(readdirSync(join(root, "var/lib/etcd-backup")).sort()).toEqual(["member", "revision.json"])
    expect(readFileSync(join(root, "var/lib/etcd/member/snap/db"), "utf8")).toBe("live data\n")

    const again = await undo(root)
    expect(again.ok, again.cause).toBe(true)
    expect(again.output).toContain("nothing to put back")
    expect(comparable(root)).toEqual(before)
  })

  it("puts back what the record names beside an entry kept within the same second; refuses, moving nothing, once a chmod made an older one look newer", async () => {
    const root = makeOtherHostTree("cb-undo-chmod-", "live data\n", '{"maxRaftIndex":7}\n')
    mkdirSync(join(root, "etc/kubernetes/manifests-stopped"))
    writeFileSync(join(root, "etc/kubernetes/manifests-stopped/etcd-pod.yaml"), "kind: Pod # an older etcd\n")
    const before = comparable(root)
    await sleep(1100)
    await standDownHere(root)
    // Kept within a second of the stand-down's member: by ctime alone, which is the stand-down's cannot be told.
    mkdirSync(join(root, "var/lib/etcd-backup/member.0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"))
    const dry = await undo(root, { dryRun: true })
    expect(dry.ok, `${dry.output}\n${dry.cause}`).toBe(true)
    expect(dry.output).toContain(`move  /var/lib/etcd-backup/member -> /var/lib/etcd/member  (etcd's member)`)
    expect(dry.output).toContain(`move  /etc/kubernetes/manifests-stopped/etcd-pod.yaml.${standDownId} -> /etc/kubernetes/manifests/etcd-pod.yaml`)
    rmSync(join(root, "var/lib/etcd-backup/member.0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"), { recursive: true })

    await sleep(1100)
    // A person's chmod (or a relabel) after the stand-down: the older manifest's ctime is now the newest.
    const older = join(root, "etc/kubernetes/manifests-stopped/etcd-pod.yaml")
    chmodSync(older, statSync(older).mode & 0o777)
    const stoodDown = snapshotTree(root)
    const refused = await undo(root)
    expect(refused.ok).toBe(false)
    expect(refused.output).toContain(
      `names /etc/kubernetes/manifests-stopped/etcd-pod.yaml.${standDownId} as the stand-down's, but /etc/kubernetes/manifests-stopped/etcd-pod.yaml was kept or changed after it`,
    )
    expect(snapshotTree(root)).toEqual(stoodDown)
    // Moved back by hand as the refusal says, the undo does the rest.
    renameSync(join(root, `etc/kubernetes/manifests-stopped/etcd-pod.yaml.${standDownId}`), join(root, "etc/kubernetes/manifests/etcd-pod.yaml"))
    const real = await undo(root)
    expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
    expect(comparable(root)).toEqual(before)
  })

  it("after an undo killed once etcd's member was back, a rerun still puts revision.json and the manifests back", async () => {
    const root = makeOtherHostTree("cb-undo-resumed-", "live data\n", '{"maxRaftIndex":7}\n')
    const before = comparable(root)
    await standDownHere(root)
    renameSync(join(root, "var/lib/etcd-backup/member"), join(root, "var/lib/etcd/member"))
    const real = await undo(root)
    expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
    expect(real.output).toContain("5 moves back")
    expect(comparable(root)).toEqual(before)
  })

  it("refuses, moving nothing, where a restore put its member in place after the stand-down (one killed before it started the pods)", async () => {
    const root = makeOtherHostTree("cb-undo-restored-", "live data\n", '{"maxRaftIndex":7}\n')
    await standDownHere(root)
    await sleep(1100)
    // restore --even-after-stand-down here since, killed once its member was in place, before it started the pods.
    mkdirSync(join(root, "var/lib/etcd/member/snap"), { recursive: true })
    writeFileSync(join(root, "var/lib/etcd/member/snap/db"), "restored data\n")
    writeRestoredMemberRecord(root, new Date().toISOString())
    const before = snapshotTree(root)
    for (const dryRun of [true, false]) {
      const refused = await undo(root, { dryRun })
      expect(refused.ok).toBe(false)
      expect(refused.output).toContain(
        `/etc/kubernetes/manifests-stopped/etcd-pod.yaml was kept before restore-${recordedRestoreId} put etcd's member here in place (/var/lib/etcd-backup/restored-member.json): that restore replaced what the stand-down left; run it again to finish it, not --undo`,
      )
      expect(snapshotTree(root)).toEqual(before)
    }
  })

  it("undoes a stand-down of an earlier recovery's host (its restore long before): the restored member goes back", async () => {
    const root = makeOtherHostTree("cb-undo-recovered-", "restored data\n", '{"maxRaftIndex":7}\n')
    writeRestoredMemberRecord(root)
    const before = comparable(root)
    await standDownHere(root, true)
    const real = await undo(root)
    expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
    expect(comparable(root)).toEqual(before)
    expect(readFileSync(join(root, "var/lib/etcd/member/snap/db"), "utf8")).toBe("restored data\n")
  })

  it("where etcd's data directory is a disk of its own, copies the member back onto it", async () => {
    const root = makeOtherHostTree("cb-undo-disk-", "live data\n", '{"maxRaftIndex":7}\n')
    const disk = etcdOnDedicatedDisk(root)
    try {
      const before = comparable(root)
      await standDownHere(root)
      expect(readdirSync(disk)).toEqual([])
      const real = await undo(root)
      expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
      expect(comparable(root)).toEqual(before)
      expect(readFileSync(join(disk, "member/snap/db"), "utf8")).toBe("live data\n")
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  })

  it("after a stand-down stopped only the pods (killed before etcd's member moved), puts the manifests back", async () => {
    const root = makeOtherHostTree("cb-undo-killed-", "live data\n")
    const before = comparable(root)
    mkdirSync(join(root, "etc/kubernetes/manifests-stopped"))
    for (const pod of ["kube-apiserver", "etcd"])
      renameSync(join(root, `etc/kubernetes/manifests/${pod}-pod.yaml`), join(root, `etc/kubernetes/manifests-stopped/${pod}-pod.yaml`))
    const real = await undo(root)
    expect(real.ok, real.cause).toBe(true)
    expect(real.output).toContain("2 moves back")
    expect(comparable(root)).toEqual(before)
  })

  it("refuses, moving nothing, where the stand-down's member cannot be told, where none is kept, where a restore set it aside, and after an interrupted restore", async () => {
    const tied = makeOtherHostTree("cb-undo-tied-", "live data\n")
    await standDownHere(tied)
    mkdirSync(join(tied, "var/lib/etcd-backup/member.0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"))
    // As an earlier version wrote the record, naming no moves: only the ctimes tell, and here they cannot.
    const { moved: _, ...unnamed } = JSON.parse(readFileSync(join(tied, "var/lib/etcd-backup/stood-down.json"), "utf8"))
    writeFileSync(join(tied, "var/lib/etcd-backup/stood-down.json"), `${JSON.stringify(unnamed)}\n`)
    const lost = makeOtherHostTree("cb-undo-lost-", "live data\n")
    await standDownHere(lost)
    renameSync(join(lost, "var/lib/etcd-backup/member"), join(lost, "elsewhere"))
    const interrupted = makeOtherHostTree("cb-undo-interrupted-", "live data\n")
    await standDownHere(interrupted)
    mkdirSync(join(interrupted, "var/lib/etcd/restore-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"))
    // A restore killed after it set etcd's member aside: no stand-down's record names that time.
    const restoring = makeOtherHostTree("cb-undo-restoring-", "live data\n")
    mkdirSync(join(restoring, "etc/kubernetes/manifests-stopped"))
    mkdirSync(join(restoring, "var/lib/etcd-backup"))
    renameSync(join(restoring, "etc/kubernetes/manifests/etcd-pod.yaml"), join(restoring, "etc/kubernetes/manifests-stopped/etcd-pod.yaml"))
    renameSync(join(restoring, "var/lib/etcd/member"), join(restoring, "var/lib/etcd-backup/member"))
    for (const [root, reason] of [
      [restoring, "was not set aside by a stand-down (/var/lib/etcd-backup/stood-down.json is missing or unreadable): a restore set it aside"],
      [tied, "were kept within a second of each other"],
      [lost, "holds no kept member to put back"],
      [interrupted, "a restore was interrupted on this host"],
    ] as const) {
      const before = snapshotTree(root)
      for (const dryRun of [true, false]) {
        const ran = await undo(root, { dryRun })
        expect(ran.ok).toBe(false)
        expect(ran.error?._tag).toBe("RestoreRefused")
        expect(ran.error?.message).toContain(reason)
        expect(snapshotTree(root)).toEqual(before)
      }
    }
  })
})
