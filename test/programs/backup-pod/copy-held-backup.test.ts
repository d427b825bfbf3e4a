import { createHash } from "node:crypto"
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { PassThrough } from "node:stream"
import { describe, expect, it } from "vitest"
import { immediateRetries } from "../../../src/services/kube/retry.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { backupFileNames } from "../../../src/domain/archive-names.ts"
import { encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { copyHeldBackup } from "../../../src/programs/backup-pod/copy-held-backup.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { podType } from "../../../src/services/kube/resources.ts"
import { localExecHandler } from "../../../src/simulation/simulated-exec.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { heldPodStatus } from "../../../src/simulation/simulated-kubelet.ts"
import { writeFakeBackup } from "../../support/fake-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"

const ns = "openshift-etcd"
const ts = "2026-12-07_100000"
const names = backupFileNames(ts, false)
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** A held backup pod whose /backup is a directory here holding backup `ts` (3 MiB snapshot, spanning many exec frames). */
const heldPod = () => {
  const podDir = tempDir("held-backup")
  writeFakeBackup(podDir, ts, { snapshotBytes: 3 * 1024 * 1024 + 5, resourcesBytes: 70_000 })
  const cluster = makeSimulatedCluster()
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "cluster-backup-x1", namespace: ns },
    spec: { containers: [{ name: "backup-hold", image: "x" }] },
  }
  const created = cluster.create(podType, pod)
  if (created._tag !== "Success") throw new Error("pod not created")
  cluster.updateStatus(podType, ns, "cluster-backup-x1", heldPodStatus(created.success, { phase: "Succeeded" }, new Date().toISOString()))
  cluster.setExecHandler(localExecHandler(() => [{ containerPath: "/backup", hostPath: podDir }]))
  return { cluster, podDir }
}

const copy = (
  cluster: SimulatedCluster,
  dir: string,
  reportedId: string | undefined = ts,
  disk = DiskSpace.live,
  onProgress?: (path: string, doneBytes: number, totalBytes: number) => void,
) =>
  Effect.runPromiseExit(
    copyHeldBackup(ns, "cluster-backup-x1", reportedId, dir, onProgress, immediateRetries).pipe(
      Effect.provide(Layer.mergeAll(SimulatedKube.inMemory(cluster), NodeServices.layer, disk)),
    ),
  )

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : undefined
/** The commands run in the pod: each exec is authorized as get, then as create. */
const execs = (cluster: SimulatedCluster) => cluster.requests.filter((r) => r.resource === "pods/exec" && r.verb === "get").length

