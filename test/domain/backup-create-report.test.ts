import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { backupCreateReportOf, encodeBackupCreateReport, maxReasonLength, parseBackupCreateReport } from "../../src/domain/backup-create-report.ts"
import { maxReportBytes } from "../../src/domain/termination-report.ts"

const idArb = fc.oneof(fc.constant("2026-12-07_145324"), fc.stringMatching(/^[A-Za-z0-9_+=@~-]{1,200}$/))
const verdictArb = fc.constantFrom("consistent" as const, "dirty" as const)
const reasonsArb = fc.array(fc.string({ unit: fc.constantFrom("a", "é", "💾", '"', "\\", "\n", "\ud800", "z"), maxLength: 600 }), { maxLength: 40 })

describe("backup-create report: properties", () => {
  test.prop([idArb, verdictArb, reasonsArb])("fits a termination message and reads back as written", (id, verdict, reasons) => {
    const report = backupCreateReportOf(id, verdict, reasons)
    const text = encodeBackupCreateReport(report)
    expect(Buffer.byteLength(text, "utf8")).toBeLessThanOrEqual(maxReportBytes)
    const parsed = parseBackupCreateReport(text)
    expect(Result.isSuccess(parsed) && parsed.success).toEqual(report)
  })

  test.prop([idArb, verdictArb, reasonsArb])(
    "keeps the reasons in order, each whole or cut, then says how many more the manifest holds",
    (id, verdict, reasons) => {
      const { reasons: kept } = backupCreateReportOf(id, verdict, reasons)
      const more = kept.at(-1)?.match(/^and (\d+) more reasons in backup-manifest\.json$/)
      const shown = more === null || more === undefined ? kept : kept.slice(0, -1)
      expect(shown.length + (more === null || more === undefined ? 0 : Number(more[1]))).toBe(reasons.length)
      shown.forEach((reason, i) => {
        const original = reasons[i]!
        if (original.length <= maxReasonLength) expect(reason).toBe(original)
        else {
          expect(reason.endsWith("…")).toBe(true)
          expect(original.startsWith(reason.slice(0, -1))).toBe(true)
          expect(reason.length).toBeLessThanOrEqual(maxReasonLength)
        }
      })
    },
  )
})

describe("backup-create report", () => {
  it("a termination message that is no report (a cut one, the log) is named as such", () => {
    const r = parseBackupCreateReport(`${"x".repeat(4096)}`)
    expect(Result.isFailure(r) && r.failure.message).toMatch(/not a backup-create report \(not JSON \(4096 bytes: the kubelet may have cut it/)
    const foreign = parseBackupCreateReport(JSON.stringify({ id: "2026-12-07_145324", verdict: "clean", reasons: [] }))
    expect(Result.isFailure(foreign) && foreign.failure.key).toBe("verdict")
  })
})
