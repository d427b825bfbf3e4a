/** backup-init against the in-memory etcd member: every outcome, with the files it leaves. */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Logger, Stdio, Sink } from "effect"
import { TestClock } from "effect/testing"
import { operandList } from "../../../src/domain/operands.ts"
import { backupInit, type BackupInitOptions } from "../../../src/programs/backup/backup-init.ts"
import { operatorCrKey, operatorCrKeyUnder } from "../../../src/programs/backup/etcd-operator-revisions.ts"
import type { OpenFile } from "../../../src/services/snapshot-file.ts"
import { readSnapshotRecord, writeSnapshotRecord, type SnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { acquireRunLock } from "../../../src/services/run-lock.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import * as EtcdInMemory from "../../../src/services/etcd/etcd-in-memory.ts"
import { SimulatedMember } from "../../../src/services/etcd/etcd-in-memory.ts"
import { withTrailer } from "../../../src/services/etcd/snapshot-trailer.ts"
import { operatorCrJson } from "../../support/etcd-fixture.ts"
import { scopedTempDir } from "../../support/temp-dir.ts"

const at = Date.UTC(2026, 0, 2, 3, 4, 5)
const ts = "2026-01-02_030405"
const snapshotName = `snapshot_${ts}.db`

const member = (dbSize = 200_000) => {
  const m = new SimulatedMember({ dbSize, chunkSize: 16 * 1024 })
  const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 4 } as const
  for (const operand of operandList()) m.put(operatorCrKey(operand), operatorCrJson(operand, revisions[operand.name]))
  for (let i = 0; i < 20; i++) m.put(`/registry/pods/p${i}`, `pod ${i}`)
  return m
}

interface Run {
  readonly member: SimulatedMember
  readonly availableBytes?: number
  readonly options?: Partial<BackupInitOptions>
  readonly stdio?: Layer.Layer<Stdio.Stdio>
  /** Under it.live there is no test clock to set. */
  readonly live?: boolean
}

/** Runs backup-init in a fresh temp backup dir; returns its exit and the directory. */
const runInit = (run: Run) =>
  Effect.gen(function* () {
    const dir = yield* scopedTempDir("init")
    const backupDir = join(dir, "backup")
    if (run.live !== true) yield* TestClock.setTime(at)
    const layers = Layer.mergeAll(
      EtcdInMemory.inMemory(run.member),
      DiskSpace.inMemory({ availableBytes: run.availableBytes ?? 10 * 1024 ** 3, totalBytes: 20 * 1024 ** 3 }),
      run.stdio ?? Stdio.layerTest({}),
    )
    const exit = yield* Effect.exit(backupInit({ backupDir, ...run.options }).pipe(Effect.provide(layers)))
    return { exit, backupDir }
  })

const listing = (backupDir: string) =>
  existsSync(backupDir)
    ? readdirSync(backupDir)
        .filter((n) => n !== ".cluster-backup")
        .sort()
    : []
const recordExists = (backupDir: string) => existsSync(join(backupDir, ".cluster-backup", "snapshot.json"))

const fixedLayers = (m: SimulatedMember) =>
  Layer.mergeAll(EtcdInMemory.inMemory(m), DiskSpace.inMemory({ availableBytes: 1e10, totalBytes: 1e10 }), Stdio.layerTest({}))

/** A valid record of a backup taken at `timestamp`. */
const earlierRecord = (timestamp: string): SnapshotRecord => ({
  timestamp,
  snapshotFile: `snapshot_${timestamp}.db`,
  size: 1000,
  sha256: "0".repeat(64),
  etcdRevision: 5,
  etcdRevisionUpperBound: 5,
  raftIndex: 9,
  memberDbSize: 968,
  memberId: "1",
  etcdVersion: "3.5.0",
  endpoint: "https://127.0.0.1:2379",
  operatorRevisions: { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 4 },
  operatorRevisionReasons: {},
  pairing: "verified",
  pairingDetail: "test",
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "expected backup-init to fail")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error, "expected a typed failure")
  return (error as { error: E & { _tag: string; message: string } }).error
}

