/**
 * backup-resources then backup-create on the OpenShift fixtures (simulated cluster) with a small
 * snapshot and its record: the finished backup as GNU tar and sha256 see it, dirty pairing,
 * skipped optionals, missing inputs, tampering, reruns and determinism.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result } from "effect"
import { decodeBackupManifest, encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { operandList } from "../../../src/domain/operands.ts"
import { formatRevisionSet, type RevisionSet } from "../../../src/domain/revisions.ts"
import { backupCreate } from "../../../src/programs/backup/backup-create.ts"
import { configMapType, secretType } from "../../../src/services/kube/resources.ts"
import { acquireRunLock } from "../../../src/services/run-lock.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import {
  absentOptionals,
  allInstallerFiles,
  captureLogs,
  gnuTarExtract,
  gnuTarListing,
  loadedCluster,
  permString,
  revisions,
  sha256,
  stageAll,
  timestamp,
  walk,
  writeFakeSnapshot,
} from "./backup-resources-harness.ts"
import { scopedTempDir } from "../../support/temp-dir.ts"

const snapshotName = `snapshot_${timestamp}.db`
const tarballName = `static_kuberesources_${timestamp}.tar.gz`
const dirtySnapshotName = `snapshot_${timestamp}__POSSIBLY_DIRTY__.db`
const dirtyTarballName = `static_kuberesources_${timestamp}__POSSIBLY_DIRTY__.tar.gz`
const manifestName = "backup-manifest.json"

const create = (backupDir: string, set: RevisionSet = revisions, logs?: Array<string>) =>
  Effect.exit(
    backupCreate({ backupDir, revisions: set, toolVersion: "9.9.9-test" }).pipe(
      Effect.provide(Layer.mergeAll(Tarball.live, NodeServices.layer, logs === undefined ? Layer.empty : captureLogs(logs))),
    ),
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "expected backup-create to fail")
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(reason, "expected a typed failure")
  return (reason as { error: E & { _tag: string; message: string } }).error
}

const listing = (backupDir: string) => readdirSync(backupDir).sort()

/** Staged resources of the fixture plus a consistent snapshot: everything backup-create needs. */
const prepared = (options: Parameters<typeof loadedCluster>[0] = {}) =>
  Effect.gen(function* () {
    const loaded = loadedCluster(options)
    const dir = yield* scopedTempDir("create")
    const backupDir = join(dir, "backup")
    yield* stageAll(backupDir, loaded.cluster)
    const snapshot = yield* writeFakeSnapshot(backupDir, revisions)
    return { ...loaded, dir, backupDir, snapshot }
  })

