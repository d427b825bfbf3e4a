import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { Result, Schema } from "effect"
import { ManifestVerification } from "../../src/domain/backup-manifest.ts"
import { testRestoreCheckId, verificationOf, verifiedMode } from "../../src/domain/verification-file.ts"

const check = (id: string, verdict: "PASS" | "FAIL" | "SKIP") => ({ id, title: id, verdict, expected: "", found: "" })
const report = (checks: ReadonlyArray<ReturnType<typeof check>>, timestamp: string | null = "2026-12-02_151400") =>
  JSON.stringify({ backupDir: "/backup", timestamp, snapshot: null, resources: null, passed: checks.every((c) => c.verdict === "PASS"), checks })

const verdictArb = fc.constantFrom("PASS", "FAIL", "SKIP") as fc.Arbitrary<"PASS" | "FAIL" | "SKIP">
const checksArb = fc.array(fc.tuple(fc.constantFrom("manifest", "snapshot-trailer", testRestoreCheckId, "test-restore-keys"), verdictArb), {
  minLength: 1,
  maxLength: 6,
})

describe("verifiedMode", () => {
  test.prop([checksArb])("vouches for a backup only when every check passed, TestRestore only when a test restore passed", (cs) => {
    const checks = cs.map(([id, v]) => check(id, v))
    const mode = verifiedMode(report(checks), "2026-12-02_151400")
    if (checks.some((c) => c.verdict !== "PASS")) expect(mode).toBeUndefined()
    else expect(mode).toBe(checks.some((c) => c.id === testRestoreCheckId) ? "TestRestore" : "Full")
  })

  test.prop([checksArb])("a report that says passed while a check did not is not believed", (cs) => {
    const checks = cs.map(([id, v]) => check(id, v))
    fc.pre(checks.some((c) => c.verdict !== "PASS"))
    const lying = JSON.stringify({ ...JSON.parse(report(checks)), passed: true })
    expect(verifiedMode(lying, undefined)).toBeUndefined()
  })

  it("vouches for an unauthenticated backup: its manifest-signature warns, a warning is not a failure", () => {
    const checks = [check("manifest", "PASS"), { ...check("manifest-signature", "PASS"), verdict: "WARN" }]
    const text = JSON.stringify({ backupDir: "/backup", timestamp: "2026-12-02_151400", snapshot: null, resources: null, passed: true, checks })
    expect(verifiedMode(text, "2026-12-02_151400")).toBe("Full")
  })

  it("does not vouch for another backup, an empty report or text that is not a report", () => {
    const passed = report([check("manifest", "PASS")])
    expect(verifiedMode(passed, "2026-12-02_151400")).toBe("Full")
    expect(verifiedMode(passed, "2026-12-01_000000")).toBeUndefined()
    expect(verifiedMode(report([]), undefined)).toBeUndefined()
    expect(verifiedMode("verify: PASS (12 checks)", undefined)).toBeUndefined()
  })
})

describe("verificationOf", () => {
  test.prop([checksArb])("is verifiedMode's verdict with the checks' ids in order, and always a valid manifest record", (cs) => {
    const checks = cs.map(([id, v]) => check(id, v))
    const record = verificationOf(report(checks), "2026-12-02_151400")
    expect(record?.mode).toBe(verifiedMode(report(checks), "2026-12-02_151400"))
    if (record === undefined) return
    expect(record.checks).toEqual(checks.map((c) => c.id))
    expect(Result.isSuccess(Schema.decodeUnknownResult(ManifestVerification)(record))).toBe(true)
  })
})
