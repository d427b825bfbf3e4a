/**
 * Hostile resource tarballs against the restore: a dry run and a real run under a temporary root refuse each
 * one (its manifest even records the hostile file's size and sha256, so only the content can
 * give it away), and the host tree and the directory escapes aim at stay exactly as they were.
 * The restore's extraction step, run directly on each archive, refuses too and leaves nothing
 * behind (not even its staging directory). etcdutl is scripted: these archives never reach it.
 */
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { pathsToObserve } from "../../../src/domain/host-layout.ts"
import type { RestoreAction } from "../../../src/domain/host-steps.ts"
import { planRestore } from "../../../src/domain/restore-plan.ts"
import { decodeRestorePlanInput } from "../../../src/domain/restore-plan-input.ts"
import { revisionBump } from "../../../src/domain/revision-bump.ts"
import { executeAction } from "../../../src/programs/restore/restore-executor.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { HostProcesses } from "../../../src/services/host-processes.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { fakeSnapshotStatuses, makeFakeBackup, makeHostTree, readManifest, restoreOnHost } from "../../support/bad-backups.ts"
import { hostileTarballs, snapshotTree, validTarball } from "../../support/hostile-tarballs.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const restoreId = "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"

let work: string
let backup: string

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "cb-restore-hostile-"))
  backup = join(work, "backup")
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
})

afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Replaces the backup's tarball by `bytes` and makes the manifest vouch for them. */
const plant = (backupDir: string, bytes: Buffer) => {
  const manifest = readManifest(backupDir)
  writeFileSync(join(backupDir, manifest.files.resources.name), bytes)
  const sha256 = createHash("sha256").update(bytes).digest("hex")
  writeFileSync(
    join(backupDir, "backup-manifest.json"),
    encodeBackupManifest({ ...manifest, files: { ...manifest.files, resources: { ...manifest.files.resources, size: bytes.length, sha256 } } }),
  )
}

describe("restore and restore --dry-run refuse hostile tarballs and change nothing", () => {
  for (const hostile of hostileTarballs) {
    it(`${hostile.name}`, async () => {
      const host = makeHostTree(work, backup)
      const outside = mkdtempSync(join(work, "outside-"))
      plant(host.backupDir, hostile.build(outside))
      const before = snapshotTree(host.root)
      for (const dryRun of [true, false]) {
        const out: Array<string> = []
        const exit = await Effect.runPromise(
          Effect.exit(
            restoreOnHost(host, out, { restoreId, dryRun }).pipe(
              Effect.provide(
                Layer.mergeAll(Etcdutl.inMemory({ statuses: fakeSnapshotStatuses(host.backupDir) }), DiskSpace.live, Tarball.live, NodeServices.layer),
              ),
            ),
          ),
        )
        expect(Exit.isFailure(exit), out.join("")).toBe(true)
        const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
        expect((error as { error: { _tag: string } } | undefined)?.error._tag).toBe("RestoreRefused")
        const message = (error as { error: { message: string } }).error.message
        expect(message).toMatch(dryRun ? /^dry run: a real restore would be refused before any change: / : /^restore refused before any change: /)
        expect(message).toMatch(/tarball-(readable|operands|layout) FAIL/)
        expect(message).toContain("Nothing was changed.")
        expect(snapshotTree(host.root)).toEqual(before)
        expect(readdirSync(outside)).toEqual([])
      }
    })
  }
})

