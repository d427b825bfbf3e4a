/**
 * The recovery on hosts laid out as RHCOS lays them out: the root on XFS (reflinks on) and etcd's data
 * directory on an XFS disk of its own mounted at /var/lib/etcd. The other tests run on this machine's ext4
 * and put etcd's "disk" behind a symbolic link to /dev/shm; here it is a real mount point, which nothing may
 * rename or remove, on a block device of its own. A real backup (etcd 3.5) is restored by the real etcdutl.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { readManifest } from "../../support/bad-backups.ts"
import { pruneHost } from "../../../src/programs/prune-host/prune-host.ts"
import { standDown } from "../../../src/programs/restore/stand-down.ts"
import { undoStandDown } from "../../../src/programs/restore/stand-down-undo.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { HostProcesses } from "../../../src/services/host-processes.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { makeBackup, makeHostTree, makeOtherHostTree, restoreOnHost, type SharedEtcd, startSharedEtcd } from "../../support/bad-backups.ts"
import { snapshotTree } from "../../support/hostile-tarballs.ts"
import { isMountPoint, mountXfs, type XfsMount } from "../../support/xfs-mount.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const restoreId = "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"
const standDownId = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
const layers = Layer.mergeAll(DiskSpace.live, DurableFiles.live, HostProcesses.live, Etcdutl.live(), Tarball.live, NodeServices.layer)

const run = async <A>(effect: Effect.Effect<A, unknown, never>, out: Array<string>) => {
  const exit = await Effect.runPromise(Effect.exit(effect))
  return { ok: Exit.isSuccess(exit), output: out.join(""), cause: Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "" }
}
const printer = (out: Array<string>) => (text: string) => Effect.sync(() => void out.push(text))

let mounts: Array<XfsMount> = []
/** An XFS mounted on `mountPoint` for the test (unmounted after it, the last mounted first). */
const xfsOn = (mountPoint: string) => {
  const mount = mountXfs(mountPoint)
  mounts.push(mount)
  return mount.mountPoint
}
/** A fresh host root on an XFS of its own. */
const xfsRoot = () => xfsOn(mkdtempSync(join(tmpdir(), "cb-xfs-host-")))
/** Moves what `<root>/var/lib/etcd` holds onto an XFS mounted there: etcd's disk of its own. */
const etcdDiskOnXfs = (root: string) => {
  const dataDir = join(root, "var/lib/etcd")
  const held = mkdtempSync(join(tmpdir(), "cb-xfs-etcd-"))
  cpSync(dataDir, held, { recursive: true })
  rmSync(dataDir, { recursive: true })
  xfsOn(dataDir)
  cpSync(held, dataDir, { recursive: true })
  rmSync(held, { recursive: true })
  expect(isMountPoint(dataDir)).toBe(true)
  return dataDir
}

afterEach(() => {
  for (const mount of mounts.reverse()) mount.unmount()
  for (const mount of mounts) rmSync(mount.mountPoint, { recursive: true, force: true })
  mounts = []
})

let etcd: SharedEtcd
let backup: string

beforeAll(async () => {
  etcd = await startSharedEtcd("restore-xfs")
  backup = join(etcd.workDir, "backup")
  await Effect.runPromise(makeBackup(backup, etcd.member.connection, loadedCluster()))
})

afterAll(async () => {
  await etcd?.close()
})