describe("backup-init (in-memory etcd)", () => {
  it.effect("writes the checked snapshot and a record of its timestamp, hash, revision and operator revisions", () =>
    Effect.gen(function* () {
      const m = member()
      const { exit, backupDir } = yield* runInit({ member: m })
      assert.isTrue(Exit.isSuccess(exit))
      const record = Exit.isSuccess(exit) ? exit.value : undefined
      assert.deepStrictEqual(listing(backupDir), [snapshotName])
      const file = join(backupDir, snapshotName)
      // The file is byte for byte what etcd streamed, trailer included.
      assert.isTrue(readFileSync(file).equals(Buffer.from(withTrailer(m.databaseBytes()))))
      assert.strictEqual(statSync(file).mode & 0o777, 0o600)
      assert.strictEqual(statSync(join(backupDir, ".cluster-backup")).mode & 0o777, 0o700)
      assert.strictEqual(statSync(join(backupDir, ".cluster-backup", "snapshot.json")).mode & 0o777, 0o600)
      assert.deepInclude(record, {
        timestamp: ts,
        snapshotFile: snapshotName,
        size: 200_000 + 32,
        etcdRevision: m.revision,
        etcdRevisionUpperBound: m.revision,
        memberDbSize: 200_000,
        pairing: "verified",
        operatorRevisions: { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 4 },
        operatorRevisionReasons: {},
      })
      // The whole file's sha256 and the identity of the file under its final name.
      const final = statSync(file, { bigint: true })
      assert.deepStrictEqual(record?.file, {
        sha256: createHash("sha256").update(readFileSync(file)).digest("hex"),
        inode: String(final.ino),
        mtimeNs: String(final.mtimeNs),
      })
      // What backup-create will read back is what was returned.
      const read = yield* readSnapshotRecord(backupDir).pipe(Effect.provide(NodeServices.layer))
      assert.deepStrictEqual(read, record)
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("writes the same bytes through the page cache when direct I/O is off, for sizes around the alignment", () =>
    Effect.gen(function* () {
      for (const [dbSize, directIo] of [
        [4096 * 50, false],
        [4096 * 50 - 32, true],
        [4096 * 50 + 1, true],
        [1, true],
      ] as const) {
        const m = member(dbSize)
        const { exit, backupDir } = yield* runInit({ member: m, options: { directIo } })
        assert.isTrue(Exit.isSuccess(exit), `${dbSize} bytes, direct ${directIo}`)
        assert.isTrue(readFileSync(join(backupDir, snapshotName)).equals(Buffer.from(withTrailer(m.databaseBytes()))))
      }
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("a disk that fills during the stream fails with the file, ENOSPC and what to do, and leaves no snapshot file", () =>
    Effect.gen(function* () {
      // A real file whose writes fail as on a full volume once `room` bytes were written.
      const fullAfter =
        (room: number): OpenFile =>
        async (path, flags, mode) => {
          const handle = await open(path, flags, mode)
          let written = 0
          return new Proxy(handle, {
            get: (target, property) => {
              if (property === "write") {
                return async (buffer: Uint8Array, offset: number, length: number, position: number) => {
                  if (written + length > room) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
                  written += length
                  return target.write(buffer, offset, length, position)
                }
              }
              const value: unknown = Reflect.get(target, property)
              return typeof value === "function" ? value.bind(target) : value
            },
          })
        }
      for (const directIo of [true, false]) {
        const { exit, backupDir } = yield* runInit({ member: member(3 * 1024 * 1024), options: { directIo, openFile: fullAfter(1024 * 1024) } })
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "BackupFileError")
        assert.strictEqual(
          error.message,
          `cannot write ${join(backupDir, `${snapshotName}.part`)}: ENOSPC: the volume holding ${join(backupDir, `${snapshotName}.part`)} is full: free space or give it more room, then run again`,
        )
        assert.deepStrictEqual(listing(backupDir), [])
        assert.isFalse(recordExists(backupDir))
      }
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("records null with a reason for a missing, status-less or undecodable operator CR", () =>
    Effect.gen(function* () {
      const m = member()
      const [etcd, kas, kcm] = operandList()
      m.delete(operatorCrKey(etcd!))
      m.put(operatorCrKey(kas!), operatorCrJson(kas!, undefined))
      m.put(operatorCrKey(kcm!), "\u0000k8s\u0000protobuf")
      const { exit } = yield* runInit({ member: m })
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(exit.value.operatorRevisions, { etcd: null, "kube-apiserver": null, "kube-controller-manager": null, "kube-scheduler": 4 })
      assert.deepStrictEqual(exit.value.operatorRevisionReasons, {
        etcd: "/kubernetes.io/operator.openshift.io/etcds/cluster does not exist at that revision (read under the etcd key prefix /kubernetes.io; if the API server stores its objects under another one, such as upstream Kubernetes' /registry, give it with --etcd-prefix)",
        "kube-apiserver": "/kubernetes.io/operator.openshift.io/kubeapiservers/cluster has no status.latestAvailableRevision yet",
        "kube-controller-manager": "/kubernetes.io/operator.openshift.io/kubecontrollermanagers/cluster is not JSON (13 bytes)",
      })
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  /** A member whose API server stores its objects under upstream's /registry. */
  const registryMember = () => {
    const m = new SimulatedMember({ dbSize: 200_000, chunkSize: 16 * 1024 })
    const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 4 } as const
    for (const operand of operandList()) m.put(operatorCrKeyUnder("/registry")(operand), operatorCrJson(operand, revisions[operand.name]))
    return m
  }

  it.effect("with --etcd-prefix /registry, an etcd seeded under /registry pairs: every operator revision read, pairing verified", () =>
    Effect.gen(function* () {
      const { exit } = yield* runInit({ member: registryMember(), options: { etcdPrefix: "/registry" } })
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(exit.value.operatorRevisions, { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 4 })
      assert.strictEqual(exit.value.pairing, "verified")
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("without --etcd-prefix, an etcd seeded under /registry has no operator revisions, and the reason names the prefix and the flag", () =>
    Effect.gen(function* () {
      const { exit } = yield* runInit({ member: registryMember() })
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(exit.value.operatorRevisions, { etcd: null, "kube-apiserver": null, "kube-controller-manager": null, "kube-scheduler": null })
      const reason = exit.value.operatorRevisionReasons?.etcd ?? ""
      assert.include(reason, "/kubernetes.io/operator.openshift.io/etcds/cluster does not exist")
      assert.include(reason, "etcd key prefix /kubernetes.io")
      assert.include(reason, "--etcd-prefix")
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("a rollout that lands while the snapshot starts makes the pairing unverified", () =>
    Effect.gen(function* () {
      const m = member()
      const kas = operandList()[1]!
      const before = m.revision
      m.onSnapshotStart = () => {
        m.put(operatorCrKey(kas), operatorCrJson(kas, 8))
      }
      const { exit } = yield* runInit({ member: m })
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.strictEqual(exit.value.pairing, "unverified")
      assert.strictEqual(exit.value.etcdRevision, before)
      assert.strictEqual(exit.value.etcdRevisionUpperBound, before + 1)
      assert.strictEqual(exit.value.operatorRevisions["kube-apiserver"], 7)
      assert.include(exit.value.pairingDetail, "kube-apiserver=7")
      assert.include(exit.value.pairingDetail, "kube-apiserver=8")
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("writes that do not touch the operator CRs keep the pairing verified", () =>
    Effect.gen(function* () {
      const m = member()
      m.onSnapshotStart = () => {
        m.put("/registry/events/e1", "event")
      }
      const { exit } = yield* runInit({ member: m })
      assert.isTrue(Exit.isSuccess(exit) && exit.value.pairing === "verified" && exit.value.etcdRevisionUpperBound > exit.value.etcdRevision)
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect.each<{
    readonly stream: string
    readonly fault: NonNullable<ReturnType<typeof member>["snapshotFault"]>
    readonly tag: string
    readonly says: (message: string) => void
    readonly noRecord: boolean
  }>([
    {
      stream: "a corrupted stream",
      fault: { kind: "corrupt", atByte: 150_000 },
      tag: "SnapshotHashMismatch",
      says: (message) =>
        assert.match(
          message,
          /^the snapshot's sha256 trailer \([0-9a-f]{64}\) does not match the sha256 of its 200000 database bytes \([0-9a-f]{64}\): the stream was truncated or corrupted; take the backup again\.$/,
        ),
      noRecord: true,
    },
    {
      stream: "a truncated stream",
      fault: { kind: "truncate", atByte: 123_456 },
      tag: "SnapshotHashMismatch",
      says: (message) => assert.include(message, "does not match the sha256 of its 123424 database bytes"),
      noRecord: false,
    },
    {
      stream: "a stream that breaks off",
      fault: { kind: "fail", atByte: 65_536 },
      tag: "EtcdSnapshotFailed",
      says: (message) =>
        assert.strictEqual(
          message,
          "the snapshot stream from etcd at https://etcd.simulated:2379 broke off after 65536 bytes (Connection dropped): check that the etcd member is running and reachable, then take the backup again.",
        ),
      noRecord: true,
    },
  ])("$stream fails with $tag and leaves no snapshot file", ({ fault, tag, says, noRecord }) =>
    Effect.gen(function* () {
      const m = member()
      m.snapshotFault = fault
      const { exit, backupDir } = yield* runInit({ member: m })
      const error = failureOf(exit)
      assert.strictEqual(error._tag, tag)
      says(error.message)
      assert.deepStrictEqual(listing(backupDir), [])
      if (noRecord) assert.isFalse(recordExists(backupDir))
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.live("a member that stops sending fails after the stall timeout and leaves no snapshot file", () =>
    Effect.gen(function* () {
      const m = member()
      m.snapshotFault = { kind: "stall", atByte: 32_768 }
      const { exit, backupDir } = yield* runInit({ member: m, options: { stallTimeoutMs: 300 }, live: true })
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "EtcdSnapshotFailed")
      assert.strictEqual(
        error.message,
        "etcd at https://etcd.simulated:2379 sent no snapshot data for 0.3 s after 32768 bytes: check the member's health, then take the backup again.",
      )
      assert.deepStrictEqual(listing(backupDir), [])
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("too little free space fails before the snapshot, naming needed and available bytes", () =>
    Effect.gen(function* () {
      const m = member()
      const { exit, backupDir } = yield* runInit({ member: m, availableBytes: 399_999 })
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "InsufficientDiskSpace")
      assert.strictEqual(
        error.message,
        `not enough free space in ${backupDir}: the snapshot needs 400000 bytes (2 x the etcd database size 200000), only 399999 bytes are available; free space or give the backup volume more room.`,
      )
      assert.strictEqual(m.snapshotsTaken, 0)
      assert.deepStrictEqual(listing(backupDir), [])
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("an unreachable member fails with EtcdUnreachable and writes nothing", () =>
    Effect.gen(function* () {
      const m = member()
      m.unreachable = true
      const { exit, backupDir } = yield* runInit({ member: m })
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "EtcdUnreachable")
      assert.include(error.message, "cannot reach etcd at https://etcd.simulated:2379")
      assert.deepStrictEqual(listing(backupDir), [])
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("a rejected client certificate fails with EtcdTlsRejected", () =>
    Effect.gen(function* () {
      const m = member()
      m.tlsRejected = "client-certificate"
      const error = failureOf((yield* runInit({ member: m })).exit)
      assert.strictEqual(error._tag, "EtcdTlsRejected")
      assert.include(error.message, "rejected the client certificate")
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.live("interruption mid-stream removes the part file", () =>
    Effect.gen(function* () {
      const m = member()
      m.snapshotFault = { kind: "stall", atByte: 100_000 }
      const dir = yield* scopedTempDir("interrupt")
      const backupDir = join(dir, "backup")
      const layers = Layer.mergeAll(EtcdInMemory.inMemory(m), DiskSpace.inMemory({ availableBytes: 1e10, totalBytes: 1e10 }), Stdio.layerTest({}))
      const fiber = yield* Effect.forkChild(backupInit({ backupDir }).pipe(Effect.provide(layers)))
      const part = () => readdirSync(backupDir).find((n) => n.endsWith(".db.part"))
      for (let i = 0; i < 200 && (!existsSync(backupDir) || part() === undefined || statSync(join(backupDir, part()!)).size < 90_000); i++) {
        yield* Effect.sleep(10)
      }
      assert.isDefined(part(), "the part file should exist mid-stream")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(listing(backupDir), [])
      assert.isFalse(recordExists(backupDir))
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("a record of an earlier run does not survive a failed run", () =>
    Effect.gen(function* () {
      const m = member()
      m.snapshotFault = { kind: "fail", atByte: 1000 }
      const dir = yield* scopedTempDir("stale")
      const backupDir = join(dir, "backup")
      mkdirSync(join(backupDir, ".cluster-backup"), { recursive: true })
      writeFileSync(join(backupDir, ".cluster-backup", "snapshot.json"), "{}")
      yield* TestClock.setTime(at)
      const layers = Layer.mergeAll(EtcdInMemory.inMemory(m), DiskSpace.inMemory({ availableBytes: 1e10, totalBytes: 1e10 }), Stdio.layerTest({}))
      const exit = yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(layers)))
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(recordExists(backupDir))
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("never overwrites a snapshot taken in the same second", () =>
    Effect.gen(function* () {
      const dir = yield* scopedTempDir("exists")
      const backupDir = join(dir, "backup")
      mkdirSync(backupDir, { recursive: true })
      yield* TestClock.setTime(at)
      writeFileSync(join(backupDir, snapshotName), "earlier backup")
      const exists = failureOf(yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(fixedLayers(member())))))
      assert.strictEqual(exists._tag, "BackupFileExists")
      assert.strictEqual(readFileSync(join(backupDir, snapshotName), "utf8"), "earlier backup")
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("while a live run holds the backup directory's lock, refuses with RunLockHeld and touches nothing, not even its part file", () =>
    Effect.gen(function* () {
      const dir = yield* scopedTempDir("held")
      const backupDir = join(dir, "backup")
      mkdirSync(join(backupDir, ".cluster-backup"), { recursive: true })
      yield* TestClock.setTime(at)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(join(backupDir, ".cluster-backup", "run.lock"), "backup-init")
          writeFileSync(join(backupDir, `${snapshotName}.part`), "a live run's")
          const busy = failureOf(yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(fixedLayers(member())))))
          assert.strictEqual(busy._tag, "RunLockHeld")
          assert.include(busy.message, "wait for it to finish")
          assert.strictEqual(readFileSync(join(backupDir, `${snapshotName}.part`), "utf8"), "a live run's")
        }),
      )
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("removes the part files and unfinished writes that killed runs left, logging each with its size, and nothing else", () =>
    Effect.gen(function* () {
      const dir = yield* scopedTempDir("sweep")
      const backupDir = join(dir, "backup")
      const records = join(backupDir, ".cluster-backup")
      mkdirSync(join(records, "building", "etcd-pod-3.abc123", "secrets", "etcd-all-certs"), { recursive: true })
      writeFileSync(join(records, "building", "etcd-pod-3.abc123", "secrets", "etcd-all-certs", "tls.key"), "x".repeat(100))
      writeFileSync(join(backupDir, "snapshot_2025-12-31_235959.db.part"), Buffer.alloc(3000))
      writeFileSync(join(backupDir, `${snapshotName}.part`), Buffer.alloc(10))
      writeFileSync(join(backupDir, "static_kuberesources_2025-12-31_235959.tar.gz.part"), Buffer.alloc(20))
      writeFileSync(join(backupDir, "backup-manifest.json.tmp-4242"), "{")
      writeFileSync(join(records, "snapshot.json.tmp-4242"), "{")
      writeFileSync(join(backupDir, "NOTES.txt"), "the operator's")
      writeFileSync(join(backupDir, "notes.db.part"), "not ours")
      // The lock of a run that is gone: a PID that no longer runs.
      const gone = spawnSync(process.execPath, ["-e", ""]).pid!
      writeFileSync(
        join(records, "run.lock"),
        JSON.stringify({ pid: gone, startTicks: null, host: hostname(), command: "backup-init", startedAt: "2026-01-01T00:00:00Z" }),
      )
      // Temporary files of taking the lock: one of the gone run's, one of a live process's.
      writeFileSync(join(records, `run.lock.new-${gone}-0a1b2c3d`), "{}")
      writeFileSync(join(records, `run.lock.new-${process.pid}-0a1b2c3d`), "{}")
      yield* TestClock.setTime(at)
      const lines: Array<string> = []
      const capture = Logger.layer([Logger.make(({ message }) => void lines.push(String(message)))])
      const exit = yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(fixedLayers(member())), Effect.provide(capture)))
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.deepStrictEqual(listing(backupDir), ["NOTES.txt", "notes.db.part", snapshotName])
      assert.deepStrictEqual(readdirSync(records).sort(), [`run.lock.new-${process.pid}-0a1b2c3d`, "snapshot.json"])
      for (const [path, what] of [
        [join(backupDir, "snapshot_2025-12-31_235959.db.part"), "partial snapshot left by an interrupted run (2.9 KiB)"],
        [join(backupDir, `${snapshotName}.part`), "partial snapshot left by an interrupted run (10 B)"],
        [join(backupDir, "static_kuberesources_2025-12-31_235959.tar.gz.part"), "partial tarball left by an interrupted run (20 B)"],
        [join(backupDir, "backup-manifest.json.tmp-4242"), "unfinished atomic write left by an interrupted run (1 B)"],
        [join(records, "snapshot.json.tmp-4242"), "unfinished atomic write left by an interrupted run (1 B)"],
        [join(records, "building"), "revision tree being built left by an interrupted run (1 file, 100 B)"],
        [join(records, `run.lock.new-${gone}-0a1b2c3d`), "unfinished atomic write left by an interrupted run (2 B)"],
      ]) {
        assert.include(lines, `removed ${path}: ${what}`)
      }
      assert.isTrue(
        lines.some((l) => l.includes(`the lock of backup-init (PID ${gone}`) && l.includes("by a run that is gone")),
        lines.join("\n"),
      )
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("an earlier backup that was never completed gives way: its snapshot, tarball, staged Secrets and record go", () =>
    Effect.gen(function* () {
      const dir = yield* scopedTempDir("unfinished")
      const backupDir = join(dir, "backup")
      const earlier = "2026-01-01_000000"
      yield* writeSnapshotRecord(backupDir, earlierRecord(earlier))
      writeFileSync(join(backupDir, `snapshot_${earlier}.db`), Buffer.alloc(1000))
      writeFileSync(join(backupDir, `static_kuberesources_${earlier}__POSSIBLY_DIRTY__.tar.gz`), Buffer.alloc(10))
      const secret = join(backupDir, ".cluster-backup", "staging", "static-pod-resources", "etcd-pod-3", "secrets", "etcd-all-certs")
      mkdirSync(secret, { recursive: true })
      writeFileSync(join(secret, "tls.key"), "decoded")
      writeFileSync(join(backupDir, ".cluster-backup", "resources-etcd.json"), "{}")
      yield* TestClock.setTime(at)
      const exit = yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(fixedLayers(member()))))
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.deepStrictEqual(listing(backupDir), [snapshotName])
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"])
      assert.strictEqual((yield* readSnapshotRecord(backupDir)).timestamp, ts)
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  // A new backup beside it used to be taken, and its manifest replaced the earlier one's: verify and restore then refused the earlier backup.
  it.effect(
    "an earlier backup whose manifest is there (or cannot be read) is kept, and no new backup is taken beside it: its manifest would replace that one",
    () =>
      Effect.gen(function* () {
        const dir = yield* scopedTempDir("kept")
        const backupDir = join(dir, "backup")
        const earlier = "2026-01-01_000000"
        yield* writeSnapshotRecord(backupDir, earlierRecord(earlier))
        writeFileSync(join(backupDir, `snapshot_${earlier}.db`), Buffer.alloc(1000))
        writeFileSync(join(backupDir, "backup-manifest.json"), "not what this tool writes")
        yield* TestClock.setTime(at)
        const exit = yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(fixedLayers(member()))))
        assert.isTrue(Exit.isFailure(exit), "a new backup was taken beside the earlier one")
        const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
        assert.strictEqual((error as { error: { _tag: string } } | undefined)?.error._tag, "CompleteBackupInTheWay")
        assert.deepStrictEqual(listing(backupDir), ["backup-manifest.json", `snapshot_${earlier}.db`])
        assert.strictEqual(readFileSync(join(backupDir, "backup-manifest.json"), "utf8"), "not what this tool writes")
        // Nothing of the earlier backup changed: its record stays too.
        assert.strictEqual((yield* readSnapshotRecord(backupDir)).timestamp, earlier)
      }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("on a terminal, progress is one line on stderr rewritten in place", () =>
    Effect.gen(function* () {
      const written: Array<string> = []
      const stdio = Stdio.layerTest({
        stderrIsTerminal: Effect.succeed(true),
        // biome-ignore lint/suspicious/useIterableCallbackReturn: effect's Sink.forEach, not Array's: its callback returns an Effect
        stderr: () => Sink.forEach((chunk: string | Uint8Array) => Effect.sync(() => void written.push(String(chunk)))),
      })
      const { exit } = yield* runInit({ member: member(), stdio })
      assert.isTrue(Exit.isSuccess(exit))
      const last = written.at(-1) ?? ""
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line sequence starts with ESC
      assert.match(last, /^\r\x1b\[2Ksnapshot snapshot_2026-01-02_030405\.db: 195\.3 KiB, .*\/s\n$/)
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("off a terminal, progress is a log line at each interval", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.layer([Logger.make(({ message }) => void lines.push(String(message)))])
      const m = member()
      m.snapshotFault = { kind: "stall", atByte: 65_536 }
      const backupDir = join(yield* scopedTempDir("progress"), "backup")
      yield* TestClock.setTime(at)
      const fiber = yield* Effect.forkChild(
        backupInit({ backupDir, progressLogIntervalMs: 10_000 }).pipe(Effect.provide(fixedLayers(m)), Effect.provide(capture)),
      )
      // The run reaches the stall through real file I/O, in real time; a fixed real wait was too short on a loaded
      // machine. Once the part file is there (its name taken at the set time), move the clock an interval at a time,
      // real time passing between, until a line shows the stall's 64 KiB.
      const realWait = Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      for (const deadline = Date.now() + 30_000; !existsSync(join(backupDir, `${snapshotName}.part`)) && Date.now() < deadline; ) yield* realWait
      const progress = () => lines.filter((l) => l.startsWith(`snapshot ${snapshotName}: `))
      const stalled = () => progress().find((l) => l.startsWith(`snapshot ${snapshotName}: 64.0 KiB`))
      for (const deadline = Date.now() + 30_000; stalled() === undefined && Date.now() < deadline; ) {
        yield* realWait
        yield* TestClock.adjust(10_000)
      }
      assert.include(lines, `snapshot ${snapshotName}: 64.0 KiB of ~195.3 KiB (32%), ${stalled()?.split(", ").at(-1)}`)
      // A line at each interval.
      const before = progress().length
      yield* TestClock.adjust(10_000)
      assert.strictEqual(progress().length, before + 1)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(NodeServices.layer)),
  )
})
