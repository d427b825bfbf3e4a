/**
 * Acceptance of backup-init against real etcd 3.5 over TLS (client-certificate auth): the
 * snapshot restores with etcdutl and serves every key; the recorded operator revisions are the
 * ones inside the snapshot; every failure leaves neither a final-named nor a part file.
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer } from "effect"
import { operandList } from "../../../src/domain/operands.ts"
import { backupInit } from "../../../src/programs/backup/backup-init.ts"
import { operatorCrKey, readEtcdOperatorRevisions } from "../../../src/programs/backup/etcd-operator-revisions.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { Etcd, type EtcdConnection } from "../../../src/services/etcd/etcd.ts"
import * as EtcdLive from "../../../src/services/etcd/etcd-live.ts"
import { freeLoopbackPort, startLocalEtcd } from "../../../src/services/local-etcd.ts"
import { clientTls, generateTlsBundle } from "../../../src/services/tls-certs.ts"
import { gatedEtcd, makeGate } from "../../support/etcd-gate.ts"
import {
  etcd3Client,
  operatorCrJson,
  putOperatorCrs,
  restoreSnapshot,
  seedKeyName,
  seedKeys,
  snapshotStatus,
  startTlsEtcd,
  TestEtcd,
  valueFor,
} from "../../support/etcd-fixture.ts"

const keyCount = 3000
const valueSize = 2048
const crRevisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 4 }

/** The shared member, filled once: thousands of keys, then the operator CRs, then a kube-apiserver rollout to 8. */
class Seeded extends Context.Service<Seeded, { readonly crWrittenAt: number; readonly rolloutAt: number }>()("test/Seeded") {
  static readonly layer = Layer.effect(
    Seeded,
    Effect.gen(function* () {
      const { member } = yield* TestEtcd
      const client = yield* etcd3Client(member.connection)
      yield* seedKeys(client, keyCount, valueSize)
      const crWrittenAt = yield* putOperatorCrs(client, crRevisions)
      const kas = operandList()[1]!
      const rollout = yield* Effect.promise(() => client.put(operatorCrKey(kas)).value(operatorCrJson(kas, 8)))
      return { crWrittenAt, rolloutAt: Number(rollout.header.revision) }
    }),
  )
}

const services = (etcd: Layer.Layer<Etcd>, availableBytes?: number) =>
  Layer.mergeAll(etcd, availableBytes === undefined ? DiskSpace.live : DiskSpace.inMemory({ availableBytes, totalBytes: availableBytes }))

const backupFiles = (backupDir: string) =>
  existsSync(backupDir)
    ? readdirSync(backupDir)
        .filter((n) => n !== ".cluster-backup")
        .sort()
    : []
const hasRecord = (backupDir: string) => existsSync(join(backupDir, ".cluster-backup", "snapshot.json"))

const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E & { readonly _tag: string; readonly message: string } => {
  assert.isTrue(Exit.isFailure(exit), "expected backup-init to fail")
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(reason, "expected a typed failure, got a defect or an interruption")
  return (reason as unknown as { error: E & { _tag: string; message: string } }).error
}

const liveEtcd = (connection: EtcdConnection) => EtcdLive.live(connection).pipe(Layer.orDie)

