import { createHash } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Etcd } from "../../../src/services/etcd/etcd.ts"
import * as EtcdInMemory from "../../../src/services/etcd/etcd-in-memory.ts"
import { SimulatedMember, simulatedSnapshotSize } from "../../../src/services/etcd/etcd-in-memory.ts"
import { TrailerCheck } from "../../../src/services/etcd/snapshot-trailer.ts"

const verify = (chunks: ReadonlyArray<Uint8Array>) => {
  const check = new TrailerCheck()
  for (const c of chunks) check.push(c)
  return check.finish()
}

describe("in-memory etcd member", () => {
  it.effect("keeps every revision of a key, like etcd's MVCC store", () => {
    const member = new SimulatedMember()
    return Effect.gen(function* () {
      const r1 = member.put("/k", "one")
      const r2 = member.put("/k", "two")
      const r3 = member.delete("/k")
      const etcd = yield* Etcd
      assert.strictEqual(Buffer.from((yield* etcd.get("/k", { revision: r1 }))!.value).toString(), "one")
      const second = (yield* etcd.get("/k", { revision: r2 }))!
      assert.deepStrictEqual([second.createRevision, second.modRevision, second.version], [r1, r2, 2])
      assert.isUndefined(yield* etcd.get("/k", { revision: r3 }))
      assert.isUndefined(yield* etcd.get("/k"))
      assert.strictEqual((yield* etcd.status).revision, r3)
    }).pipe(Effect.provide(EtcdInMemory.inMemory(member)))
  })

  it.effect("reads at revisions and refuses compacted and future ones", () => {
    const member = new SimulatedMember()
    const r1 = member.put("/a/1", "x")
    member.put("/a/2", "y")
    member.put("/b", "z")
    member.compact(r1 + 1)
    return Effect.gen(function* () {
      const etcd = yield* Etcd
      assert.deepStrictEqual(
        (yield* etcd.getPrefix("/a/")).map((kv) => kv.key),
        ["/a/1", "/a/2"],
      )
      const compacted = yield* Effect.flip(etcd.get("/a/1", { revision: r1 }))
      assert.strictEqual(compacted._tag, "EtcdRevisionUnavailable")
      const future = yield* Effect.flip(etcd.get("/a/1", { revision: member.revision + 5 }))
      assert.include(future.message, "has not reached revision")
    }).pipe(Effect.provide(EtcdInMemory.inMemory(member)))
  })

  it.effect("snapshots are the database followed by its sha256, in chunks", () =>
    Effect.gen(function* () {
      const member = new SimulatedMember({ dbSize: 100_000, chunkSize: 4096 })
      member.put("/k", "v")
      const chunks = yield* Effect.flatMap(Etcd, (e) => Stream.runCollect(e.snapshot)).pipe(Effect.provide(EtcdInMemory.inMemory(member)))
      const all = Buffer.concat(chunks)
      assert.strictEqual(all.length, simulatedSnapshotSize(member))
      assert.isTrue(chunks.every((c) => c.length <= 4096))
      const db = all.subarray(0, 100_000)
      assert.strictEqual(all.subarray(100_000).toString("hex"), createHash("sha256").update(db).digest("hex"))
      assert.property(verify(chunks), "sha256")
    }),
  )

  it.effect("fault knobs corrupt, truncate, fail or refuse the snapshot", () =>
    Effect.gen(function* () {
      const run = (member: SimulatedMember) =>
        Effect.flatMap(Etcd, (e) => Stream.runCollect(e.snapshot)).pipe(Effect.provide(EtcdInMemory.inMemory(member)), Effect.result)
      const corrupt = new SimulatedMember({ dbSize: 50_000 })
      corrupt.snapshotFault = { kind: "corrupt", atByte: 1234 }
      const c = yield* run(corrupt)
      assert.strictEqual(c._tag, "Success")
      if (c._tag === "Success") assert.propertyVal(verify(c.success), "_tag", "SnapshotHashMismatch")

      const truncated = new SimulatedMember({ dbSize: 50_000 })
      truncated.snapshotFault = { kind: "truncate", atByte: 40_000 }
      const t = yield* run(truncated)
      if (t._tag === "Success") assert.strictEqual(Buffer.concat(t.success).length, 40_000)

      const failing = new SimulatedMember({ dbSize: 50_000 })
      failing.snapshotFault = { kind: "fail", atByte: 40_000 }
      const f = yield* run(failing)
      assert.strictEqual(f._tag, "Failure")
      if (f._tag === "Failure") assert.propertyVal(f.failure, "_tag", "EtcdSnapshotFailed")

      const down = new SimulatedMember()
      down.unreachable = true
      const d = yield* run(down)
      if (d._tag === "Failure") assert.propertyVal(d.failure, "_tag", "EtcdUnreachable")
      assert.strictEqual(d._tag, "Failure")
    }),
  )
})
