/**
 * Which backup of a directory verify and restore take: properties over directories of complete
 * and incomplete backups mixed with unrelated names, and the report's text and JSON forms.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import { backupFileNames, formatBackupTimestamp } from "../../../src/domain/archive-names.ts"
import { holdsNoBackupFiles, selectBackup } from "../../../src/programs/verify/verify-selection.ts"
import { decodeVerifyReport, encodeVerifyReport, isIncomplete, renderVerifyReport, type VerifyReport } from "../../../src/programs/verify/verify-report.ts"

// 2000-01-01 .. 2099-12-31, whole seconds.
const timestampArb = fc.integer({ min: 946_684_800, max: 4_102_444_799 }).map((s) => formatBackupTimestamp(new Date(s * 1000)))
const noiseArb = fc.oneof(
  fc.string({ maxLength: 30 }),
  timestampArb.map((ts) => `snapshot_${ts}.db.part`),
  timestampArb.map((ts) => `static_kuberesources_${ts}.tar`),
  fc.constantFrom("backup-manifest.json", ".cluster-backup", "snapshot_latest.db", "snapshot_2024-02-30_000000.db"),
)
const backupsArb = fc.uniqueArray(fc.record({ ts: timestampArb, dirty: fc.boolean() }), { minLength: 1, maxLength: 6, selector: (b) => b.ts })
const namesOf = (backups: ReadonlyArray<{ readonly ts: string; readonly dirty: boolean }>) =>
  backups.flatMap((b) => {
    const names = backupFileNames(b.ts, b.dirty)
    return [names.snapshot, names.resources]
  })

describe("selectBackup", () => {
  it("property: takes the newest complete backup whatever else the directory holds", () => {
    fc.assert(
      fc.property(backupsArb, fc.array(noiseArb, { maxLength: 8 }), fc.integer(), (backups, noise, seed) => {
        const names = [...namesOf(backups), ...noise].sort((a, b) => ((a.length * 31 + seed) % 7) - ((b.length * 31 + seed) % 7))
        const newest = [...backups].sort((a, b) => (a.ts < b.ts ? 1 : -1))[0]!
        const selected = Result.getOrThrow(selectBackup(names))
        expect(selected.timestamp).toBe(newest.ts)
        expect(selected.dirty).toBe(newest.dirty)
        expect({ snapshot: selected.snapshot, resources: selected.resources }).toEqual(backupFileNames(newest.ts, newest.dirty))
      }),
      { numRuns: 200 },
    )
  })

  it("property: a directory of other names alone holds no backup file and selects none; one backup file of any backup, complete or not, is enough to hold one", () => {
    fc.assert(
      fc.property(fc.array(noiseArb, { maxLength: 8 }), backupsArb, fc.boolean(), (noise, backups, snapshotOnly) => {
        expect(holdsNoBackupFiles(noise)).toBe(true)
        expect(Result.isFailure(selectBackup(noise))).toBe(true)
        const one = backupFileNames(backups[0]!.ts, backups[0]!.dirty)
        expect(holdsNoBackupFiles([...noise, snapshotOnly ? one.snapshot : one.resources])).toBe(false)
        expect(holdsNoBackupFiles([...noise, ...namesOf(backups)])).toBe(false)
      }),
      { numRuns: 200 },
    )
  })

  it("property: --timestamp takes exactly that backup", () => {
    fc.assert(
      fc.property(backupsArb, fc.nat(), (backups, pick) => {
        const chosen = backups[pick % backups.length]!
        const selected = Result.getOrThrow(selectBackup(namesOf(backups), chosen.ts))
        expect(selected.snapshot).toBe(backupFileNames(chosen.ts, chosen.dirty).snapshot)
      }),
      { numRuns: 100 },
    )
  })

  it("property: a newest backup missing a file, or mixing clean and dirty names, is refused, never paired with an older one", () => {
    fc.assert(
      fc.property(backupsArb, fc.constantFrom("snapshot", "resources", "mixed"), (backups, fault) => {
        const newest = [...backups].sort((a, b) => (a.ts < b.ts ? 1 : -1))[0]!
        const own = backupFileNames(newest.ts, newest.dirty)
        const other = backupFileNames(newest.ts, !newest.dirty)
        const names = namesOf(backups).filter((n) => n !== own.snapshot && n !== own.resources)
        if (fault === "snapshot") names.push(own.resources)
        if (fault === "resources") names.push(own.snapshot)
        if (fault === "mixed") names.push(own.snapshot, other.resources)
        const result = selectBackup(names)
        expect(Result.isFailure(result)).toBe(true)
        if (Result.isFailure(result)) {
          expect(result.failure.timestamp).toBe(newest.ts)
          expect(result.failure.message).toContain(`backup ${newest.ts}`)
        }
      }),
      { numRuns: 200 },
    )
  })

  it("says what the directory holds when nothing or not the asked backup is there", () => {
    const none = selectBackup(["notes.txt", "snapshot_2024-01-01_000000.db.part"])
    expect(Result.isFailure(none) && none.failure.message).toBe(
      "no backup files (snapshot_<timestamp>.db and static_kuberesources_<timestamp>.tar.gz) in the directory",
    )
    const names = namesOf([
      { ts: "2024-01-01_000000", dirty: false },
      { ts: "2024-02-01_000000", dirty: true },
    ])
    const absent = selectBackup(names, "2023-01-01_000000")
    expect(Result.isFailure(absent) && absent.failure.message).toBe(
      "no backup with timestamp 2023-01-01_000000; the directory holds 2024-02-01_000000, 2024-01-01_000000",
    )
  })
})

describe("verify report", () => {
  const report: VerifyReport = {
    backupDir: "/backup",
    timestamp: "2024-05-01_101500",
    snapshot: "snapshot_2024-05-01_101500.db",
    resources: "static_kuberesources_2024-05-01_101500.tar.gz",
    passed: false,
    checks: [
      { id: "snapshot-size", title: "the snapshot's size is the manifest's", verdict: "PASS", expected: "10 bytes", found: "10 bytes" },
      { id: "tarball-sha256", title: "the tarball's sha256 is the manifest's", verdict: "FAIL", expected: "aa", found: "bb" },
      { id: "tarball-entries", title: "entries", verdict: "SKIP", expected: "", found: "not checked: the tarball cannot be read" },
    ],
  }

  it("renders one line per check and a summary naming what did not pass", () => {
    expect(renderVerifyReport(report)).toBe(
      [
        "backup 2024-05-01_101500 in /backup: snapshot_2024-05-01_101500.db, static_kuberesources_2024-05-01_101500.tar.gz",
        "PASS snapshot-size    the snapshot's size is the manifest's: expected 10 bytes; found 10 bytes",
        "FAIL tarball-sha256   the tarball's sha256 is the manifest's: expected aa; found bb",
        "SKIP tarball-entries  entries: not checked: the tarball cannot be read",
        "verify: FAIL (2 of 3 checks did not pass: tarball-sha256, tarball-entries)",
        "",
      ].join("\n"),
    )
  })

  it("checks that could not run while none failed make the run incomplete, not failed; a warning keeps it a pass", () => {
    const [size, , entries] = report.checks
    const warned = { ...size!, verdict: "WARN" as const }
    const last = (checks: VerifyReport["checks"]) =>
      renderVerifyReport({ ...report, checks })
        .trimEnd()
        .split("\n")
        .at(-1)
    expect(last([size!, warned, entries!])).toBe("verify: INCOMPLETE (1 of 3 checks could not run: tarball-entries; none failed)")
    expect(isIncomplete([size!, warned, entries!])).toBe(true)
    expect(last([size!, warned])).toBe("verify: PASS (2 checks)")
    expect(isIncomplete([size!, warned])).toBe(false)
    expect(isIncomplete(report.checks)).toBe(false)
  })

  it("encodes to JSON that decodes back to the same report", () => {
    expect(Result.getOrThrow(decodeVerifyReport(encodeVerifyReport(report)))).toEqual(report)
  })
})
