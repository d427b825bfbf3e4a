import { fc, test } from "@fast-check/vitest"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Quantity, quantityBytes } from "../../src/domain/k8s-quantity.ts"

describe("quantityBytes", () => {
  it.each([
    ["20Gi", 20 * 2 ** 30],
    ["64Mi", 64 * 2 ** 20],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["1.15k", 1150],
    ["2G", 2e9],
    ["1500m", 1],
    ["999m", 0],
    ["1024", 1024],
    ["1Ei", undefined],
    ["20GB", undefined],
    ["1e3", undefined],
    ["", undefined],
  ] as const)("%s is %s bytes", (quantity, bytes) => {
    expect(quantityBytes(quantity)).toBe(bytes)
  })

  test.prop([
    fc.integer({ min: 0, max: 2 ** 20 }),
    fc.constantFrom(["Ki", 2 ** 10], ["Mi", 2 ** 20], ["k", 1e3], ["M", 1e6], ["", 1]) as fc.Arbitrary<[string, number]>,
  ])("a whole number of a unit is that many times the unit", (n, [unit, factor]) => {
    expect(quantityBytes(`${n}${unit}`)).toBe(n * factor)
  })

  test.prop([fc.integer({ min: 0, max: 10 ** 6 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom("k", "M", "Ki", "Mi", "Gi")])(
    "a decimal is rounded down, never up: the pod is evicted past the limit, not below it",
    (digits, places, unit) => {
      const text = String(digits).padStart(places + 1, "0")
      const quantity = `${text.slice(0, -places)}.${text.slice(-places)}${unit}`
      const exact = BigInt(digits) * BigInt(quantityBytes(`1${unit}`)!)
      const scale = 10n ** BigInt(places)
      expect(BigInt(quantityBytes(quantity)!)).toBe(exact / scale)
    },
  )
})

describe("Quantity", () => {
  test.prop([fc.string({ maxLength: 12 }), fc.stringMatching(/^[0-9]{1,4}(\.[0-9]{1,3})?(m|k|M|G|Ki|Mi|Gi)?$/)])(
    "accepts exactly the quantities whose bytes can be told",
    (text, quantity) => {
      expect(Schema.is(Quantity)(quantity)).toBe(true)
      expect(quantityBytes(quantity)).toBeTypeOf("number")
      expect(Schema.is(Quantity)(text)).toBe(quantityBytes(text) !== undefined)
    },
  )
})
