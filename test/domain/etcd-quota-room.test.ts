import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  backupVolumeBelowQuota,
  ciphertextBesideOf,
  defaultEtcdQuotaGiB,
  etcdQuotaBytes,
  podQuotaRoom,
  quotaBackupBytes,
  quotaShortfallBytes,
} from "../../src/domain/etcd-quota-room.ts"
import { quantityBytes } from "../../src/domain/k8s-quantity.ts"
import { backupVolumeBytes, type CiphertextBeside, largestDatabaseBytes, noCiphertext, resourcesAllowanceBytes } from "../../src/domain/snapshot-room.ts"

const GiB = 2 ** 30
const limitArb = fc.oneof(
  fc.integer({ min: 1, max: 64 }).map((n) => `${n}Gi`),
  fc.integer({ min: 1, max: 65_536 }).map((n) => `${n}Mi`),
  fc.integer({ min: 1, max: 70 }).map((n) => `${n}G`),
)
const quotaArb = fc.integer({ min: 1, max: 32 }).map((n) => n * GiB)

describe("etcdQuotaBytes", () => {
  test.prop([fc.integer({ min: 1, max: 1024 })])("spec.backendQuotaGiB in bytes, the rest of the CR ignored", (gib) => {
    expect(etcdQuotaBytes({ apiVersion: "operator.openshift.io/v1", spec: { backendQuotaGiB: gib, managementState: "Managed" }, status: {} })).toBe(gib * GiB)
  })

  it("the CRD's default (8) when the CR does not set it; unknown without a CR or with something else in it", () => {
    expect(defaultEtcdQuotaGiB).toBe(8)
    expect(etcdQuotaBytes({ spec: {} })).toBe(8 * GiB)
    expect(etcdQuotaBytes({ metadata: { name: "cluster" } })).toBe(8 * GiB)
    expect(etcdQuotaBytes(undefined)).toBeUndefined()
    for (const bad of [{ spec: { backendQuotaGiB: "16" } }, { spec: { backendQuotaGiB: 8.5 } }, { spec: { backendQuotaGiB: 0 } }, { spec: 3 }, "etcd", null]) {
      expect(etcdQuotaBytes(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })
})

const MiB = 2 ** 20
const besideArb: fc.Arbitrary<CiphertextBeside> = fc.oneof(
  fc.constant(noCiphertext),
  fc.constant({ _tag: "Whole" } as const),
  fc.record({
    _tag: fc.constant("Ring" as const),
    partBytes: fc.integer({ min: 5, max: 1024 }).map((n) => n * MiB),
    partsInFlight: fc.integer({ min: 1, max: 64 }),
  }),
)
/** What the volume holds beside the snapshot, worked out here from the formats: age's payload, and S3's parts. */
const expectedBeside = (databaseBytes: number, beside: CiphertextBeside): number => {
  const payload = databaseBytes + 16 + Math.max(1, Math.ceil(databaseBytes / (64 * 1024))) * 16
  if (beside._tag === "None") return 0
  if (beside._tag === "Whole" || payload <= beside.partBytes) return payload
  return Math.min(payload, (beside.partsInFlight + 1) * Math.max(beside.partBytes, 5 * MiB, Math.ceil(payload / 10_000)))
}

describe("backupVolumeBelowQuota", () => {
  test.prop([quotaArb, limitArb, besideArb])(
    "warns exactly when the limit holds less than the snapshot, what an encrypting upload writes beside it and the resources, and names a size that would do",
    (quotaBytes, volumeSizeLimit, ciphertextBeside) => {
      const needed = quotaBytes + expectedBeside(quotaBytes, ciphertextBeside) + resourcesAllowanceBytes
      expect(quotaBackupBytes({ quotaBytes, ciphertextBeside })).toBe(needed)
      const limit = quantityBytes(volumeSizeLimit)!
      const warning = backupVolumeBelowQuota({ quotaBytes, volumeSizeLimit, ciphertextBeside })
      expect(warning !== undefined).toBe(limit < needed)
      expect(quotaShortfallBytes({ quotaBytes, volumeSizeLimit, ciphertextBeside })).toBe(Math.max(0, needed - limit))
      if (warning === undefined) return
      expect(warning).toContain(`--backup-volume-size ${volumeSizeLimit}`)
      expect(warning.includes("ciphertext")).toBe(ciphertextBeside._tag !== "None")
      const advised = /at least (\d+)Gi$/.exec(warning)
      expect(advised).not.toBeNull()
      const gib = Number(advised![1])
      expect(gib * GiB).toBeGreaterThanOrEqual(needed)
      expect((gib - 1) * GiB).toBeLessThan(needed)
    },
  )

  test.prop([fc.integer({ min: 0, max: 64 * GiB }), besideArb])(
    "the largest database a volume holds: its backup fits, one byte more does not",
    (limitBytes, beside) => {
      const largest = largestDatabaseBytes(limitBytes, beside)
      if (backupVolumeBytes(0, beside) > limitBytes) return void expect(largest).toBe(0)
      expect(backupVolumeBytes(largest, beside)).toBeLessThanOrEqual(limitBytes)
      expect(backupVolumeBytes(largest + 1, beside)).toBeGreaterThan(limitBytes)
    },
  )

  it("the default 20Gi holds etcd's largest quota (16 GiB), but not twice it for an encrypted upload into a claim", () => {
    const at = (quotaBytes: number, volumeSizeLimit: string, ciphertextBeside: CiphertextBeside) =>
      backupVolumeBelowQuota({ quotaBytes, volumeSizeLimit, ciphertextBeside })
    expect(at(16 * GiB, "20Gi", noCiphertext)).toBeUndefined()
    expect(at(8 * GiB, "20Gi", { _tag: "Whole" })).toBeUndefined()
    expect(at(16 * GiB, "20Gi", { _tag: "Whole" })).toBe(
      "the backup pod's /backup volume (--backup-volume-size 20Gi) cannot hold a backup of etcd at its quota of 16.0 GiB (spec.backendQuotaGiB of etcds.operator.openshift.io/cluster): the snapshot and its ciphertext (the upload encrypts into a PersistentVolumeClaim) and 64.0 MiB for the resources take 32.1 GiB. Backups fail once the database is larger than 10.0 GiB; give the operator (or render) a --backup-volume-size of at least 33Gi",
    )
    // 8 GiB less the resources' 64 MiB.
    expect(at(8 * GiB, "8Gi", noCiphertext)).toContain("larger than 7.9 GiB;")
    // A unit left out: 10 bytes hold not even the resources.
    expect(at(8 * GiB, "10", noCiphertext)).toContain("take 8.1 GiB. No backup fits in 10 B; give")
    expect(backupVolumeBelowQuota({ quotaBytes: 8 * GiB, volumeSizeLimit: "10", ciphertextBeside: noCiphertext, quotaSource: "default" })).toContain(
      "at the default quota of 8.0 GiB (spec.backendQuotaGiB's default; with --revisions no cluster is read): ",
    )
  })

  it("an encrypted upload to S3 keeps a ring of parts beside the snapshot: 5 x 16 MiB by default, more with larger or more parts", () => {
    const ring = { _tag: "Ring", partBytes: 16 * MiB, partsInFlight: 4 } as const
    expect(quotaBackupBytes({ quotaBytes: 16 * GiB, ciphertextBeside: ring })).toBe(16 * GiB + 80 * MiB + resourcesAllowanceBytes)
    expect(backupVolumeBelowQuota({ quotaBytes: 16 * GiB, volumeSizeLimit: "20Gi", ciphertextBeside: ring })).toBeUndefined()
    // The snapshot fits the volume with the resources' allowance, but not with the ring beside it.
    expect(backupVolumeBelowQuota({ quotaBytes: 8 * GiB, volumeSizeLimit: "8300Mi", ciphertextBeside: ring })).toMatch(
      /the snapshot and the 80\.0 MiB of its ciphertext the upload to S3 reads it in \(a part more than the 4 in flight\) and 64\.0 MiB for the resources take 8\.1 GiB\. .* at least 9Gi$/,
    )
    expect(quotaBackupBytes({ quotaBytes: 8 * GiB, ciphertextBeside: { _tag: "Ring", partBytes: 512 * MiB, partsInFlight: 8 } })).toBe(
      8 * GiB + 9 * 512 * MiB + resourcesAllowanceBytes,
    )
  })

  it("for a pod: what the upload writes beside the snapshot follows its store; nothing without a quota", () => {
    const transfer = { partSize: "16Mi", partsInFlight: 4 }
    expect(ciphertextBesideOf(undefined)).toEqual(noCiphertext)
    expect(ciphertextBesideOf({ claimName: "backups", ...transfer })).toEqual(noCiphertext)
    expect(ciphertextBesideOf({ ...transfer })).toEqual(noCiphertext)
    expect(ciphertextBesideOf({ recipientsSecret: "recipients", ...transfer })).toEqual({ _tag: "Ring", partBytes: 16 * MiB, partsInFlight: 4 })
    expect(ciphertextBesideOf({ claimName: "backups", recipientsSecret: "recipients", ...transfer })).toEqual({ _tag: "Whole" })
    expect(podQuotaRoom(16 * GiB, "20Gi", { claimName: "backups", recipientsSecret: "recipients", ...transfer })?.warning).toBeDefined()
    expect(podQuotaRoom(16 * GiB, "20Gi", { recipientsSecret: "recipients", ...transfer })?.warning).toBeUndefined()
    expect(podQuotaRoom(undefined, "1Mi", { claimName: "backups", recipientsSecret: "recipients", ...transfer })?.warning).toBeUndefined()
    expect(podQuotaRoom(undefined, "1Mi", undefined)).toBeUndefined()
    expect(podQuotaRoom(16 * GiB, "20Gi", undefined)).toEqual({ shortfallBytes: 0, warning: undefined })
    expect(podQuotaRoom(16 * GiB, "16Gi", undefined)?.shortfallBytes).toBe(resourcesAllowanceBytes)
    expect(podQuotaRoom(16 * GiB, "16Gi", { recipientsSecret: "recipients", ...transfer })?.shortfallBytes).toBe(80 * MiB + resourcesAllowanceBytes)
  })
})
