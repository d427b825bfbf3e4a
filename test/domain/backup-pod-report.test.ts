import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  encodeBackupPodReport,
  maxLocationLength,
  maxReportBytes,
  maxRevisionEntries,
  parseBackupPodReport,
  terminationMessageLimit,
  type BackupPodReport,
} from "../../src/domain/backup-pod-report.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"
import { dnsLabelArb, instantArb } from "./arbitraries.ts"

const count = fc.oneof(fc.nat({ max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat())
const reportArb: fc.Arbitrary<BackupPodReport> = fc.record(
  {
    id: fc.stringMatching(/^[A-Za-z0-9._~+=@-]{1,200}$/).filter((s) => s !== "." && s !== ".."),
    location: fc.stringMatching(/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,1024}$/),
    time: instantArb.map(formatRfc3339Utc),
    revisions: fc.dictionary(dnsLabelArb(63), count, { maxKeys: maxRevisionEntries }),
    etcdRevision: count,
    snapshotBytes: count,
    resourcesBytes: count,
    totalBytes: count,
    bytesUploaded: count,
    verdict: fc.constantFrom("consistent", "dirty"),
    verified: fc.boolean(),
    verifyMode: fc.constantFrom("None", "Full", "TestRestore"),
    pruned: count,
  },
  {
    requiredKeys: [
      "id",
      "location",
      "time",
      "revisions",
      "etcdRevision",
      "snapshotBytes",
      "resourcesBytes",
      "totalBytes",
      "bytesUploaded",
      "verdict",
      "verified",
      "verifyMode",
    ],
  },
)

const example: BackupPodReport = {
  id: "2026-12-02_151400",
  location: "s3://etcd-backups/prod/2026-12-02_151400",
  time: "2026-12-02T15:16:02Z",
  revisions: { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 },
  etcdRevision: 918273,
  snapshotBytes: 104857600,
  resourcesBytes: 81920,
  totalBytes: 104939520,
  bytesUploaded: 104939520,
  verdict: "consistent",
  verified: true,
  verifyMode: "TestRestore",
  pruned: 2,
}

describe("BackupPodReport", () => {
  test.prop([reportArb], { numRuns: 300 })("encode then parse gives the report back", (report) => {
    expect(parseBackupPodReport(encodeBackupPodReport(report))).toEqual(Result.succeed(report))
  })

  test.prop([reportArb], { numRuns: 300 })("no valid report encodes to more than the kubelet keeps", (report) => {
    expect(Buffer.byteLength(encodeBackupPodReport(report), "utf8")).toBeLessThanOrEqual(maxReportBytes)
  })

  it("the largest report the Schema allows still fits the termination message", () => {
    const big = Number.MAX_SAFE_INTEGER
    const worst: BackupPodReport = {
      ...example,
      id: "x".repeat(200),
      location: "~".repeat(maxLocationLength),
      time: "2026-12-02T15:16:02.123456789Z",
      revisions: Object.fromEntries(Array.from({ length: maxRevisionEntries }, (_, i) => [`${"o".repeat(60)}${String(i).padStart(3, "0")}`, big])),
      etcdRevision: big,
      snapshotBytes: big,
      resourcesBytes: big,
      totalBytes: big,
      bytesUploaded: big,
      pruned: big,
    }
    const text = encodeBackupPodReport(worst)
    expect(Result.isSuccess(parseBackupPodReport(text))).toBe(true)
    expect(Buffer.byteLength(text, "utf8")).toBeLessThanOrEqual(maxReportBytes)
    expect(maxReportBytes).toBeLessThan(terminationMessageLimit)
  })

  it.each([
    ["a location with a control character", { location: "s3://b/\n" }, "location"],
    ["a location over the bound", { location: "a".repeat(maxLocationLength + 1) }, "location"],
    ["too many revisions", { revisions: Object.fromEntries(Array.from({ length: maxRevisionEntries + 1 }, (_, i) => [`op${i}`, 1])) }, "revisions"],
    ["an unknown verify mode", { verifyMode: "Quick" }, "verifyMode"],
    ["a negative size", { totalBytes: -1 }, "totalBytes"],
  ])("refuses %s, naming the field", (_, change, key) => {
    const r = parseBackupPodReport(JSON.stringify({ ...example, ...change }))
    expect(Result.isFailure(r) && r.failure.key.startsWith(key)).toBe(true)
  })

  test.prop([reportArb, fc.integer({ min: 1, max: 4000 })])("a report cut short is refused, never misread", (report, keep) => {
    const text = encodeBackupPodReport(report)
    fc.pre(keep < text.length)
    expect(Result.isFailure(parseBackupPodReport(text.slice(0, keep)))).toBe(true)
  })

  it("names a termination message that is a log, not a report", () => {
    const r = parseBackupPodReport("uploading backup-manifest.json ...\nError: connection refused")
    expect(Result.isFailure(r) && r.failure.message).toMatch(/not a backup report.*log/)
  })
})
