import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeVolumeSizeLimits, encodeVolumeSizeLimits, freeUnderLimit, limitingVolume, volumeSizeLimitsEnv } from "../../src/domain/volume-size-limits.ts"

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