describe("the recovery on XFS", () => {
  it("restores a host whose root is XFS: the snapshot's copy is a reflink (its blocks shared), the backup's file untouched", async () => {
    const host = makeHostTree(xfsRoot(), backup)
    const snapshot = join(host.backupDir, readManifest(host.backupDir).files.snapshot.name)
    // Not 0600: no hard link may stand for the copy, so only a reflink keeps its bytes from being copied.
    chmodSync(snapshot, 0o640)
    const out: Array<string> = []
    const real = await run(restoreOnHost(host, out, { restoreId }).pipe(Effect.provide(layers)), out)
    expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
    expect(real.output).toContain("reflinked: no data copied")
    const copy = join(host.root, "var/lib/etcd-backup/snapshot.db")
    expect(readFileSync(copy).equals(readFileSync(snapshot))).toBe(true)
    expect(statSync(copy).ino).not.toBe(statSync(snapshot).ino)
    expect(statSync(copy).mode & 0o777).toBe(0o600)
    expect(statSync(snapshot).mode & 0o777).toBe(0o640)
    // The kernel's own account: the copy's extents are shared with the backup's (filefrag, e2fsprogs).
    expect(execFileSync("filefrag", ["-v", copy], { encoding: "utf8" })).toMatch(/\bshared\b/)
    expect(readFileSync(join(host.root, "var/lib/etcd-backup/member/snap/db"), "utf8")).toBe("old etcd data\n")
    expect(statSync(join(host.root, "var/lib/etcd/member/snap/db")).size).toBeGreaterThan(0)
  })

  it("foresees the snapshot's reflink: an XFS with room for the restore but not for a second copy of the snapshot is restored, not refused", async () => {
    const host = makeHostTree(xfsRoot(), backup)
    const manifest = readManifest(host.backupDir)
    const snapshotBytes = manifest.files.snapshot.size
    chmodSync(join(host.backupDir, manifest.files.snapshot.name), 0o640)
    const dry: Array<string> = []
    const planned = await Effect.runPromise(restoreOnHost(host, dry, { restoreId, dryRun: true }).pipe(Effect.provide(layers)))
    const room = planned.plan.steps.flatMap((step) =>
      step.preconditions.flatMap((p) => (p._tag === "FreeSpace" ? [{ step: step.id, bytes: p.bytes - (p.freedBefore ?? 0) }] : [])),
    )
    // The copy asks for no room: the reflink was tried (into an unnamed file) and will be made.
    expect(room.map((r) => r.step)).not.toContain("copy-snapshot")
    expect(readdirSync(join(host.root, "var/lib")).sort()).toEqual(["etcd"])
    // The volume then has what the restore needs, and half a snapshot more: less than a copy of the snapshot would take.
    const needed = room.filter((r) => r.step !== "copy-snapshot").reduce((sum, r) => sum + r.bytes, 0)
    const { bavail, bsize } = statfsSync(host.root)
    execFileSync("fallocate", ["-l", String(bavail * bsize - needed - Math.floor(snapshotBytes / 2)), join(host.root, "filler")])
    const out: Array<string> = []
    const real = await run(restoreOnHost(host, out, { restoreId }).pipe(Effect.provide(layers)), out)
    expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
    expect(real.output).toContain("reflinked: no data copied")
  })

  it("restores a host whose /var/lib/etcd is an XFS disk of its own: the old member copied off it, the mount point kept", async () => {
    const host = makeHostTree(xfsRoot(), backup)
    const dataDir = etcdDiskOnXfs(host.root)
    const out: Array<string> = []
    const real = await run(restoreOnHost(host, out, { restoreId }).pipe(Effect.provide(layers)), out)
    expect(real.ok, `${real.output}\n${real.cause}`).toBe(true)
    expect(real.output).toContain("old data was kept, copied off etcd's disk before it was removed there.")
    expect(isMountPoint(dataDir)).toBe(true)
    expect(readdirSync(dataDir).filter((n) => n !== "lost+found")).toEqual(["member"])
    expect(statSync(join(dataDir, "member/snap/db")).size).toBeGreaterThan(0)
    expect(readFileSync(join(host.root, "var/lib/etcd-backup/member/snap/db"), "utf8")).toBe("old etcd data\n")
    expect(statSync(join(host.root, "var/lib/etcd-backup/member")).dev).not.toBe(statSync(dataDir).dev)
  })

  it("stands down, undoes and prunes a host whose /var/lib/etcd is an XFS disk of its own: the member goes off the disk and back onto it whole", async () => {
    const root = makeOtherHostTree("cb-xfs-other-", "live data\n", '{"maxRaftIndex":7}\n')
    const onXfs = join(xfsRoot(), "host")
    cpSync(root, onXfs, { recursive: true })
    const dataDir = etcdDiskOnXfs(onXfs)
    const before = snapshotTree(onXfs)

    const down: Array<string> = []
    const stood = await run(standDown({ root: onXfs, dryRun: false, standDownId, output: printer(down) }).pipe(Effect.provide(layers)), down)
    expect(stood.ok, `${stood.output}\n${stood.cause}`).toBe(true)
    expect(isMountPoint(dataDir)).toBe(true)
    expect(readdirSync(dataDir).filter((n) => n !== "lost+found")).toEqual([])
    expect(readFileSync(join(onXfs, "var/lib/etcd-backup/member/snap/db"), "utf8")).toBe("live data\n")

    const back: Array<string> = []
    const undone = await run(undoStandDown({ root: onXfs, dryRun: false, output: printer(back) }).pipe(Effect.provide(layers)), back)
    expect(undone.ok, `${undone.output}\n${undone.cause}`).toBe(true)
    expect(isMountPoint(dataDir)).toBe(true)
    expect(readFileSync(join(dataDir, "member/snap/db"), "utf8")).toBe("live data\n")
    expect(readFileSync(join(dataDir, "revision.json"), "utf8")).toBe('{"maxRaftIndex":7}\n')
    const record = (l: string) => l.includes("stood-down.json") || /^d \d+ (etc\/kubernetes\/manifests-stopped|var\/lib\/etcd-backup)$/.test(l)
    expect(snapshotTree(onXfs).filter((l) => !record(l))).toEqual(before)

    // In service again, the record gone with the stand-down: prune-host finds nothing kept, and removes nothing.
    const pruned: Array<string> = []
    const prune = await run(pruneHost({ root: onXfs, dryRun: false, olderThanMs: 0, output: printer(pruned) }).pipe(Effect.provide(layers)), pruned)
    expect(prune.ok, `${prune.output}\n${prune.cause}`).toBe(true)
    expect(readdirSync(join(onXfs, "var/lib/etcd-backup"))).toEqual([])
  })
})
