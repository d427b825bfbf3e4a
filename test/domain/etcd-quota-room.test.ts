import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  backupVolumeBelowQuota,
  defaultEtcdQuotaGiB,
  etcdQuotaBytes,
  podQuotaRoom,
  podVolumeBelowQuota,
  quotaBackupBytes,
  quotaShortfallBytes,
} from "../../src/domain/etcd-quota-room.ts"
import { quantityBytes } from "../../src/domain/k8s-quantity.ts"
import { resourcesAllowanceBytes } from "../../src/domain/snapshot-room.ts"

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

describe("backupVolumeBelowQuota", () => {
  test.prop([quotaArb, limitArb, fc.boolean()])(
    "warns exactly when the limit holds less than the snapshot (twice with its ciphertext) and the resources, and names a size that would do",
    (quotaBytes, volumeSizeLimit, ciphertextBesideSnapshot) => {
      const needed = quotaBytes * (ciphertextBesideSnapshot ? 2 : 1) + resourcesAllowanceBytes
      expect(quotaBackupBytes({ quotaBytes, ciphertextBesideSnapshot })).toBe(needed)
      const limit = quantityBytes(volumeSizeLimit)!
      const warning = backupVolumeBelowQuota({ quotaBytes, volumeSizeLimit, ciphertextBesideSnapshot })
      expect(warning !== undefined).toBe(limit < needed)
      expect(quotaShortfallBytes({ quotaBytes, volumeSizeLimit, ciphertextBesideSnapshot })).toBe(Math.max(0, needed - limit))
      if (warning === undefined) return
      expect(warning).toContain(`--backup-volume-size ${volumeSizeLimit}`)
      expect(warning.includes("ciphertext")).toBe(ciphertextBesideSnapshot)
      const advised = /at least (\d+)Gi$/.exec(warning)
      expect(advised).not.toBeNull()
      const gib = Number(advised![1])
      expect(gib * GiB).toBeGreaterThanOrEqual(needed)
      expect((gib - 1) * GiB).toBeLessThan(needed)
    },
  )

  it("the default 20Gi holds etcd's largest quota (16 GiB), but not twice it for an encrypted upload into a claim", () => {
    expect(backupVolumeBelowQuota({ quotaBytes: 16 * GiB, volumeSizeLimit: "20Gi", ciphertextBesideSnapshot: false })).toBeUndefined()
    expect(backupVolumeBelowQuota({ quotaBytes: 8 * GiB, volumeSizeLimit: "20Gi", ciphertextBesideSnapshot: true })).toBeUndefined()
    expect(backupVolumeBelowQuota({ quotaBytes: 16 * GiB, volumeSizeLimit: "20Gi", ciphertextBesideSnapshot: true })).toBe(
      "the backup pod's /backup volume (--backup-volume-size 20Gi) cannot hold a backup of etcd at its quota of 16.0 GiB (spec.backendQuotaGiB of etcds.operator.openshift.io/cluster): the snapshot and its ciphertext (the upload encrypts into a PersistentVolumeClaim) and 64.0 MiB for the resources take 32.1 GiB. Backups fail once the database is larger than 10.0 GiB; give the operator (or render) a --backup-volume-size of at least 33Gi",
    )
    // 8 GiB less the resources' 64 MiB.
    expect(backupVolumeBelowQuota({ quotaBytes: 8 * GiB, volumeSizeLimit: "8Gi", ciphertextBesideSnapshot: false })).toContain("larger than 7.9 GiB;")
  })

  it("for a pod: the ciphertext counts only for an encrypted upload into a claim; nothing without a quota", () => {
    const at = (store: Parameters<typeof podVolumeBelowQuota>[2]) => podVolumeBelowQuota(16 * GiB, "20Gi", store) !== undefined
    expect(at(undefined)).toBe(false)
    expect(at({ claimName: "backups" })).toBe(false)
    expect(at({ recipientsSecret: "recipients" })).toBe(false)
    expect(at({ claimName: "backups", recipientsSecret: "recipients" })).toBe(true)
    expect(podVolumeBelowQuota(undefined, "1Mi", { claimName: "backups", recipientsSecret: "recipients" })).toBeUndefined()
    expect(podQuotaRoom(undefined, "1Mi", undefined)).toBeUndefined()
    expect(podQuotaRoom(16 * GiB, "20Gi", undefined)).toEqual({ shortfallBytes: 0, warning: undefined })
    expect(podQuotaRoom(16 * GiB, "16Gi", undefined)?.shortfallBytes).toBe(resourcesAllowanceBytes)
  })
})
