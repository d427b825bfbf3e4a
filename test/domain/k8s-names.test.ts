import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { dataKeyProblem, dnsLabelProblem, dnsSubdomainProblem } from "../../src/domain/k8s-names.ts"
import { dataKeyArb, dnsLabelArb, dnsSubdomainArb } from "./arbitraries.ts"

describe("Kubernetes name rules", () => {
  test.prop([dnsSubdomainArb()], { numRuns: 200 })("generated subdomains are accepted", (name) => {
    expect(dnsSubdomainProblem(name)).toBeUndefined()
  })
  test.prop([dnsLabelArb()], { numRuns: 200 })("generated labels are accepted as labels and subdomains", (name) => {
    expect(dnsLabelProblem(name)).toBeUndefined()
    expect(dnsSubdomainProblem(name)).toBeUndefined()
  })
  test.prop([dataKeyArb], { numRuns: 200 })("generated data keys are accepted", (key) => {
    expect(dataKeyProblem(key)).toBeUndefined()
  })

  it.each(["", "A", "a_b", "-a", "a-", "a..b", ".a", "a.", "a/b", "..", "a b", "é", "a".repeat(254)])("subdomain %j is refused", (name) => {
    expect(dnsSubdomainProblem(name)).toBeTypeOf("string")
  })
  it.each(["", "a.b", "a".repeat(64), "-a", "A"])("label %j is refused", (name) => {
    expect(dnsLabelProblem(name)).toBeTypeOf("string")
  })
  it.each(["", ".", "..", "...", "..a", "../x", "a/b", "a b", "a\u0000", "é", "k".repeat(254)])("data key %j is refused", (key) => {
    expect(dataKeyProblem(key)).toBeTypeOf("string")
  })
  it.each(["a", "A_b", ".hidden", "a..b", "a...", "tls.crt", "run.sh", "k".repeat(253)])("data key %j is accepted", (key) => {
    expect(dataKeyProblem(key)).toBeUndefined()
  })

  test.prop([fc.string({ maxLength: 300 })], { numRuns: 500 })("every rule refuses an empty or too long name saying so, before its pattern", (s) => {
    for (const [problem, max] of [
      [dnsSubdomainProblem, 253],
      [dnsLabelProblem, 63],
      [dataKeyProblem, 253],
    ] as const) {
      if (s.length === 0) expect(problem(s)).toBe("must not be empty")
      else if (s.length > max) expect(problem(s)).toBe(`must be at most ${max} characters (has ${s.length})`)
      else expect(problem(s) ?? "").not.toMatch(/must not be empty|must be at most/)
    }
  })

  test.prop([fc.string({ maxLength: 40 })], { numRuns: 500 })("an accepted subdomain or key never names a parent or an absolute path", (s) => {
    for (const ok of [dnsSubdomainProblem(s) === undefined, dataKeyProblem(s) === undefined]) {
      if (ok) {
        expect(s.includes("/")).toBe(false)
        expect(s === "." || s === "..").toBe(false)
      }
    }
  })
})
