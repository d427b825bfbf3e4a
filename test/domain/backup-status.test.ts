import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { BackupStatus, decodeBackupStatus, encodeBackupStatus, type BackupStatusData } from "../../src/domain/backup-status.ts"
import { operandList } from "../../src/domain/operands.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"
import { instantArb, maxInt32, revisionSetArb } from "./arbitraries.ts"
import { failure } from "../support/result-failure.ts"

const seed = {
  status: "Complete",
  revisions: '- etcd: "3"\n- kubeApiserver: "7"\n- kubeControllerManager: "7"\n- kubeScheduler: "7"\n',
}
const seedRevisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }

const statusArb: fc.Arbitrary<BackupStatus> = fc.record(
  {
    status: fc.constantFrom("Pending", "Complete", "Failed"),
    revisions: revisionSetArb,
    lastRenderTime: instantArb,
    lastBackupTime: instantArb,
    lastCompleteTime: instantArb,
    message: fc.string({ unit: "binary", maxLength: 80 }),
  },
  { requiredKeys: ["status", "revisions"] },
)

describe("decodeBackupStatus", () => {
  it("reads the seed's shape", () => {
    expect(decodeBackupStatus(seed)).toEqual(Result.succeed({ status: "Complete", revisions: seedRevisions }))
  })

  it("tolerates unquoted numbers, any order, and keys it does not know", () => {
    const data = { ...seed, revisions: "- kubeScheduler: 7\n- etcd: 3\n- kubeControllerManager: '7'\n- kubeApiserver: 7", future: "x" }
    expect(decodeBackupStatus(data)).toEqual(Result.succeed({ status: "Complete", revisions: seedRevisions }))
  })

  it("reads the optional keys", () => {
    const data = { ...seed, status: "Failed", lastRenderTime: "2024-05-01T12:00:00Z", lastBackupTime: "2024-05-01T12:05:00.250Z", message: "etcd unreachable" }
    expect(decodeBackupStatus(data)).toEqual(
      Result.succeed({
        status: "Failed",
        revisions: seedRevisions,
        lastRenderTime: Date.UTC(2024, 4, 1, 12),
        lastBackupTime: Date.UTC(2024, 4, 1, 12, 5, 0, 250),
        message: "etcd unreachable",
      }),
    )
  })

  test.prop([statusArb], { numRuns: 500 })("decode(encode(x)) == x", (status) => {
    expect(Schema.is(BackupStatus)(status)).toBe(true)
    expect(decodeBackupStatus(encodeBackupStatus(status))).toEqual(Result.succeed(status))
  })
})

describe("encodeBackupStatus", () => {
  it("writes the seed's shape canonically: fixed key order, quoted revisions", () => {
    const data = encodeBackupStatus({ status: "Pending", revisions: seedRevisions, lastRenderTime: Date.UTC(2024, 4, 1, 12), message: "rendered" })
    expect(Object.keys(data)).toEqual(["status", "revisions", "lastRenderTime", "message"])
    expect(data).toEqual({ status: "Pending", revisions: seed.revisions, lastRenderTime: "2024-05-01T12:00:00Z", message: "rendered" })
  })

  test.prop([statusArb], { numRuns: 300 })("has one byte form: re-encoding a decoded status gives the same data", (status) => {
    const data = encodeBackupStatus(status)
    const again = encodeBackupStatus(Result.getOrThrow(decodeBackupStatus(data)))
    expect(JSON.stringify(again)).toBe(JSON.stringify(data))
  })

  test.prop([revisionSetArb, fc.nat()], { numRuns: 200 })("any tolerated spelling of the revisions encodes to the canonical one", (revisions, seedN) => {
    const lines = operandList().map((o, i) => ((seedN >> i) & 1 ? `- ${o.statusKey}: ${revisions[o.name]}` : `- ${o.statusKey}: '${revisions[o.name]}'`))
    const rotated = lines.map((_, i) => lines[(i + seedN) % lines.length]!)
    const decoded = Result.getOrThrow(decodeBackupStatus({ status: "Complete", revisions: rotated.join("\n") }))
    expect(encodeBackupStatus(decoded).revisions).toBe(encodeBackupStatus({ status: "Complete", revisions }).revisions)
  })
})