describe("the restore's extraction step refuses hostile tarballs and leaves no trace", () => {
  const revisions = { etcd: 1, "kube-apiserver": 2, "kube-controller-manager": 3, "kube-scheduler": 4 }
  const root = () => mkdtempSync(join(work, "extract-root-"))
  const planFor = (rootDir: string) => {
    const input = decodeRestorePlanInput({
      root: rootDir,
      backupDir: "/home/core/backup",
      snapshotFile: "snapshot_2024-05-01_101500.db",
      resourcesFile: "static_kuberesources_2024-05-01_101500.tar.gz",
      memberName: "master-0",
      nodeIp: "10.0.0.5",
      restoreId,
      revisions,
      bump: revisionBump(undefined, { noBump: false }),
      etcdutl: { command: "etcdutl", version: "3.5.16", bumpRevision: true, markCompacted: true },
      snapshotBytes: 1,
      resourcesBytes: 1,
      existing: pathsToObserve(revisions).filter((p) => p.includes("etcd-pod-1")),
    })
    return Result.getOrThrow(planRestore(Result.getOrThrow(input)))
  }

  /** The verification's findings for `bytes` as the tarball (the snapshot is not used by this step). */
  const verifiedAs = (bytes: Buffer) =>
    Effect.succeed({
      resources: { size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") },
      snapshot: { size: 0, trailer: new Uint8Array(32) },
    })

  /** Runs the step on `action.archive`, verified as it is on disk unless `verified` says otherwise. */
  const extract = (action: Extract<RestoreAction, { _tag: "ExtractArchive" }>, plan: ReturnType<typeof planFor>, verified?: Buffer) =>
    Effect.runPromise(
      Effect.exit(
        executeAction(
          action,
          { plan, print: () => Effect.void, backupVerified: verifiedAs(verified ?? readFileSync(action.archive)) },
          { createdDirectories: [], changed: false },
        ).pipe(Effect.provide(Layer.mergeAll(Etcdutl.inMemory({ statuses: {} }), Tarball.live, DurableFiles.live, HostProcesses.live, NodeServices.layer))),
      ),
    )

  /** A host root with an installed revision directory the extraction would move aside, its plan, and the plan's extraction (its archive not yet written). */
  const hostWithInstalledRevision = () => {
    const rootDir = root()
    const plan = planFor(rootDir)
    const action = plan.steps.find((s) => s.id === "restore-resources")!.actions[0] as Extract<RestoreAction, { _tag: "ExtractArchive" }>
    const installed = join(rootDir, "etc/kubernetes/static-pod-resources/etcd-pod-1")
    mkdirSync(installed, { recursive: true })
    writeFileSync(join(installed, "etcd-pod.yaml"), "installed\n")
    mkdirSync(join(rootDir, "home/core/backup"), { recursive: true })
    return { rootDir, plan, action, installed }
  }

  it("(control) extracts a well-formed archive and moves the installed directory aside", async () => {
    const { plan, action, installed } = hostWithInstalledRevision()
    writeFileSync(action.archive, validTarball())
    const exit = await extract(action, plan)
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(readFileSync(join(installed, "etcd-pod.yaml"), "utf8")).toBe("kind: Pod\n")
    expect(readFileSync(join(action.moveExistingTo, "static-pod-resources/etcd-pod-1/etcd-pod.yaml"), "utf8")).toBe("installed\n")
  })

  it("refuses a well-formed archive other than the one verified (swapped in after the verification) and installs nothing", async () => {
    const { rootDir, plan, action } = hostWithInstalledRevision()
    const genuine = validTarball()
    // The same entries, compressed otherwise: valid in every way, but not the bytes the verification hashed.
    const swapped = gzipSync(gunzipSync(genuine), { level: 1 })
    expect(swapped.equals(genuine)).toBe(false)
    writeFileSync(action.archive, swapped)
    const before = snapshotTree(rootDir)
    const exit = await extract(action, plan, genuine)
    expect(Exit.isFailure(exit)).toBe(true)
    const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
    const error = (reason as { error: { _tag: string; message: string } }).error
    expect(error._tag).toBe("RestoreActionFailed")
    expect(error.message).toContain("is not the tarball that was verified")
    expect(snapshotTree(rootDir)).toEqual(before)
  })

  for (const hostile of hostileTarballs) {
    it(`${hostile.name}`, async () => {
      const { rootDir, plan, action } = hostWithInstalledRevision()
      const outside = mkdtempSync(join(work, "outside-"))
      writeFileSync(action.archive, hostile.build(outside))
      const before = snapshotTree(rootDir)
      const exit = await extract(action, plan)
      expect(Exit.isFailure(exit)).toBe(true)
      const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      expect((reason as { error: { _tag: string } } | undefined)?.error._tag).toBe("RestoreActionFailed")
      expect(snapshotTree(rootDir)).toEqual(before)
      expect(readdirSync(outside)).toEqual([])
    })
  }
})
