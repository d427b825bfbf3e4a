import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  afterStandDownCheck,
  encodeStoodDownRecord,
  type StoodDownFinding,
  readStoodDownRecord,
  type StoodDownRecord,
  stoodDownFinding,
} from "../../src/domain/stood-down-record.ts"

const recordPath = "/host/var/lib/etcd-backup/stood-down.json"

const hostPathArb = fc.array(fc.stringMatching(/^[a-z0-9.-]{1,12}$/), { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join("/")}`)
/** Records as this version writes them (the moves named) and as earlier ones did (none). */
const recordArb: fc.Arbitrary<StoodDownRecord> = fc.record(
  {
    standDownId: fc.uuid({ version: 4 }),
    stoodDownAt: fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true }).map((d) => d.toISOString()),
    moved: fc.array(fc.record({ from: hostPathArb, to: hostPathArb }), { maxLength: 6 }),
  },
  { requiredKeys: ["standDownId", "stoodDownAt"] },
)

/** One finding of each kind, for `record`. */
const everyFinding = (record: StoodDownRecord): ReadonlyArray<StoodDownFinding> => [
  { _tag: "NoRecord" },
  { _tag: "MemberInPlace" },
  { _tag: "Unreadable", reason: "cut short" },
  { _tag: "StoodDown", record },
]

describe("stoodDownFinding", () => {
  it("property: a record applies only while etcd has no member here; no record never applies; any text with a member in place is a rejoin", () => {
    fc.assert(
      fc.property(recordArb, fc.boolean(), fc.string(), (record, memberInPlace, text) => {
        expect(stoodDownFinding(encodeStoodDownRecord(record), memberInPlace)).toEqual(
          memberInPlace ? { _tag: "MemberInPlace" } : { _tag: "StoodDown", record },
        )
        expect(stoodDownFinding(undefined, memberInPlace)).toEqual({ _tag: "NoRecord" })
        expect(stoodDownFinding(text, true)).toEqual({ _tag: "MemberInPlace" })
        expect(stoodDownFinding({ unreadable: "EACCES" }, memberInPlace)).toEqual(
          memberInPlace ? { _tag: "MemberInPlace" } : { _tag: "Unreadable", reason: "EACCES" },
        )
        expect(["Unreadable", "StoodDown"]).toContain(stoodDownFinding(text, false)._tag)
        expect(readStoodDownRecord(encodeStoodDownRecord(record))).toEqual(record)
        expect(readStoodDownRecord({ unreadable: "EACCES" })).toBeUndefined()
      }),
    )
  })

  it("calls unreadable a record cut short or of another shape", () => {
    const text = encodeStoodDownRecord({ standDownId: "7c9e6679-7425-40de-944b-e07fc1f90ae7", stoodDownAt: "2026-12-06T11:00:00Z" })
    for (const bad of [text.slice(0, 30), "{}", text.replace("2026-12-06T11:00:00Z", "yesterday")])
      expect(stoodDownFinding(bad, false)._tag, bad).toBe("Unreadable")
  })
})

describe("afterStandDownCheck", () => {
  it("property: unmet exactly where the host is still stood down (or its record cannot be read), unless told to restore here anyway", () => {
    fc.assert(
      fc.property(recordArb, fc.boolean(), fc.integer({ min: 0, max: 3 }), (record, even, kind) => {
        const finding = everyFinding(record)[kind]!
        const check = afterStandDownCheck(finding, recordPath, even)
        const blocks = finding._tag === "StoodDown" || finding._tag === "Unreadable"
        expect(check.unmet !== undefined).toBe(blocks && !even)
        if (check.unmet !== undefined) {
          expect(check.unmet).toContain(recordPath)
          expect(check.unmet).toContain("--even-after-stand-down")
          expect(check.unmet).toContain("a second, separate cluster")
        }
        if (finding._tag === "StoodDown") expect(`${check.what} ${check.unmet ?? ""}`).toContain(`stand-down-${record.standDownId} at ${record.stoodDownAt}`)
      }),
    )
  })
})
