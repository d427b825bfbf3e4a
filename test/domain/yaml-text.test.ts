import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { canonicalJson } from "../../src/domain/canonical-json.ts"
import { setOwn } from "../../src/domain/own-property.ts"
import { canonicalYaml, parseYamlText } from "../../src/domain/yaml-text.ts"

const json = (v: unknown) => canonicalJson(v)

describe("parseYamlText", () => {
  it("reads YAML and JSON", () => {
    expect(Result.getOrThrow(parseYamlText("a: [1, true, x]"))).toEqual({ a: [1, true, "x"] })
    expect(Result.getOrThrow(parseYamlText('{"a": [1, true, "x"]}'))).toEqual({ a: [1, true, "x"] })
  })

  it("failsafe reads every scalar as text", () => {
    expect(Result.getOrThrow(parseYamlText('- etcd: 3\n- x: "3"\n- y: 0x3\n- z: true', { schema: "failsafe" }))).toEqual([
      { etcd: "3" },
      { x: "3" },
      { y: "0x3" },
      { z: "true" },
    ])
  })

  it.each([
    ["a syntax error", "a: [1"],
    ["a duplicate key", "a: 1\na: 2"],
    ["two documents", "a: 1\n---\nb: 2"],
    ["an alias", "a: &x [1]\nb: *x"],
    ["a self-referencing alias", "&a [*a]"],
    ["an unresolved alias", "a: *nope"],
    ["an unknown tag", "a: !secret x"],
    ["a bad escape", '"\\q"'],
  ])("refuses %s without throwing", (_what, text) => {
    const r = parseYamlText(text)
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) expect(r.failure.message).toMatch(/^invalid YAML: /)
  })

  it("refuses a key repeated in any mapping, naming its code and place, and accepts the same key in two mappings", () => {
    expect(parseYamlText("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n")).toEqual(
      Result.fail({ message: "invalid YAML: Map keys must be unique", code: "DUPLICATE_KEY", line: 5, col: 3 }),
    )
    expect(Result.isFailure(parseYamlText('{"a": 1, "a": 1}'))).toBe(true)
    expect(Result.getOrThrow(parseYamlText("a: {x: 1}\nb: {x: 2}"))).toEqual({ a: { x: 1 }, b: { x: 2 } })
    expect(Result.getOrThrow(parseYamlText("a: 1\na: 2", { uniqueKeys: false }))).toEqual({ a: 2 })
  })

  test.prop([fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 30 }), fc.nat()])(
    "finds a repeated key exactly when the parser's own check does",
    (keys, pick) => {
      const text = [...keys, keys[pick % keys.length]!].map((k, i) => `${JSON.stringify(k)}: ${i}`).join("\n")
      const own = YAML.parseDocument(text, { uniqueKeys: true }).errors.some((e) => e.code === "DUPLICATE_KEY")
      expect(own).toBe(true)
      expect(parseYamlText(text)).toMatchObject(Result.fail({ code: "DUPLICATE_KEY" }))
      expect(Result.isSuccess(parseYamlText(text.split("\n").slice(0, -1).join("\n")))).toBe(true)
    },
  )

  it("checks a mapping of many keys in time linear in its size (a hostile file in a backup's tarball)", () => {
    // 200k keys: minutes for the parser's pairwise check; the bound only tells a stall from a slow machine.
    const text = Array.from({ length: 200_000 }, (_, i) => `k${i}: v`).join("\n")
    const started = performance.now()
    expect(Result.isSuccess(parseYamlText(text))).toBe(true)
    expect(performance.now() - started).toBeLessThan(30_000)
  })

  test.prop([fc.string({ maxLength: 120 })], { numRuns: 500 })("never throws on any text", (text) => {
    expect(() => parseYamlText(text)).not.toThrow()
    expect(() => parseYamlText(text, { schema: "failsafe" })).not.toThrow()
  })
})

describe("canonicalYaml", () => {
  const tricky = fc.constantFrom(
    "no",
    "yes",
    "on",
    "off",
    "y",
    "n",
    "~",
    "null",
    "0600",
    "1e3",
    "0x1f",
    "2024-01-01",
    "12:30",
    "",
    " a",
    "a: b",
    "- x",
    "#",
    "'",
    '"',
    "\\",
    "\n",
    "é",
  )
  const jsonish = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown)
  const value = fc.oneof(jsonish, fc.dictionary(fc.oneof(tricky, fc.string({ maxLength: 5 })), fc.oneof(tricky, jsonish), { maxKeys: 6 }))

  test.prop([value], { numRuns: 300 })("reads back as the same data under YAML 1.2 and YAML 1.1 (kubectl) parsers", (v) => {
    const text = canonicalYaml(v)
    expect(json(YAML.parse(text))).toBe(json(v))
    expect(json(YAML.parse(text, { version: "1.1" }))).toBe(json(v))
  })

  // Keys in the reverse order, built by hand: JSON.parse(canonicalJson(v)) was flaky here, V8 (Node 24.21) sometimes
  // reading an escaped one-character key "\"" back as "\\" deep into a long run (seed 1005450552, 20000 runs).
  const reversed = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(reversed)
    if (x === null || typeof x !== "object") return x
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(x).reverse()) setOwn(out, k, reversed((x as Record<string, unknown>)[k]))
    return out
  }

  test.prop([value], { numRuns: 200 })("is a function of the data alone", (v) => {
    const reordered = reversed(v)
    expect(canonicalYaml(reordered)).toBe(canonicalYaml(v))
  })

  it("double-quotes a key << (YAML 1.1's merge key when plain): kubectl reads the key it is", () => {
    const value = { "": { "<<": 0 }, "<<": { a: 1 }, b: "<<" }
    const text = canonicalYaml(value)
    expect(text).toBe('"":\n  "<<": 0\n"<<":\n  a: 1\nb: "<<"\n')
    expect(YAML.parse(text, { version: "1.1" })).toEqual(value)
  })

  it("double-quotes strings and sorts keys", () => {
    expect(canonicalYaml({ b: "no", a: 1, c: ["0600"] })).toBe('a: 1\nb: "no"\nc:\n  - "0600"\n')
  })
})
