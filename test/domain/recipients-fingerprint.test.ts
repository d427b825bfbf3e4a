import { fc, test } from "@fast-check/vitest"
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { recipientsFingerprint } from "../../src/domain/recipients-fingerprint.ts"

const recipientArb = fc.stringMatching(/^age1[02-9ac-hj-np-z]{58}$/)

describe("recipientsFingerprint", () => {
  it("is the sha256 of the sorted recipients, one per line", () => {
    const expected = createHash("sha256").update("age1a\nage1b\n").digest("hex")
    expect(recipientsFingerprint(["age1b", "age1a"])).toBe(expected)
  })

  test.prop([fc.array(recipientArb, { minLength: 1, maxLength: 6 }), fc.infiniteStream(fc.nat())], { numRuns: 200 })(
    "depends on the set only: not on order or repeats",
    (recipients, seeds) => {
      const shuffled = [...recipients, ...recipients.slice(0, 2)].map((r) => [seeds.next().value, r] as const).sort((a, b) => a[0] - b[0])
      expect(recipientsFingerprint(shuffled.map(([, r]) => r))).toBe(recipientsFingerprint(recipients))
    },
  )

  test.prop([fc.uniqueArray(recipientArb, { minLength: 1, maxLength: 4 }), recipientArb], { numRuns: 200 })(
    "a set with another recipient has another fingerprint",
    (recipients, extra) => {
      fc.pre(!recipients.includes(extra))
      expect(recipientsFingerprint([...recipients, extra])).not.toBe(recipientsFingerprint(recipients))
    },
  )
})
