import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { parseByteSize } from "../../src/domain/byte-size.ts"
import { BackupStoreOptions, defaultUploadTransfer, storeRetentionOf, uploadMemoryMi } from "../../src/domain/pod-store-options.ts"

describe("storeRetentionOf", () => {
  const optional = (arb: fc.Arbitrary<number>) => fc.option(arb, { nil: undefined })
  test.prop([
    fc.record({
      keepLast: optional(fc.integer({ min: 0, max: 100 })),
      keepDaily: optional(fc.integer({ min: 0, max: 100 })),
      keepWeekly: optional(fc.integer({ min: 0, max: 100 })),
      keepMonthly: optional(fc.integer({ min: 0, max: 100 })),
      maxAgeMs: optional(fc.integer({ min: 1, max: 10 * 365 * 86_400_000 })),
      maxTotalBytes: optional(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
    }),
    optional(fc.integer({ min: 0, max: 7 * 86_400_000 })),
  ])("gives backup-upload's rules exactly when the policy has one: seconds rounded up (at least 1), bytes, nothing undefined", (policy, graceMs) => {
    const r = storeRetentionOf(policy, graceMs)
    const any = Object.values(policy).some((v) => v !== undefined)
    expect(r === undefined).toBe(!any)
    if (r === undefined) return
    expect(Object.values(r).every((v) => v !== undefined)).toBe(true)
    expect(r.keepLast).toBe(policy.keepLast)
    expect(r.maxTotalBytes).toBe(policy.maxTotalBytes)
    if (policy.maxAgeMs !== undefined) {
      expect(r.maxAgeSeconds! * 1000).toBeGreaterThanOrEqual(policy.maxAgeMs)
      expect(r.maxAgeSeconds).toBe(Math.max(1, Math.ceil(policy.maxAgeMs / 1000)))
    } else expect(r.maxAgeSeconds).toBeUndefined()
    expect(r.leftoverGraceSeconds).toBe(graceMs === undefined ? undefined : Math.ceil(graceMs / 1000))
  })
})

describe("uploadMemoryMi", () => {
  test.prop([fc.integer({ min: 5, max: 5 * 1024 }), fc.constantFrom("Mi", ""), fc.integer({ min: 1, max: 64 })])(
    "requests Node's ~128 MiB plus the part buffers, and allows as much again for the HTTP layer's copies",
    (size, unit, partsInFlight) => {
      const partSize = unit === "Mi" ? `${size}Mi` : String(size * 1024 * 1024)
      const store = Schema.decodeUnknownSync(BackupStoreOptions)({ s3Url: "s3://b/p", ...defaultUploadTransfer, partSize, partsInFlight })
      const buffers = Math.ceil((Result.getOrThrow(parseByteSize(partSize)) * partsInFlight) / 2 ** 20)
      expect(uploadMemoryMi(store)).toEqual({ request: 128 + buffers, limit: 256 + buffers })
    },
  )
})
