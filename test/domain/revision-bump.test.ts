import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { bumpAmount, defaultRevisionBump, revisionBump, revisionBumpFrom } from "../../src/domain/revision-bump.ts"

const revisionJson = JSON.stringify({
  clusterId: 8_563_542_329_862_108_000,
  raftIndex: { "https://10.0.0.1:2379": 412_345, "https://10.0.0.2:2379": 412_360, "https://10.0.0.3:2379": 412_322 },
  maxRaftIndex: 412_360,
  created: "2024-05-01 10:11:12.131415 +0000 UTC",
})

describe("revisionBump", () => {
  it("is 1.2 x the highest raft index of OpenShift's revision.json, rounded up", () => {
    expect(revisionBump(revisionJson, { noBump: false })).toEqual({ _tag: "FromRaftIndex", amount: 494_832n, maxRaftIndex: 412_360n })
  })

  it("takes the highest of maxRaftIndex and the per-endpoint indexes", () => {
    expect(revisionBump('{"raftIndex":{"https://a:2379":10,"https://b:2379":1000},"maxRaftIndex":500}', { noBump: false })).toMatchObject({
      amount: 1200n,
      maxRaftIndex: 1000n,
    })
    expect(revisionBump('{"raftIndex":{"https://a:2379":7}}', { noBump: false })).toMatchObject({ amount: 9n })
  })

  it("keeps uint64 raft indexes exact (beyond 2^53)", () => {
    expect(revisionBump('{"maxRaftIndex":18014398509481985}', { noBump: false })).toMatchObject({
      maxRaftIndex: 18_014_398_509_481_985n,
      amount: 21_617_278_211_378_382n,
    })
  })

  it.each([
    [undefined, "absent"],
    ["", "not JSON"],
    ["{not json", "not JSON"],
    ['{"maxRaftIndex":"12"}', "expected shape"],
    ['{"maxRaftIndex":1.5}', "expected shape"],
    ['{"maxRaftIndex":-3}', "negative"],
    ['{"clusterId":"0","raftIndex":{"https://10.0.0.1:2379":0},"maxRaftIndex":0,"created":""}', "no raft index"],
    ["{}", "no raft index"],
    ["[1,2]", "expected shape"],
  ])("falls back to 1,000,000,000 when revision.json is %j (%s)", (text, why) => {
    const bump = revisionBump(text, { noBump: false })
    expect(bump).toMatchObject({ _tag: "Default", amount: defaultRevisionBump })
    expect(bump._tag === "Default" && bump.reason).toContain(why)
  })

  it("--no-bump disables it whatever revision.json says", () => {
    expect(revisionBump(revisionJson, { noBump: true })).toEqual({ _tag: "Disabled" })
    expect(bumpAmount({ _tag: "Disabled" })).toBe(0n)
  })

  it("property: the bump is at least 1.2 x the highest raft index, and less than that + 1", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 63n }), { minLength: 1, maxLength: 5 }),
        fc.option(fc.bigInt({ min: 0n, max: 2n ** 63n })),
        (indexes, max) => {
          const text = `{"raftIndex":{${indexes.map((i, n) => `"https://10.0.0.${n}:2379":${i}`).join(",")}}${max === null ? "" : `,"maxRaftIndex":${max}`}}`
          const highest = [...indexes, ...(max === null ? [] : [max])].reduce((a, b) => (b > a ? b : a))
          const bump = bumpAmount(revisionBump(text, { noBump: false }))
          if (highest === 0n) expect(bump).toBe(defaultRevisionBump)
          else {
            expect(bump * 5n >= highest * 6n).toBe(true)
            expect((bump - 1n) * 5n < highest * 6n).toBe(true)
          }
        },
      ),
    )
  })
})

describe("revisionBumpFrom", () => {
  const kept = (max: bigint | undefined, name = "revision.json") => ({
    path: `/var/lib/etcd-backup/${name}`,
    text: max === undefined ? "{not json" : `{"maxRaftIndex":${max}}`,
  })
  const keptName = (i: number) => (i === 0 ? "revision.json" : `revision.json.0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b7${i}`)

  it("reads etcd's own revision.json when there is one, whatever was kept", () => {
    expect(revisionBumpFrom(revisionJson, [kept(10n ** 12n)], { noBump: false })).toEqual(revisionBump(revisionJson, { noBump: false }))
    expect(revisionBumpFrom("{}", [kept(10n ** 12n)], { noBump: false })).toMatchObject({ _tag: "Default", amount: defaultRevisionBump })
  })

  it("without one, bumps from what an interrupted restore kept, naming it, where that asks for more than the default", () => {
    expect(revisionBumpFrom(undefined, [kept(5_000_000_000n), kept(7n, keptName(1))], { noBump: false })).toEqual({
      _tag: "FromRaftIndex",
      amount: 6_000_000_000n,
      maxRaftIndex: 5_000_000_000n,
      source: "/var/lib/etcd-backup/revision.json",
    })
    const small = revisionBumpFrom(undefined, [kept(5000n)], { noBump: false })
    expect(small).toMatchObject({ _tag: "Default", amount: defaultRevisionBump })
    expect(small._tag === "Default" && small.reason).toContain(
      "revision.json is absent; the copies earlier restores kept (/var/lib/etcd-backup/revision.json) ask for no more",
    )
    expect(revisionBumpFrom(undefined, [kept(undefined)], { noBump: false })).toMatchObject({ _tag: "Default", amount: defaultRevisionBump })
    expect(revisionBumpFrom(undefined, [], { noBump: false })).toEqual(revisionBump(undefined, { noBump: false }))
    expect(revisionBumpFrom(undefined, [kept(5_000_000_000n)], { noBump: true })).toEqual({ _tag: "Disabled" })
  })

  it("property: without etcd's own record, the bump is the default or the largest a kept record gives, whichever is larger", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.bigInt({ min: 0n, max: 2n ** 62n })), { maxLength: 4 }), (maxes) => {
        const records = maxes.map((m, i) => kept(m ?? undefined, keptName(i)))
        const bump = bumpAmount(revisionBumpFrom(undefined, records, { noBump: false }))
        const fromRecords = records.map((r) => revisionBump(r.text, { noBump: false })).filter((b) => b._tag === "FromRaftIndex")
        expect(bump).toBe([defaultRevisionBump, ...fromRecords.map(bumpAmount)].reduce((a, b) => (b > a ? b : a)))
      }),
    )
  })
})