describe("malformed backup-status data", () => {
  const revisionLines = (map: (key: string, value: string) => string = (k, v) => `- ${k}: "${v}"`) =>
    operandList()
      .map((o) => map(o.statusKey, String(seedRevisions[o.name])))
      .join("\n")

  it.each<[string, unknown, string]>([
    ["no data", undefined, "data"],
    ["data that is a string", "status: Complete", "data"],
    ["data that is a list", [seed], "data"],
    ["no status", { revisions: seed.revisions }, "status"],
    ["a lower-case status", { ...seed, status: "complete" }, "status"],
    ["an unknown status", { ...seed, status: "Succeeded" }, "status"],
    ["a status that is not a string", { ...seed, status: 1 }, "status"],
    ["no revisions", { status: "Complete" }, "revisions"],
    ["revisions that are not YAML", { ...seed, revisions: "- etcd: [3" }, "revisions"],
    ["revisions with an alias", { ...seed, revisions: "- etcd: &a '3'\n- kubeApiserver: *a" }, "revisions"],
    ["revisions as one map", { ...seed, revisions: "etcd: 3\nkubeApiserver: 7\nkubeControllerManager: 7\nkubeScheduler: 7" }, "revisions"],
    ["revisions as a scalar", { ...seed, revisions: "3" }, "revisions"],
    ["empty revisions", { ...seed, revisions: "" }, "revisions"],
    ["a two-key item", { ...seed, revisions: `- etcd: "3"\n  kubeApiserver: "7"\n${revisionLines().split("\n").slice(2).join("\n")}` }, "revisions[0]"],
    ["a scalar item", { ...seed, revisions: `- etcd\n${revisionLines()}` }, "revisions[0]"],
    ["an unknown operand key", { ...seed, revisions: `${revisionLines()}\n- openshiftApiserver: "4"` }, "revisions[4].openshiftApiserver"],
    [
      "an operand name instead of its status key",
      { ...seed, revisions: revisionLines().replace("kubeApiserver", "kube-apiserver") },
      "revisions[1].kube-apiserver",
    ],
    ["a repeated operand", { ...seed, revisions: `${revisionLines()}\n- etcd: "4"` }, "revisions[4].etcd"],
    ["a non-numeric revision", { ...seed, revisions: revisionLines().replace('"3"', '"three"') }, "revisions[0].etcd"],
    ["revision zero", { ...seed, revisions: revisionLines().replace('"3"', '"0"') }, "revisions[0].etcd"],
    ["a negative revision", { ...seed, revisions: revisionLines().replace('"3"', "-3") }, "revisions[0].etcd"],
    ["a fractional revision", { ...seed, revisions: revisionLines().replace('"3"', "3.0") }, "revisions[0].etcd"],
    ["a hexadecimal revision", { ...seed, revisions: revisionLines().replace('"3"', "0x3") }, "revisions[0].etcd"],
    ["a revision beyond int32", { ...seed, revisions: revisionLines().replace('"3"', String(maxInt32 + 1)) }, "revisions[0].etcd"],
    ["a null revision", { ...seed, revisions: revisionLines().replace('"3"', "") }, "revisions[0].etcd"],
    ["a list as revision", { ...seed, revisions: revisionLines().replace('"3"', "[3]") }, "revisions[0].etcd"],
    ["a missing operand", { ...seed, revisions: revisionLines().split("\n").slice(1).join("\n") }, "revisions"],
    ["a bad lastRenderTime", { ...seed, lastRenderTime: "yesterday" }, "lastRenderTime"],
    ["a lastRenderTime with an offset", { ...seed, lastRenderTime: "2024-05-01T12:00:00+02:00" }, "lastRenderTime"],
    ["an impossible lastBackupTime", { ...seed, lastBackupTime: "2023-02-29T00:00:00Z" }, "lastBackupTime"],
    ["a message that is not a string", { ...seed, message: 5 }, "message"],
  ])("%s is a BackupStatusInvalid naming %s", (_what, data, key) => {
    const error = failure(decodeBackupStatus(data))
    expect(error._tag).toBe("BackupStatusInvalid")
    expect(error.key).toBe(key)
    expect(error.message).toContain(`ConfigMap backup-status: ${key} `)
  })

  /** A valid encoding with one generated defect, and the key the error must name. */
  const defectArb: fc.Arbitrary<{ data: Record<string, unknown>; key: string }> = fc.tuple(statusArb, fc.integer({ min: 0, max: 3 })).chain(([status, i]) => {
    const data: Record<string, unknown> = { ...encodeBackupStatus(status) }
    const lines = (data.revisions as string).trimEnd().split("\n")
    const statusKey = operandList()[i]!.statusKey
    const withLine = (line: string) => lines.map((l, j) => (j === i ? line : l)).join("\n")
    const nonRevision = fc.oneof(
      fc.string({ maxLength: 8 }).filter((s) => !/^[0-9]+$/.test(s) || Number(s) < 1 || Number(s) > maxInt32),
      fc.integer({ min: -1000, max: 0 }).map(String),
      fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }).map(String),
    )
    return fc.oneof(
      fc
        .string({ maxLength: 10 })
        .filter((s) => !["Pending", "Complete", "Failed"].includes(s))
        .map((s) => ({ data: { ...data, status: s }, key: "status" })),
      fc.constant({ data: { ...data, status: undefined }, key: "status" }),
      fc.constant({ data: { ...data, revisions: undefined }, key: "revisions" }),
      nonRevision.map((v) => ({ data: { ...data, revisions: withLine(`- ${statusKey}: ${JSON.stringify(v)}`) }, key: `revisions[${i}].${statusKey}` })),
      fc
        .stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,15}$/)
        .filter((k) => !operandList().some((o) => o.statusKey === k))
        .map((k) => ({ data: { ...data, revisions: withLine(`- ${k}: "1"`) }, key: `revisions[${i}].${k}` })),
      fc.constant({ data: { ...data, revisions: lines.filter((_, j) => j !== i).join("\n") }, key: "revisions" }),
      fc.constant({ data: { ...data, revisions: [...lines, lines[i]].join("\n") }, key: `revisions[4].${statusKey}` }),
      fc
        .tuple(fc.constantFrom("lastRenderTime", "lastBackupTime", "lastCompleteTime"), fc.string({ maxLength: 25 }))
        .filter(([, v]) => !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v))
        .map(([k, v]) => ({ data: { ...data, [k]: v }, key: k })),
      fc
        .tuple(
          fc.constantFrom("status", "revisions", "lastRenderTime", "lastBackupTime", "lastCompleteTime", "message"),
          fc.oneof(fc.integer(), fc.constant(null), fc.boolean()),
        )
        .map(([k, v]) => ({ data: { ...data, [k]: v }, key: k })),
    )
  })

  test.prop([defectArb], { numRuns: 600 })("every generated defect yields BackupStatusInvalid naming its key", ({ data, key }) => {
    const error = failure(decodeBackupStatus(data))
    expect(error._tag).toBe("BackupStatusInvalid")
    expect(error.key).toBe(key)
  })

  test.prop([fc.dictionary(fc.constantFrom("status", "revisions", "lastRenderTime", "lastBackupTime", "message", "x"), fc.string({ maxLength: 60 }))], {
    numRuns: 500,
  })("any string data decodes or fails with a typed error, never throws", (data: BackupStatusData) => {
    const r = decodeBackupStatus(data)
    if (Result.isFailure(r)) expect(r.failure._tag).toBe("BackupStatusInvalid")
    else expect(decodeBackupStatus(encodeBackupStatus(r.success))).toEqual(r)
  })

  it("writes times it reads back exactly", () => {
    const t = Date.UTC(2024, 1, 29, 23, 59, 59, 1)
    expect(encodeBackupStatus({ status: "Complete", revisions: seedRevisions, lastBackupTime: t }).lastBackupTime).toBe(formatRfc3339Utc(t))
  })
})