layer(Layer.provideMerge(Seeded.layer, TestEtcd.layerWithEtcd()), { excludeTestServices: true })("backup-init against etcd 3.5 over TLS", (it) => {
  it.effect("produces a snapshot that etcdutl restores with every key, paired with the CRs inside it", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const { rolloutAt } = yield* Seeded
      const backupDir = join(workDir, "ok")
      const record = yield* backupInit({ backupDir }).pipe(Effect.provide(services(liveEtcd(member.connection))))

      assert.deepStrictEqual(backupFiles(backupDir), [record.snapshotFile])
      assert.isTrue(hasRecord(backupDir))
      const file = join(backupDir, record.snapshotFile)
      const bytes = readFileSync(file)
      assert.strictEqual(bytes.length, record.size)
      assert.strictEqual(statSync(file).mode & 0o777, 0o600)
      assert.strictEqual(createHash("sha256").update(bytes.subarray(0, -32)).digest("hex"), record.sha256)
      assert.strictEqual(bytes.subarray(-32).toString("hex"), record.sha256)

      // Nothing wrote during the backup: the window is one revision, the last one seeded.
      assert.strictEqual(record.etcdRevision, rolloutAt)
      assert.strictEqual(record.etcdRevisionUpperBound, rolloutAt)
      assert.strictEqual(record.pairing, "verified")
      assert.deepStrictEqual(record.operatorRevisions, { ...crRevisions, "kube-apiserver": 8 })

      const status = yield* snapshotStatus(file)
      assert.strictEqual(status.revision, record.etcdRevision)
      assert.isAtLeast(status.totalKey, keyCount + 4)

      // Restore with etcdutl (which checks the sha256 trailer) and serve the result.
      const restoredDir = join(workDir, "restored")
      yield* restoreSnapshot(file, restoredDir, "restored", "http://127.0.0.1:2380")
      const restored = yield* startLocalEtcd({ dataDir: restoredDir, name: "restored" })
      const check = Effect.gen(function* () {
        const etcd = yield* Etcd
        const kvs = yield* etcd.getPrefix("/registry/test/")
        assert.strictEqual(kvs.length, keyCount)
        kvs.forEach((kv, i) => {
          assert.strictEqual(kv.key, seedKeyName(i))
          assert.isTrue(Buffer.from(kv.value).equals(valueFor(i, valueSize)), `value of ${kv.key}`)
        })
        const inside = yield* readEtcdOperatorRevisions((yield* etcd.status).revision)
        for (const operand of operandList()) assert.strictEqual(inside[operand.name].revision, record.operatorRevisions[operand.name])
      })
      yield* check.pipe(Effect.provide(liveEtcd(restored.connection)))
    }).pipe(Effect.scoped),
  )

  it.effect("an unreachable endpoint fails with EtcdUnreachable and leaves no file", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const endpoint = `https://127.0.0.1:${yield* freeLoopbackPort}`
      const backupDir = join(workDir, "unreachable")
      const exit = yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(services(liveEtcd({ ...member.connection, endpoints: [endpoint] })))))
      const error = typedFailure(exit)
      assert.strictEqual(error._tag, "EtcdUnreachable")
      assert.strictEqual(
        error.message,
        `cannot reach etcd at ${endpoint} (connect ECONNREFUSED ${endpoint.slice("https://".length)}): check the endpoint address and port, that etcd is running, and that it serves TLS there.`,
      )
      assert.deepStrictEqual(backupFiles(backupDir), [])
      assert.isFalse(hasRecord(backupDir))
    }),
  )

  it.effect("a client certificate from another CA fails with EtcdTlsRejected and leaves no file", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const other = yield* generateTlsBundle(join(workDir, "foreign-ca"), { caName: "a foreign CA" })
      const backupDir = join(workDir, "foreign-cert")
      const connection = { endpoints: member.connection.endpoints, tls: { ...clientTls(other), cacert: member.tls!.caCert } }
      const error = typedFailure(yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(services(liveEtcd(connection))))))
      assert.strictEqual(error._tag, "EtcdTlsRejected")
      assert.match(
        error.message,
        new RegExp(
          `^etcd at ${member.clientUrl.replace(/\./g, "\\.")} rejected the client certificate during the TLS handshake \\(.*alert unknown ca.*\\): ` +
            `check that --etcd-cert/--etcd-key hold a client certificate signed by the CA etcd trusts for clients \\(the etcd-client secret\\)\\.$`,
        ),
      )
      assert.deepStrictEqual(backupFiles(backupDir), [])
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("too little free space fails before streaming, naming needed and available bytes", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const dbSize = (yield* (yield* Etcd).status).dbSize
      const backupDir = join(workDir, "full")
      const error = typedFailure(yield* Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(services(liveEtcd(member.connection), dbSize)))))
      assert.strictEqual(error._tag, "InsufficientDiskSpace")
      // The etcd is shared with other test files, whose writes may grow the database between the two status reads.
      const { neededBytes } = error as unknown as { readonly neededBytes: number }
      assert.isAtLeast(neededBytes, 2 * dbSize)
      assert.strictEqual(
        error.message,
        `not enough free space in ${backupDir}: the snapshot needs ${neededBytes} bytes (2 x the etcd database size ${neededBytes / 2}), only ${dbSize} bytes are available; free space or give the backup volume more room.`,
      )
      assert.deepStrictEqual(backupFiles(backupDir), [])
    }),
  )

  it.effect("interruption in the middle of the stream removes the part file", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const gate = yield* makeGate
      const backupDir = join(workDir, "interrupted")
      const etcd = gatedEtcd(gate, 1024 * 1024).pipe(Layer.provide(liveEtcd(member.connection)))
      const fiber = yield* Effect.forkChild(backupInit({ backupDir }).pipe(Effect.provide(services(etcd))))
      yield* Deferred.await(gate.reached)
      assert.strictEqual(backupFiles(backupDir).length, 1)
      assert.match(backupFiles(backupDir)[0]!, /\.db\.part$/)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(backupFiles(backupDir), [])
      assert.isFalse(hasRecord(backupDir))
    }),
  )
})

