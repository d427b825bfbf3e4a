import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  type DirectoryIdentity,
  type RecoveryHostFinding,
  encodeRestoredMemberRecord,
  type RestoredMemberRecord,
  completedRestoreCheck,
  recoveryHostCheck,
  recoveryHostFinding,
  restoredMemberNote,
} from "../../src/domain/restored-member-record.ts"

const recordPath = "/host/var/lib/etcd-backup/restored-member.json"

const record: RestoredMemberRecord = {
  restoreId: "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
  backup: "/home/core/backup",
  restoredAt: "2026-12-06T11:00:00Z",
  member: { device: "2049", inode: "131074" },
}

/** One finding of each kind, for `record`. */
const everyFinding = (record: RestoredMemberRecord): ReadonlyArray<RecoveryHostFinding> => [
  { _tag: "NoRecord" },
  { _tag: "Unreadable", reason: "cut short" },
  { _tag: "MemberReplaced", record },
  { _tag: "NoMember" },
  { _tag: "RestoredHere", record },
]

const decimal = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String)
const identityArb: fc.Arbitrary<DirectoryIdentity> = fc.record({ device: decimal, inode: decimal })
const recordArb: fc.Arbitrary<RestoredMemberRecord> = fc.record({
  restoreId: fc.uuid({ version: 4 }),
  backup: fc.string(),
  restoredAt: fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true }).map((d) => d.toISOString()),
  member: identityArb,
})

describe("recoveryHostFinding", () => {
  it("property: a record names the member in place exactly when device and inode are both the member's", () => {
    fc.assert(
      fc.property(recordArb, fc.option(identityArb, { nil: undefined }), (record, member) => {
        const finding = recoveryHostFinding(encodeRestoredMemberRecord(record), member)
        const same = member !== undefined && member.device === record.member.device && member.inode === record.member.inode
        expect(finding).toEqual(member === undefined ? { _tag: "NoMember" } : same ? { _tag: "RestoredHere", record } : { _tag: "MemberReplaced", record })
        expect(recoveryHostFinding(encodeRestoredMemberRecord(record), record.member)).toEqual({ _tag: "RestoredHere", record })
      }),
    )
  })

  it("property: no record is no finding, and no member nothing to guard; else text that is not a record, or a record that cannot be read, is unreadable, never absent", () => {
    fc.assert(
      fc.property(fc.option(identityArb, { nil: undefined }), fc.string(), (member, text) => {
        expect(recoveryHostFinding(undefined, member)).toEqual({ _tag: "NoRecord" })
        const finding = recoveryHostFinding(text, member)
        expect(["Unreadable", "RestoredHere", "MemberReplaced", "NoMember"]).toContain(finding._tag)
        expect(finding._tag === "NoMember").toBe(member === undefined)
        expect(recoveryHostFinding({ unreadable: "EACCES" }, member)).toEqual(
          member === undefined ? { _tag: "NoMember" } : { _tag: "Unreadable", reason: "EACCES" },
        )
      }),
    )
  })

  it("calls unreadable a record cut short, one of another shape, and one with a non-decimal inode", () => {
    const text = encodeRestoredMemberRecord(record)
    for (const bad of [text.slice(0, 40), "{}", text.replace('"131074"', '"0x20002"'), text.replace('"131074"', "131074")]) {
      expect(recoveryHostFinding(bad, record.member)._tag, bad).toBe("Unreadable")
    }
  })
})

describe("recoveryHostCheck", () => {
  it("property: unmet exactly where the restored member is still in place or the record cannot be read, unless told to stand down anyway", () => {
    fc.assert(
      fc.property(recordArb, fc.boolean(), fc.integer({ min: 0, max: 4 }), (record, even, kind) => {
        const finding = everyFinding(record)[kind]!
        const check = recoveryHostCheck(finding, recordPath, even)
        const blocks = finding._tag === "RestoredHere" || finding._tag === "Unreadable"
        expect(check.unmet !== undefined).toBe(blocks && !even)
        if (check.unmet !== undefined) {
          expect(check.unmet).toContain(recordPath)
          expect(check.unmet).toContain("--even-on-recovery-host")
        }
        if (finding._tag === "RestoredHere") expect(`${check.what} ${check.unmet ?? ""}`).toContain(`restore-${record.restoreId}`)
      }),
    )
  })

  it("names the restore, the backup and when, and what to do", () => {
    expect(recoveryHostCheck({ _tag: "RestoredHere", record }, recordPath, false)).toEqual({
      what: "not the recovery host of a restore, whose member a stand-down would move aside",
      unmet:
        "this is the recovery host: restore-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71 put the restored member of /home/core/backup in place here at 2026-12-06T11:00:00Z (/host/var/lib/etcd-backup/restored-member.json), and it is still etcd's member. Standing it down would stop the restored cluster and move its member aside. Run stand-down on the other control-plane hosts only; to stand this host down anyway (a new restore is to run on another host), pass --even-on-recovery-host",
    })
  })
})

describe("restoredMemberNote", () => {
  it("property: a restore says so only where the member it sets aside is the one a restore put in place", () => {
    fc.assert(
      fc.property(recordArb, fc.integer({ min: 0, max: 4 }), (record, kind) => {
        const note = restoredMemberNote(everyFinding(record)[kind]!, recordPath)
        expect(note === undefined).toBe(kind !== 4)
        if (note !== undefined) {
          expect(note).toContain(`restore-${record.restoreId}`)
          expect(note).toContain(record.restoredAt)
        }
      }),
    )
  })
})

describe("completedRestoreCheck", () => {
  it("property: a restore is refused only where an earlier one's member is still etcd's and every static pod manifest is in place again, unless told to", () => {
    fc.assert(
      fc.property(recordArb, fc.integer({ min: 0, max: 4 }), fc.boolean(), fc.boolean(), (record, kind, inPlace, told) => {
        const check = completedRestoreCheck(everyFinding(record)[kind]!, recordPath, inPlace, told)
        const complete = kind === 4 && inPlace
        expect(check.unmet === undefined).toBe(!complete || told)
        if (complete && !told) {
          expect(check.unmet).toContain(`restore-${record.restoreId} put the restored member of ${record.backup} in place here at ${record.restoredAt}`)
          expect(check.unmet).toContain("pass --even-after-restore")
        }
        if (complete && told) expect(check.what).toContain("--even-after-restore given, restoring again")
        // A restore interrupted before the static pods are all back is continued, and says so.
        if (kind === 4 && !inPlace) expect(check.what).toContain("that restore did not finish, and this run does it again")
      }),
    )
  })
})
