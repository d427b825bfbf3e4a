import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  formatLabelSelector,
  matchesLabelSelector,
  parseLabelSelector,
  selectorForLabels,
  type Requirement,
} from "../../../src/services/kube/label-selector.ts"

const parse = (s: string) => Result.getOrThrow(parseLabelSelector(s))
const matches = (selector: string, labels?: Record<string, string>) => matchesLabelSelector(parse(selector), labels)

const segment = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/)
const key = fc.oneof(
  segment,
  fc.tuple(segment, segment).map(([p, n]) => `${p}.io/${n}`),
)
const value = fc.oneof(fc.constant(""), fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?$/))
const requirement: fc.Arbitrary<Requirement> = fc.oneof(
  fc.record({ key, op: fc.constantFrom("in" as const, "notin" as const), values: fc.array(value, { minLength: 1, maxLength: 3 }) }),
  fc.record({ key, op: fc.constantFrom("exists" as const, "!exists" as const) }),
)
const labels = fc.dictionary(key, value, { maxKeys: 5 })

describe("label selectors", () => {
  it("supports equality, inequality, set and existence requirements like the API", () => {
    const l = { app: "backup", tier: "control-plane" }
    expect(matches("app=backup", l)).toBe(true)
    expect(matches("app==backup", l)).toBe(true)
    expect(matches("app=other", l)).toBe(false)
    expect(matches("app!=other", l)).toBe(true)
    expect(matches("missing!=x", l)).toBe(true) // absent labels satisfy !=
    expect(matches("app in (a, backup)", l)).toBe(true)
    expect(matches("app notin (backup)", l)).toBe(false)
    expect(matches("missing notin (x)", l)).toBe(true)
    expect(matches("tier", l)).toBe(true)
    expect(matches("!tier", l)).toBe(false)
    expect(matches("!missing", l)).toBe(true)
    expect(matches("app=backup, tier in (control-plane), !done", l)).toBe(true)
    expect(matches("", l)).toBe(true)
    expect(matches("app", undefined)).toBe(false)
    expect(matches("!app", undefined)).toBe(true)
  })

  it("rejects malformed selectors with a message naming the bad term", () => {
    for (const bad of ["a=b,", "=b", "a in (x", "a=b c", "Bad Key=1", "a=b=c", "a=@"]) {
      const parsed = parseLabelSelector(bad)
      expect(Result.isFailure(parsed), bad).toBe(true)
      if (Result.isFailure(parsed)) expect(parsed.failure).toContain(bad)
    }
  })

  test.prop([fc.array(requirement, { maxLength: 4 })])("format then parse gives the same requirements", (selector) => {
    expect(parse(formatLabelSelector(selector))).toEqual(selector)
  })

  test.prop([labels, labels])("an equality selector for some labels matches exactly the label sets containing them", (wanted, other) => {
    const selector = selectorForLabels(wanted)
    expect(matches(selector, wanted)).toBe(true)
    expect(matches(selector, { ...other, ...wanted })).toBe(true)
    const containsAll = Object.entries(wanted).every(([k, v]) => other[k] === v)
    expect(matches(selector, other)).toBe(containsAll)
  })

  test.prop([fc.array(requirement, { maxLength: 4 }), labels])("a requirement and its negation never both match", (selector, l) => {
    for (const r of selector) {
      const negated: Requirement =
        r.op === "in" ? { ...r, op: "notin" } : r.op === "notin" ? { ...r, op: "in" } : r.op === "exists" ? { ...r, op: "!exists" } : { ...r, op: "exists" }
      expect(matchesLabelSelector([r], l)).toBe(!matchesLabelSelector([negated], l))
    }
  })
})