// A member of its own: its writes would move the revision and the CRs the other tests pin to what was seeded.
layer(Layer.provideMerge(Seeded.layer, TestEtcd.layerWithEtcd()), { excludeTestServices: true })("backup-init while etcd is written to", (it) => {
  it.effect("while the store changes, the snapshot's revision lies in the recorded window and a verified pairing is what the snapshot holds", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const client = yield* etcd3Client(member.connection)
      const kas = operandList()[1]!
      // A writer racing the backup: plain keys and kube-apiserver rollouts.
      // Interrupting a promise does not stop its loop: the flag does, and the join waits for its last write.
      let writing = true
      const writer = yield* Effect.forkChild(
        Effect.promise(async () => {
          for (let i = 0; writing; i++) {
            await client.put(`/registry/events/race-${i}`).value("x")
            if (i % 5 === 0) await client.put(operatorCrKey(kas)).value(operatorCrJson(kas, 9 + i))
          }
        }),
      )
      const backupDir = join(workDir, "race")
      const record = yield* backupInit({ backupDir }).pipe(
        Effect.provide(services(liveEtcd(member.connection))),
        Effect.ensuring(
          Effect.sync(() => {
            writing = false
          }),
        ),
      )
      yield* Fiber.join(writer)
      const file = join(backupDir, record.snapshotFile)
      const status = yield* snapshotStatus(file)
      assert.isAtLeast(status.revision, record.etcdRevision)
      assert.isAtMost(status.revision, record.etcdRevisionUpperBound)
      const restoredDir = join(workDir, "race-restored")
      yield* restoreSnapshot(file, restoredDir, "race", "http://127.0.0.1:2380")
      const restored = yield* startLocalEtcd({ dataDir: restoredDir, name: "race" })
      const inside = yield* Effect.flatMap(Etcd, (etcd) => Effect.flatMap(etcd.status, (s) => readEtcdOperatorRevisions(s.revision))).pipe(
        Effect.provide(liveEtcd(restored.connection)),
      )
      if (record.pairing === "verified") {
        for (const operand of operandList()) assert.strictEqual(inside[operand.name].revision, record.operatorRevisions[operand.name])
      } else {
        assert.isAbove(record.etcdRevisionUpperBound, record.etcdRevision)
      }
    }).pipe(Effect.scoped),
  )
})

layer(NodeServices.layer, { excludeTestServices: true })("backup-init when etcd stops mid-stream", (it) => {
  it.effect("fails with EtcdSnapshotFailed and leaves neither part nor final file", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* startTlsEtcd("killed")
      const client = yield* etcd3Client(member.connection)
      // 40 MB of values: far more than gRPC, socket and etcd buffers hold while the consumer waits.
      yield* seedKeys(client, 400, 100 * 1024)
      const gate = yield* makeGate
      const backupDir = join(workDir, "killed")
      const etcd = gatedEtcd(gate, 1024 * 1024).pipe(Layer.provide(liveEtcd(member.connection)))
      const fiber = yield* Effect.forkChild(Effect.exit(backupInit({ backupDir }).pipe(Effect.provide(services(etcd)))))
      yield* Deferred.await(gate.reached)
      yield* member.kill("SIGKILL")
      yield* Deferred.succeed(gate.open, undefined)
      const error = typedFailure(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "EtcdSnapshotFailed")
      assert.match(
        error.message,
        new RegExp(
          `^the snapshot stream from etcd at ${member.clientUrl.replace(/\./g, "\\.")} broke off after \\d+ bytes \\(.+\\): ` +
            `check that the etcd member is running and reachable, then take the backup again\\.$`,
        ),
      )
      assert.deepStrictEqual(backupFiles(backupDir), [])
      assert.isFalse(hasRecord(backupDir))
    }).pipe(Effect.scoped),
  )
})
