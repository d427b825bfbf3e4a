import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decodeVolumeSizeLimits,
  encodeVolumeSizeLimits,
  freeUnderLimit,
  limitingVolume,
  quantityBytes,
  volumeSizeLimitsEnv,
} from "../../src/domain/volume-size-limits.ts"

const segmentArb = fc.stringMatching(/^[a-z0-9._-]{1,8}$/).filter((s) => s !== "." && s !== "..")
const pathArb = fc.array(segmentArb, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join("/")}`)
const bytesArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const limitsArb = fc.dictionary(pathArb, bytesArb, { maxKeys: 5 })

describe("decodeVolumeSizeLimits / encodeVolumeSizeLimits", () => {
  test.prop([limitsArb])("round-trips, and the encoding does not depend on the keys' order", (limits) => {
    const encoded = encodeVolumeSizeLimits(limits)
    expect(Result.getOrThrow(decodeVolumeSizeLimits(encoded))).toEqual(limits)
    const reversed = Object.fromEntries(Object.entries(limits).reverse())
    expect(encodeVolumeSizeLimits(reversed)).toBe(encoded)
  })

  it("absent or blank is no limit; a trailing slash is dropped", () => {
    expect(Result.getOrThrow(decodeVolumeSizeLimits(undefined))).toEqual({})
    expect(Result.getOrThrow(decodeVolumeSizeLimits(" "))).toEqual({})
    expect(Result.getOrThrow(decodeVolumeSizeLimits('{"/backup/":5}'))).toEqual({ "/backup": 5 })
  })

  it.each(['{"backup":5}', '{"/backup":-1}', '{"/backup":1.5}', '{"/backup":"5"}', "[]", "20Gi", '{"/backup":1e300}'])(
    "refuses %s, naming the variable",
    (text) => {
      const decoded = decodeVolumeSizeLimits(text)
      expect(Result.isFailure(decoded)).toBe(true)
      if (Result.isFailure(decoded)) {
        expect(decoded.failure._tag).toBe("VolumeSizeLimitsInvalid")
        expect(decoded.failure.message).toContain(volumeSizeLimitsEnv)
      }
    },
  )
})

describe("limitingVolume", () => {
  test.prop([limitsArb, pathArb, fc.array(segmentArb, { maxLength: 3 })])(
    "is the deepest mount path that is the path or a directory above it",
    (limits, mount, below) => {
      const withMount = { ...limits, [mount]: 7 }
      const path = [mount, ...below].join("/")
      const found = limitingVolume(path, withMount)!
      expect(path === found.mountPath || path.startsWith(`${found.mountPath}/`)).toBe(true)
      expect(found.mountPath.length).toBeGreaterThanOrEqual(mount.length)
      expect(found.limitBytes).toBe(withMount[found.mountPath])
    },
  )

  it("a sibling whose name starts with the mount's is not inside it", () => {
    expect(limitingVolume("/backup-old/x", { "/backup": 1 })).toBeUndefined()
    expect(limitingVolume("/backup", { "/backup": 1 })).toEqual({ mountPath: "/backup", limitBytes: 1 })
    expect(limitingVolume("/backup/", { "/backup": 1 })).toEqual({ mountPath: "/backup", limitBytes: 1 })
    expect(limitingVolume("/etc", {})).toBeUndefined()
  })
})

describe("freeUnderLimit", () => {
  test.prop([bytesArb, bytesArb, bytesArb])(
    "is never negative, never more than the file system's free space nor the limit's remainder",
    (free, limit, used) => {
      const room = freeUnderLimit(free, limit, used)
      expect(room).toBeGreaterThanOrEqual(0)
      expect(room).toBeLessThanOrEqual(free)
      expect(room).toBeLessThanOrEqual(Math.max(0, limit - used))
      expect(room === free || room === Math.max(0, limit - used)).toBe(true)
    },
  )
})

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
