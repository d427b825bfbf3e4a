/**
 * `stand-down` on a control-plane host simulated under a temporary root: the restore's stopping
 * steps alone, with the restore's executor, checks and lock. Real files, real processes for the
 * wait (a `sleep` whose working directory is etcd's data directory).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { stepIds } from "../../../src/domain/host-steps.ts"
import { type StandDownOptions, standDown } from "../../../src/programs/restore/stand-down.ts"
import { restoreLockPath } from "../../../src/programs/restore/restore-leftovers.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { HostProcesses } from "../../../src/services/host-processes.ts"
import { acquireRunLock } from "../../../src/services/run-lock.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { etcdOnDedicatedDisk, makeOtherHostTree, recordedRestoreId, staticPods, writeRestoredMemberRecord } from "../../support/bad-backups.ts"
import { snapshotTree } from "../../support/hostile-tarballs.ts"
import { tempDir } from "../../support/temp-dir.ts"

const standDownId = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

const hostTree = () => makeOtherHostTree("cb-stand-down-", "this member's data\n", '{"maxRaftIndex":5000}')

const layer = Layer.mergeAll(DiskSpace.live, DurableFiles.live, HostProcesses.live, Etcdutl.live(), Tarball.live, NodeServices.layer)

const run = async (root: string, options: Partial<StandDownOptions> = {}) => {
  const out: Array<string> = []
  const exit = await Effect.runPromise(
    Effect.exit(
      standDown({ root, dryRun: false, standDownId, output: (text) => Effect.sync(() => void out.push(text)), ...options }).pipe(Effect.provide(layer)),
    ),
  )
  return { exit, output: out.join("") }
}

const failure = (ran: Awaited<ReturnType<typeof run>>) => {
  if (Exit.isSuccess(ran.exit)) throw new Error(`expected a failure:\n${ran.output}`)
  const reason = ran.exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined) throw new Error(Cause.pretty(ran.exit.cause))
  return reason.error as unknown as { readonly _tag: string; readonly message: string } & Record<string, unknown>
}

const success = (ran: Awaited<ReturnType<typeof run>>) => {
  if (Exit.isFailure(ran.exit)) throw new Error(`${Cause.pretty(ran.exit.cause)}\n${ran.output}`)
  return ran.exit.value
}

const read = (root: string, relative: string) => readFileSync(join(root, relative), "utf8")

describe("stand-down", () => {
  it("stops the four static pods and keeps etcd's data aside, nothing deleted; run again, it has nothing left to do", async () => {
    const root = hostTree()
    const ran = await run(root)
    // The restore's stopping steps, in its order (no interrupted restore's output to set aside here).
    const stopping = stepIds.slice(stepIds.indexOf("stop-control-plane"), stepIds.indexOf("restore-resources"))
    expect(success(ran).ran).toEqual(stopping.filter((id) => id !== "set-aside-partial-restores"))
    expect(readdirSync(join(root, "etc/kubernetes/manifests"))).toEqual([])
    for (const pod of staticPods) expect(read(root, `etc/kubernetes/manifests-stopped/${pod}-pod.yaml`)).toBe(`kind: Pod # ${pod}\n`)
    expect(readdirSync(join(root, "var/lib/etcd"))).toEqual([])
    expect(read(root, "var/lib/etcd-backup/member/snap/db")).toBe("this member's data\n")
    expect(read(root, "var/lib/etcd-backup/revision.json")).toBe('{"maxRaftIndex":5000}')
    // The record that makes a restore here refuse until the host has rejoined.
    expect(JSON.parse(read(root, "var/lib/etcd-backup/stood-down.json")).standDownId).toBe(standDownId)
    expect(ran.output).toContain(`Stand-down stand-down-${standDownId} complete: 6 steps ran.`)
    expect(ran.output.trimEnd().split("\n").at(-1)).toBe(
      "Then, once every other control-plane host is stood down: cluster-backup restore <backup> on the recovery host (README: After the restore).",
    )
    expect(existsSync(restoreLockPath(root))).toBe(false)

    const before = snapshotTree(root)
    expect(success(await run(root, { standDownId: "8d0f7780-8536-41ef-a55c-f18ad2e01bf8" })).ran).toEqual(["wait-control-plane-stopped", "wait-etcd-stopped"])
    expect(snapshotTree(root)).toEqual(before)
  })

  it("from a dedicated etcd disk, copies the member off it (fsynced) before the original goes", async () => {
    const root = hostTree()
    const disk = etcdOnDedicatedDisk(root)
    try {
      const ran = await run(root)
      expect(success(ran).ran).toContain("keep-old-member")
      expect(ran.output).toContain("(from another file system: copied through a hidden .cluster-backup-part-")
      expect(read(root, "var/lib/etcd-backup/member/snap/db")).toBe("this member's data\n")
      expect(readdirSync(disk)).toEqual([])
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  })

  it("--dry-run prints the plan and the checks and changes nothing", async () => {
    const root = hostTree()
    const before = snapshotTree(root)
    const dry = await run(root, { dryRun: true })
    expect(success(dry).ran).toEqual([])
    expect(dry.output.startsWith(`Stand-down plan stand-down-${standDownId}\n`)).toBe(true)
    expect(dry.output).toContain(`move     ${root}/var/lib/etcd/member -> ${root}/var/lib/etcd-backup/member`)
    expect(dry.output).toContain("Dry run: every check that can be made now passes; a real run would start. Nothing was changed.")
    expect(snapshotTree(root)).toEqual(before)
  })

  it("refuses before any change when a directory it writes into is not one", async () => {
    const root = hostTree()
    writeFileSync(join(root, "var/lib/etcd-backup"), "not a directory\n")
    const before = snapshotTree(root)
    const error = failure(await run(root))
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toContain("stand-down refused before any change")
    expect(error.message).toContain("var/lib/etcd-backup")
    expect(snapshotTree(root)).toEqual(before)
  })

  it("refuses a root that is no control-plane host (a wrong --root) rather than report a stand-down that stopped nothing", async () => {
    const root = tempDir("cb-stand-down-not-a-host-")
    mkdirSync(join(root, "etc/kubernetes"), { recursive: true })
    const before = snapshotTree(root)
    const error = failure(await run(root))
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toContain(`${root}/etc/kubernetes/manifests is a directory`)
    expect(error.message).toContain("--root must be the host's / (from oc debug node: --root /host)")
    expect(snapshotTree(root)).toEqual(before)
  })

  describe("on the recovery host of a restore (the record of the member it put in place)", () => {
    const recordFile = (root: string) => join(root, "var/lib/etcd-backup/restored-member.json")

    it("refuses, dry or real, while the member the record names is etcd's member, and changes nothing", async () => {
      const root = hostTree()
      writeRestoredMemberRecord(root)
      const before = snapshotTree(root)
      for (const dryRun of [true, false]) {
        const ran = await run(root, { dryRun })
        const error = failure(ran)
        expect(error._tag).toBe("RestoreRefused")
        expect(error.message).toContain(
          `this is the recovery host: restore-${recordedRestoreId} put the restored member of /home/core/backup in place here at 2026-12-06T11:00:00Z`,
        )
        expect(ran.output).toContain("not the recovery host of a restore, whose member a stand-down would move aside: NOT MET")
      }
      expect(snapshotTree(root)).toEqual(before)
    })

    it("goes on where the member the record names is no longer in place (a member put there since)", async () => {
      const root = hostTree()
      writeRestoredMemberRecord(root)
      renameSync(join(root, "var/lib/etcd/member"), join(root, "var/lib/etcd/member-old"))
      mkdirSync(join(root, "var/lib/etcd/member/snap"), { recursive: true })
      writeFileSync(join(root, "var/lib/etcd/member/snap/db"), "a member put here since\n")
      const ran = await run(root)
      expect(success(ran).ran).toContain("keep-old-member")
      expect(ran.output).toContain("its member is no longer in place): ok")
      expect(read(root, "var/lib/etcd-backup/member/snap/db")).toBe("a member put here since\n")
    })

    it("refuses a record it cannot read (damaged, or a FIFO planted there), never waits on it, and names the flag", async () => {
      for (const plant of [(path: string) => writeFileSync(path, '{"restoreId":'), (path: string) => execFileSync("mkfifo", [path])]) {
        const root = hostTree()
        mkdirSync(join(root, "var/lib/etcd-backup"), { recursive: true })
        plant(recordFile(root))
        const before = snapshotTree(root)
        const error = failure(await run(root))
        expect(error.message).toContain(`${recordFile(root)} is unreadable`)
        expect(error.message).toContain("pass --even-on-recovery-host")
        expect(snapshotTree(root)).toEqual(before)
        expect(success(await run(root, { evenOnRecoveryHost: true })).ran).toContain("keep-old-member")
      }
    })
  })

  it("is refused while a restore runs on the host", async () => {
    const root = hostTree()
    const before = snapshotTree(root)
    const held = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(restoreLockPath(root), "cluster-backup restore (a test)")
          return failure(yield* Effect.promise(() => run(root)))
        }),
      ).pipe(Effect.provide(NodeServices.layer)),
    )
    expect(held._tag).toBe("RunLockHeld")
    expect(snapshotTree(root).filter((e) => !e.includes(".cluster-backup-restore.lock"))).toEqual(before)
  })

  it("waits for etcd to stop within its bound; given up, etcd's data was not touched, and a rerun goes on", async () => {
    const root = hostTree()
    const holder: ChildProcess = spawn("sleep", ["60"], { cwd: join(root, "var/lib/etcd"), stdio: "ignore" })
    try {
      const error = failure(await run(root, { stopTimeoutSeconds: 1, stopPollMillis: 100 }))
      expect(error._tag).toBe("RestoreStepFailed")
      expect(error.step).toBe("wait-etcd-stopped")
      expect(error.completed).toEqual(["stop-control-plane", "wait-control-plane-stopped", "stop-etcd"])
      expect(error.message).toContain(`etcd did not stop within 1 s: pid ${holder.pid} (sleep) has its working directory in`)
      expect(error.message).toContain("run the stand-down again")
      expect(read(root, "var/lib/etcd/member/snap/db")).toBe("this member's data\n")
    } finally {
      holder.kill("SIGKILL")
    }
    await new Promise((resolve) => holder.once("exit", resolve))
    const again = await run(root, { standDownId: "8d0f7780-8536-41ef-a55c-f18ad2e01bf8" })
    expect(success(again).ran).toEqual(["wait-control-plane-stopped", "wait-etcd-stopped", "keep-old-member", "keep-revision-json"])
    expect(read(root, "var/lib/etcd-backup/member/snap/db")).toBe("this member's data\n")
  })
})