describe("copyHeldBackup", () => {
  it("copies every file the manifest names, byte for byte, and the manifest, into a new directory", async () => {
    const { cluster, podDir } = heldPod()
    const dir = join(tempDir("copy-to"), "backup")
    const progress: Array<readonly [string, number, number]> = []
    const exit = await copy(cluster, dir, ts, DiskSpace.live, (path, done, total) => progress.push([path, done, total]))
    // Each file's progress grows to its whole size.
    for (const name of [names.snapshot, names.resources]) {
      const seen = progress.filter(([path]) => path === `/backup/${name}`)
      expect(seen.map(([, done]) => done)).toEqual([...seen.map(([, done]) => done)].sort((a, b) => a - b))
      expect(seen.at(-1)).toEqual([`/backup/${name}`, statSync(join(podDir, name)).size, statSync(join(podDir, name)).size])
    }
    expect(Exit.isSuccess(exit) && exit.value.files.map((f) => [f.name, f.reused])).toEqual([
      [names.snapshot, false],
      [names.resources, false],
    ])
    expect(readdirSync(dir).sort()).toEqual(["backup-manifest.json", names.snapshot, names.resources].sort())
    for (const name of readdirSync(dir)) expect(sha256(readFileSync(join(dir, name)))).toBe(sha256(readFileSync(join(podDir, name))))
  })

  it("copies the manifest's signature and the pod's verification record when the pod has them", async () => {
    const { cluster, podDir } = heldPod()
    writeFileSync(join(podDir, "backup-manifest.json.sig"), "signature bytes\n")
    writeFileSync(join(podDir, "verification.json"), '{"verified":true}\n')
    const dir = tempDir("copy-to")
    expect(Exit.isSuccess(await copy(cluster, dir))).toBe(true)
    expect(readFileSync(join(dir, "backup-manifest.json.sig"), "utf8")).toBe("signature bytes\n")
    expect(readFileSync(join(dir, "verification.json"), "utf8")).toBe('{"verified":true}\n')
  })

  it("refuses a file the pod holds damaged: nothing of it kept, and no manifest written", async () => {
    const { cluster, podDir } = heldPod()
    const snapshot = readFileSync(join(podDir, names.snapshot))
    snapshot[1_000_000] = snapshot[1_000_000]! ^ 0xff
    writeFileSync(join(podDir, names.snapshot), snapshot)
    const dir = tempDir("copy-to")
    const exit = await copy(cluster, dir)
    expect(failureOf(exit)).toMatchObject({ _tag: "StoreIntegrityFailed", check: "sha256", key: `/backup/${names.snapshot}` })
    expect((failureOf(exit) as { message: string }).message).toContain("the pod's copy is damaged, nothing kept")
    expect(readdirSync(dir)).toEqual([])
  })

  it("stops reading a file longer than its manifest says, keeping nothing of it", async () => {
    const { cluster, podDir } = heldPod()
    writeFileSync(join(podDir, names.resources), Buffer.alloc(10 * 1024 * 1024, 1))
    const dir = tempDir("copy-to")
    const exit = await copy(cluster, dir)
    expect(failureOf(exit)).toMatchObject({ _tag: "HeldFileTooLarge", path: `/backup/${names.resources}`, maxBytes: 70_000 })
    expect(readdirSync(dir)).toEqual([names.snapshot])
  })

  it("run again after an interrupted copy: removes what it left, keeps a file already copied whole, copies the rest", async () => {
    const { cluster, podDir } = heldPod()
    const dir = tempDir("copy-to")
    writeFileSync(join(dir, names.snapshot), readFileSync(join(podDir, names.snapshot)))
    writeFileSync(join(dir, `${names.resources}.download.part`), "half a file")
    const exit = await copy(cluster, dir)
    expect(Exit.isSuccess(exit) && exit.value.files.map((f) => [f.name, f.reused])).toEqual([
      [names.snapshot, true],
      [names.resources, false],
    ])
    expect(readdirSync(dir).sort()).toEqual(["backup-manifest.json", names.snapshot, names.resources].sort())
    // The manifest, the tarball, and whether a signature and a verification record are there: the snapshot is not read.
    expect(execs(cluster)).toBe(4)
  })

  it("refuses a manifest that names a file outside the directory (a hostile pod), before anything is written", async () => {
    const { cluster, podDir } = heldPod()
    const manifest = JSON.parse(readFileSync(join(podDir, "backup-manifest.json"), "utf8"))
    manifest.files.snapshot.name = "../../escaped.db"
    delete manifest.manifestSha256
    writeFileSync(join(podDir, "backup-manifest.json"), encodeBackupManifest(manifest))
    const parent = tempDir("copy-to")
    const exit = await copy(cluster, join(parent, "backup"))
    expect(failureOf(exit)).toMatchObject({ _tag: "BackupManifestInvalid" })
    expect(readdirSync(parent)).toEqual([])
  })

  it("does a read again from its start when the API fails it on the way (refused, or a stream cut), and keeps only the whole file", async () => {
    const { cluster, podDir } = heldPod()
    cluster.faults.inject(Fault.unavailable(), { resource: "pods/exec", times: 2 })
    const local = localExecHandler(() => [{ containerPath: "/backup", hostPath: podDir }])
    let cuts = 0
    cluster.setExecHandler((request) => {
      const started = local(request)
      if (request.command.at(-1) !== `/backup/${names.snapshot}` || cuts++ > 0) return started
      // The first read of the snapshot breaks off after its first chunk, as a connection cut would.
      const cut = new PassThrough()
      started.stdout.once("data", (chunk: Buffer) => {
        started.kill()
        cut.write(chunk, () => cut.destroy(new Error("connection reset")))
      })
      return { ...started, stdout: cut }
    })
    const dir = tempDir("copy-to")
    const exit = await copy(cluster, dir)
    expect(Exit.isSuccess(exit), JSON.stringify(failureOf(exit))).toBe(true)
    expect(cuts).toBe(2)
    expect(sha256(readFileSync(join(dir, names.snapshot)))).toBe(sha256(readFileSync(join(podDir, names.snapshot))))
    expect(readdirSync(dir).sort()).toEqual(["backup-manifest.json", names.snapshot, names.resources].sort())
  })

  it("refuses a file in the pod that is not a regular one (a FIFO never ends, a link may stand for a key), at once, writing no manifest", async () => {
    const { cluster, podDir } = heldPod()
    execFileSync("mkfifo", [join(podDir, "verification.json")])
    const dir = tempDir("copy-to")
    const fifo = await copy(cluster, dir)
    expect(failureOf(fifo)).toMatchObject({
      _tag: "ExecCommandFailed",
      exitCode: 3,
      stderr: expect.stringMatching(/verification\.json is not a regular file\n$/),
    })
    expect(readdirSync(dir)).not.toContain("backup-manifest.json")

    const linked = heldPod()
    const secret = join(tempDir("container-file"), "tls.key")
    writeFileSync(secret, "a key the container mounts\n")
    rmSync(join(linked.podDir, names.resources))
    symlinkSync(secret, join(linked.podDir, names.resources))
    const linkDir = tempDir("copy-to")
    expect(failureOf(await copy(linked.cluster, linkDir))).toMatchObject({ _tag: "ExecCommandFailed", exitCode: 3 })
    expect(readdirSync(linkDir)).toEqual([names.snapshot])
  })

  it("refuses a directory holding another complete backup, before anything is copied", async () => {
    const { cluster } = heldPod()
    const dir = tempDir("copy-to")
    writeFakeBackup(dir, "2026-11-30_080000")
    const before = readdirSync(dir).sort()
    const exit = await copy(cluster, dir)
    expect(failureOf(exit)).toMatchObject({ _tag: "CompleteBackupInTheWay" })
    expect(readdirSync(dir).sort()).toEqual(before)
  })

  it("refuses a manifest of another backup than the one backup-create reported", async () => {
    const { cluster } = heldPod()
    const dir = join(tempDir("copy-to"), "backup")
    const exit = await copy(cluster, dir, "2026-12-07_090000")
    expect(failureOf(exit)).toMatchObject({ _tag: "HeldBackupMismatch", expected: "2026-12-07_090000", found: ts })
    expect(readdirSync(join(dir, ".."))).toEqual([])
  })

  it("refuses a directory without room for the backup before anything is copied", async () => {
    const { cluster } = heldPod()
    const dir = join(tempDir("copy-to"), "backup")
    const exit = await copy(cluster, dir, ts, DiskSpace.inMemory({ totalBytes: 1024 * 1024 * 1024, availableBytes: 1024 * 1024 }))
    expect(failureOf(exit)).toMatchObject({ _tag: "WorkDirTooSmall" })
    expect(readdirSync(join(dir, ".."))).toEqual([])
  })
})
