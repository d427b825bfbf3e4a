import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { canonicalJson } from "../../src/domain/canonical-json.ts"
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

  test.prop([value], { numRuns: 200 })("is a function of the data alone", (v) => {
    const reordered = JSON.parse(json(v)) as unknown
    expect(canonicalYaml(reordered)).toBe(canonicalYaml(v))
  })

  it("double-quotes strings and sorts keys", () => {
    expect(canonicalYaml({ b: "no", a: 1, c: ["0600"] })).toBe('a: 1\nb: "no"\nc:\n  - "0600"\n')
  })
})