describe("backup-create (after backup-resources on the OpenShift fixtures)", () => {
  it.effect("writes a tarball GNU tar reads back byte for byte, and a manifest of both files and every entry", () =>
    Effect.gen(function* () {
      const { fixture, dir, backupDir, snapshot } = yield* prepared()
      const exit = yield* create(backupDir)
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      // The snapshot, the tarball, the manifest; of the staging area only the snapshot record remains.
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", "backup-manifest.json", snapshotName, tarballName])
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"])

      const expected = allInstallerFiles(fixture)
      const archive = join(backupDir, tarballName)
      // GNU tar's listing: exactly the revision directories' content, sorted, layout modes, root-owned, at the backup's time.
      const expectedDirs = new Set<string>()
      for (const p of expected.keys()) {
        const parts = p.split("/")
        for (let depth = 2; depth < parts.length; depth++) expectedDirs.add(parts.slice(0, depth).join("/"))
      }
      // GNU tar shows a directory named by a PAX record (over 100 bytes) without its trailing slash.
      const listed = gnuTarListing(archive).map((e) => ({ ...e, path: e.path.replace(/\/$/, "") }))
      const names = listed.map((e) => e.path)
      assert.deepStrictEqual([...names].sort(), [...expectedDirs, ...expected.keys()].sort())
      assert.deepStrictEqual(
        names,
        [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      )
      for (const e of listed) {
        const file = expected.get(e.path)
        assert.strictEqual(e.perms, file === undefined ? permString("directory", 0o700) : permString("file", file.mode), `type and mode of ${e.path}`)
        assert.strictEqual(e.owner, "0/0")
        assert.strictEqual(e.time, "2026-01-02 03:04")
        if (file !== undefined) assert.strictEqual(e.size, file.bytes.length)
      }
      assert.isTrue(
        listed.some((e) => e.perms === "-rwxr-xr-x"),
        "the etcd pod's script is executable",
      )

      const extracted = walk(gnuTarExtract(archive, dir))
      for (const [p, e] of extracted) if (e.kind === "directory" && p.includes("/")) assert.strictEqual(e.mode, 0o700, `extracted mode of ${p}/`)
      const files = [...extracted].filter(([, e]) => e.kind === "file")
      assert.strictEqual(files.length, expected.size)
      for (const [p, e] of files) {
        assert.isTrue(e.bytes!.equals(expected.get(p)!.bytes), `content of ${p}`)
        assert.strictEqual(e.mode, expected.get(p)!.mode, `extracted mode of ${p}`)
      }

      const text = readFileSync(join(backupDir, "backup-manifest.json"), "utf8")
      const decoded = decodeBackupManifest(text)
      assert.isTrue(Result.isSuccess(decoded), Result.isFailure(decoded) ? decoded.failure.message : "")
      if (Result.isFailure(decoded) || !Exit.isSuccess(exit)) return
      const manifest = decoded.success
      assert.deepStrictEqual(manifest, exit.value)
      assert.strictEqual(manifest.verdict, "consistent")
      assert.deepStrictEqual(manifest.reasons, [])
      assert.strictEqual(manifest.tool.version, "9.9.9-test")
      assert.strictEqual(manifest.timestamp, timestamp)
      assert.deepStrictEqual(manifest.revisions, { requested: revisions, inSnapshot: revisions })
      assert.deepStrictEqual(manifest.etcd, { revision: 4242, memberDbSize: snapshot.record.memberDbSize })
      assert.deepStrictEqual(manifest.files.snapshot, { name: snapshotName, size: snapshot.bytes.length, sha256: sha256(snapshot.bytes) })
      const tarBytes = readFileSync(archive)
      assert.deepStrictEqual(manifest.files.resources, { name: tarballName, size: tarBytes.length, sha256: sha256(tarBytes) })
      assert.deepStrictEqual(
        manifest.entries,
        [...expected].map(([path, f]) => ({ path, size: f.bytes.length, mode: f.mode, sha256: sha256(f.bytes) })).sort((a, b) => (a.path < b.path ? -1 : 1)),
      )
      assert.deepStrictEqual(
        manifest.skippedOptional,
        operandList().flatMap((o) => absentOptionals(fixture, o.name, revisions[o.name])),
      )
      // The snapshot file itself is untouched.
      assert.isTrue(readFileSync(join(backupDir, snapshotName)).equals(snapshot.bytes))
    }),
  )

  it.effect("a snapshot holding other revisions makes the backup possibly dirty: both names marked, reasons in the manifest and the log", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const backupDir = join(yield* scopedTempDir("create"), "backup")
      yield* stageAll(backupDir, cluster)
      const snapshot = yield* writeFakeSnapshot(backupDir, { ...revisions, etcd: null, "kube-apiserver": 8 })
      const logs: Array<string> = []
      const exit = yield* create(backupDir, revisions, logs)
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", "backup-manifest.json", dirtySnapshotName, dirtyTarballName])
      assert.isTrue(readFileSync(join(backupDir, dirtySnapshotName)).equals(snapshot.bytes))
      const decoded = decodeBackupManifest(readFileSync(join(backupDir, "backup-manifest.json"), "utf8"))
      assert.isTrue(Result.isSuccess(decoded))
      if (Result.isFailure(decoded)) return
      assert.strictEqual(decoded.success.verdict, "dirty")
      assert.deepStrictEqual(decoded.success.files.snapshot.name, dirtySnapshotName)
      assert.deepStrictEqual(decoded.success.reasons, [
        "etcd: the snapshot holds no etcds.operator.openshift.io/cluster, so it cannot show revision 3 (the resources' revision)",
        "kube-apiserver: the resources are revision 7 but kubeapiservers.operator.openshift.io/cluster in the snapshot reports revision 8",
      ])
      const warning = logs.find((l) => l.includes("level=WARN"))
      assert.isDefined(warning)
      assert.include(warning, `backup ${timestamp} is possibly dirty`)
      assert.include(warning, "reports revision 8")
    }),
  )

  it.effect("an unverified revision pairing from backup-init also makes the backup possibly dirty", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const backupDir = join(yield* scopedTempDir("create"), "backup")
      yield* stageAll(backupDir, cluster)
      yield* writeFakeSnapshot(backupDir, revisions, { pairing: "unverified", pairingDetail: "operator revisions changed while the snapshot was taken" })
      const exit = yield* create(backupDir)
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.strictEqual(exit.value.verdict, "dirty")
      assert.deepStrictEqual(exit.value.reasons, [
        "the operator revisions inside the snapshot are uncertain: operator revisions changed while the snapshot was taken",
      ])
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", "backup-manifest.json", dirtySnapshotName, dirtyTarballName])
    }),
  )

  it.effect("a missing optional resource is skipped and recorded in the manifest", () =>
    Effect.gen(function* () {
      const loaded = loadedCluster({ optionalResources: "all" })
      Result.getOrThrow(loaded.cluster.remove(secretType, "openshift-kube-apiserver", "encryption-config-7"))
      const backupDir = join(yield* scopedTempDir("create"), "backup")
      yield* stageAll(backupDir, loaded.cluster)
      yield* writeFakeSnapshot(backupDir, revisions)
      const exit = yield* create(backupDir)
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(exit.value.skippedOptional, [{ operand: "kube-apiserver", kind: "secret", name: "encryption-config" }])
      assert.isFalse(exit.value.entries.some((e) => e.path.includes("/secrets/encryption-config/")))
      assert.isTrue(exit.value.entries.some((e) => e.path.includes("/secrets/webhook-authenticator/")))
    }),
  )

  it.effect("a missing required revisioned ConfigMap fails with its name, and backup-create then names the failed step and writes nothing", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      Result.getOrThrow(cluster.remove(configMapType, "openshift-kube-scheduler", "scheduler-kubeconfig-6"))
      const backupDir = join(yield* scopedTempDir("create"), "backup")
      yield* writeFakeSnapshot(backupDir, revisions)
      const staged = yield* Effect.exit(stageAll(backupDir, cluster))
      const stageError = failureOf(staged)
      assert.strictEqual(stageError._tag, "RevisionResourcesMissing")
      assert.include(stageError.message, "configmap scheduler-kubeconfig-6")

      const error = failureOf(yield* create(backupDir))
      assert.strictEqual(error._tag, "BackupInputsMissing")
      assert.include(error.message, "backup-resources for kube-scheduler revision 6 did not run or failed")
      assert.notInclude(error.message, "backup-resources for etcd")
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", snapshotName])
    }),
  )

  it.effect("resources staged for other revisions than requested, or no snapshot record, are refused: nothing written, the staged Secrets removed", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const backupDir = join(yield* scopedTempDir("create"), "backup")
      yield* stageAll(backupDir, cluster)
      const noRecord = failureOf(yield* create(backupDir))
      assert.strictEqual(noRecord._tag, "BackupInputsMissing")
      assert.include(noRecord.message, "backup-init did not run or failed")
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), [])
      yield* writeFakeSnapshot(backupDir, revisions)
      yield* stageAll(backupDir, cluster)
      const other = failureOf(yield* create(backupDir, { ...revisions, "kube-controller-manager": 4 }))
      assert.strictEqual(other._tag, "BackupInputsMissing")
      assert.include(other.message, "backup-resources for kube-controller-manager staged revision 5, not the requested revision 4")
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", snapshotName])
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"])
    }),
  )

  it.effect.each<{ readonly name: string; readonly spoil: (backupDir: string, snapshot: Buffer) => void; readonly tag: string; readonly says: string }>([
    {
      name: "a snapshot changed after backup-init is refused and nothing is written",
      spoil: (backupDir, snapshot) => {
        const damaged = Buffer.from(snapshot)
        damaged[100] = damaged[100]! ^ 0xff
        writeFileSync(join(backupDir, snapshotName), damaged)
      },
      tag: "SnapshotFileMismatch",
      says: "is not the snapshot backup-init recorded",
    },
    {
      name: "a staged file changed after backup-resources is refused, and no tarball or manifest is left",
      spoil: (backupDir) => {
        const victim = join(backupDir, ".cluster-backup/staging/static-pod-resources/kube-scheduler-pod-6/configmaps/config/config.yaml")
        writeFileSync(victim, `${readFileSync(victim, "utf8")}# edited\n`)
      },
      tag: "StagingAreaChanged",
      says: "static-pod-resources/kube-scheduler-pod-6/configmaps/config/config.yaml changed after backup-resources wrote it",
    },
    {
      name: "anything outside the requested revisions' layout in the staging area is refused",
      spoil: (backupDir) => writeFileSync(join(backupDir, ".cluster-backup/staging/static-pod-resources/kube-scheduler-pod-6/notes.txt"), "stray"),
      tag: "TarballSourceRefused",
      says: "notes.txt",
    },
  ])("$name", ({ spoil, tag, says }) =>
    Effect.gen(function* () {
      const { backupDir, snapshot } = yield* prepared()
      spoil(backupDir, snapshot.bytes)
      const error = failureOf(yield* create(backupDir))
      assert.strictEqual(error._tag, tag)
      assert.include(error.message, says)
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", snapshotName])
    }),
  )

  it.effect("a rerun after a failed attempt replaces its leftovers; after success it changes nothing and returns the manifest", () =>
    Effect.gen(function* () {
      const { backupDir } = yield* prepared()
      // What a failure after the dirty rename and the tarball could have left.
      renameSync(join(backupDir, snapshotName), join(backupDir, dirtySnapshotName))
      writeFileSync(join(backupDir, dirtyTarballName), "left by an earlier attempt")
      writeFileSync(join(backupDir, tarballName), "left by an earlier attempt")
      const exit = yield* create(backupDir)
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", "backup-manifest.json", snapshotName, tarballName])
      assert.notStrictEqual(readFileSync(join(backupDir, tarballName), "utf8"), "left by an earlier attempt")
      const files = () => [manifestName, snapshotName, tarballName].map((n) => readFileSync(join(backupDir, n)).toString("hex"))
      const before = files()
      const again = yield* create(backupDir)
      assert.isTrue(Exit.isSuccess(again), Exit.isFailure(again) ? String(again.cause) : "")
      assert.deepStrictEqual(Exit.isSuccess(again) && Exit.isSuccess(exit) ? again.value : undefined, Exit.isSuccess(exit) ? exit.value : "")
      assert.deepStrictEqual(files(), before)
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"])
    }),
  )

  it.effect("the signature of an earlier backup's manifest in the directory goes when a new manifest is written: it does not cover it", () =>
    Effect.gen(function* () {
      const { backupDir } = yield* prepared()
      writeFileSync(join(backupDir, "backup-manifest.json.sig"), "ed25519 signature of an earlier backup's manifest\n")
      const exit = yield* create(backupDir)
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", "backup-manifest.json", snapshotName, tarballName])
    }),
  )

  it.effect("refuses to write its manifest over an earlier complete backup's in the same directory: that backup is left as it is, still restorable", () =>
    Effect.gen(function* () {
      // The earlier backup, complete: a real one renamed to another timestamp (its files and manifest alike).
      const first = yield* prepared()
      assert.isTrue(Exit.isSuccess(yield* create(first.backupDir)))
      const earlier = "2026-01-01_000000"
      const written = decodeBackupManifest(readFileSync(join(first.backupDir, manifestName), "utf8"))
      assert.isTrue(Result.isSuccess(written))
      if (Result.isFailure(written)) return
      const { manifestSha256: _, ...unsealed } = JSON.parse(JSON.stringify(written.success).replaceAll(timestamp, earlier))
      const earlierManifest = encodeBackupManifest(unsealed)
      const { backupDir } = yield* prepared()
      writeFileSync(join(backupDir, manifestName), earlierManifest)
      writeFileSync(join(backupDir, snapshotName.replace(timestamp, earlier)), readFileSync(join(first.backupDir, snapshotName)))
      writeFileSync(join(backupDir, tarballName.replace(timestamp, earlier)), readFileSync(join(first.backupDir, tarballName)))
      const before = listing(backupDir)
      const error = failureOf(yield* create(backupDir))
      assert.strictEqual(error._tag, "CompleteBackupInTheWay")
      assert.include(error.message, `holds the complete backup ${earlier}`)
      assert.strictEqual(readFileSync(join(backupDir, manifestName), "utf8"), earlierManifest)
      assert.deepStrictEqual(listing(backupDir), before)
      // A manifest this version cannot read may describe a complete backup too.
      writeFileSync(join(backupDir, manifestName), "a later cluster-backup's manifest")
      assert.strictEqual(failureOf(yield* create(backupDir))._tag, "CompleteBackupInTheWay")
      assert.strictEqual(readFileSync(join(backupDir, manifestName), "utf8"), "a later cluster-backup's manifest")
    }),
  )

  it.effect("a rerun after a run killed between the manifest and the removal of the staging area removes the decoded Secrets and succeeds", () =>
    Effect.gen(function* () {
      const { backupDir, cluster } = yield* prepared()
      const first = yield* create(backupDir)
      assert.isTrue(Exit.isSuccess(first))
      // The state that run leaves when killed right after the manifest: staged trees and records.
      yield* stageAll(backupDir, cluster)
      assert.isTrue(existsSync(join(backupDir, ".cluster-backup/staging/static-pod-resources/kube-apiserver-pod-7/secrets")))
      const logs: Array<string> = []
      const again = yield* create(backupDir, revisions, logs)
      assert.isTrue(Exit.isSuccess(again), Exit.isFailure(again) ? String(again.cause) : "")
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"])
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", manifestName, snapshotName, tarballName])
      assert.isTrue(
        logs.some((l) => l.includes(`backup ${timestamp} was already complete`) && l.includes("removed the staging area")),
        logs.join("\n"),
      )
    }),
  )

  it.effect("a rerun asked for other revisions than the complete backup holds fails, naming both, and changes nothing", () =>
    Effect.gen(function* () {
      const { backupDir } = yield* prepared()
      assert.isTrue(Exit.isSuccess(yield* create(backupDir)))
      const before = listing(backupDir)
      const other = { ...revisions, etcd: revisions.etcd + 90 }
      const again = yield* create(backupDir, other)
      assert.isTrue(Exit.isFailure(again))
      const message = Exit.isFailure(again) ? String(again.cause) : ""
      assert.include(message, "BackupInputsMissing")
      assert.include(message, `is of ${formatRevisionSet(revisions)}, not the requested ${formatRevisionSet(other)}`)
      assert.deepStrictEqual(listing(backupDir), before)
    }),
  )

  it.effect("a rerun that finds the manifest but not the files it names fails, naming the missing file, and removes the staging area", () =>
    Effect.gen(function* () {
      const { backupDir, cluster } = yield* prepared()
      assert.isTrue(Exit.isSuccess(yield* create(backupDir)))
      yield* stageAll(backupDir, cluster)
      rmSync(join(backupDir, tarballName))
      const error = failureOf(yield* create(backupDir))
      assert.strictEqual(error._tag, "CompleteBackupDamaged")
      assert.include(error.message, `${join(backupDir, tarballName)} is missing`)
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"])
    }),
  )

  it.effect("while a live run holds the backup directory's lock, refuses with RunLockHeld and leaves the staging area to it", () =>
    Effect.gen(function* () {
      const { backupDir } = yield* prepared()
      const staged = [...walk(join(backupDir, ".cluster-backup", "staging")).keys()]
      const error = yield* Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(join(backupDir, ".cluster-backup", "run.lock"), "backup-resources").pipe(Effect.orDie)
          return failureOf(yield* create(backupDir))
        }),
      )
      assert.strictEqual(error._tag, "RunLockHeld")
      assert.include(error.message, "is held by backup-resources")
      assert.deepStrictEqual([...walk(join(backupDir, ".cluster-backup", "staging")).keys()], staged)
      assert.deepStrictEqual(listing(backupDir), [".cluster-backup", snapshotName])
    }),
  )

  it.effect("the same content gives the same tarball bytes; a changed byte gives different ones", () =>
    Effect.gen(function* () {
      const tarballOf = (mutate: boolean) =>
        Effect.gen(function* () {
          const { cluster } = loadedCluster()
          if (mutate) {
            const cm = cluster.get(configMapType, "openshift-etcd", "etcd-endpoints-3")!
            Result.getOrThrow(cluster.replace(configMapType, { ...cm, data: { ...(cm.data as object), extra: "1" } }))
          }
          const backupDir = join(yield* scopedTempDir("create"), "backup")
          yield* stageAll(backupDir, cluster)
          yield* writeFakeSnapshot(backupDir, revisions)
          const exit = yield* create(backupDir)
          assert.isTrue(Exit.isSuccess(exit))
          return { tar: readFileSync(join(backupDir, tarballName)), manifest: readFileSync(join(backupDir, "backup-manifest.json")) }
        })
      const first = yield* tarballOf(false)
      const second = yield* tarballOf(false)
      const changed = yield* tarballOf(true)
      assert.isTrue(first.tar.equals(second.tar))
      assert.isTrue(first.manifest.equals(second.manifest))
      assert.isFalse(first.tar.equals(changed.tar))
    }),
  )
})
