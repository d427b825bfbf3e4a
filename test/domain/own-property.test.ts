import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { canonicalize, canonicalJson } from "../../src/domain/canonical-json.ts"
import { getOwn, setOwn } from "../../src/domain/own-property.ts"
import { applyMergePatch, createMergePatch } from "../../src/services/kube/merge-patch.ts"

const withProtoKey = JSON.parse('{"__proto__": {"polluted": true}, "toString": "x"}') as Record<string, unknown>

describe("keys named like Object.prototype members", () => {
  it("setOwn and getOwn treat __proto__ as data", () => {
    const o: Record<string, unknown> = {}
    setOwn(o, "__proto__", 1)
    expect(Object.hasOwn(o, "__proto__")).toBe(true)
    expect(getOwn(o, "__proto__")).toBe(1)
    expect(getOwn({}, "toString")).toBeUndefined()
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype)
  })

  it("canonical JSON keeps a __proto__ key as data and pollutes nothing", () => {
    const c = canonicalize(withProtoKey) as Record<string, unknown>
    expect(Object.hasOwn(c, "__proto__")).toBe(true)
    expect(canonicalJson(withProtoKey)).toBe('{\n  "__proto__": {\n    "polluted": true\n  },\n  "toString": "x"\n}\n')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it("merge patches set, replace and remove a __proto__ key as data", () => {
    const merged = applyMergePatch({ a: 1 }, withProtoKey) as Record<string, unknown>
    expect(Object.hasOwn(merged, "__proto__")).toBe(true)
    expect(getOwn(merged, "__proto__")).toEqual({ polluted: true })
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype)
    const removed = applyMergePatch(merged, JSON.parse('{"__proto__": null}')) as Record<string, unknown>
    expect(Object.hasOwn(removed, "__proto__")).toBe(false)
    const patch = createMergePatch({ a: 1 }, merged) as Record<string, unknown>
    expect(applyMergePatch({ a: 1 }, patch)).toEqual(merged)
  })
})

describe("setOwn and getOwn", () => {
  // Keys as Kubernetes data holds them, Object.prototype's member names among them.
  const keyArb = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)))
  test.prop([fc.array(fc.tuple(keyArb, fc.jsonValue()), { maxLength: 12 })])(
    "behave as a Map: the last value set under a key is read back, every key is an own enumerable one, the prototype untouched",
    (entries) => {
      const record: Record<string, unknown> = {}
      for (const [k, v] of entries) setOwn(record, k, v)
      const expected = new Map(entries)
      expect(Object.keys(record).sort()).toEqual([...expected.keys()].sort())
      for (const [k, v] of expected) expect(getOwn(record, k)).toEqual(v)
      expect(Object.getPrototypeOf(record)).toBe(Object.prototype)
      expect(getOwn({}, "constructor")).toBeUndefined()
    },
  )
})
