import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { defaultEtcdPrefix, etcdPrefixProblem } from "../../src/domain/etcd-prefix.ts"

describe("etcd key prefix", () => {
  it.each([defaultEtcdPrefix, "/registry", "/a/b", "/openshift.io-1"])("%s is usable", (prefix) => {
    expect(etcdPrefixProblem(prefix)).toBeUndefined()
  })

  it.each([
    ["", 'starting with "/"'],
    ["registry", 'starting with "/"'],
    ["/registry/", 'trailing "/"'],
    ["/", "naming a directory"],
    ["/my registry", "without blanks"],
    ["/a\tb", "without blanks"],
    ["/a//b", "empty segments"],
  ])("%j is refused: %s", (prefix, expected) => {
    expect(etcdPrefixProblem(prefix)).toContain(expected)
  })

  const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/)
  test.prop([fc.array(segment, { minLength: 1, maxLength: 4 })])("every /-joined list of non-blank segments is usable", (segments) => {
    expect(etcdPrefixProblem(`/${segments.join("/")}`)).toBeUndefined()
  })

  test.prop([fc.string()])("a refused prefix is named in the reason; an accepted one starts with / and has no blank or trailing /", (text) => {
    const problem = etcdPrefixProblem(text)
    if (problem === undefined) {
      expect(text.startsWith("/") && !text.endsWith("/") && !/\s/.test(text)).toBe(true)
    } else expect(problem).toContain(`"${text}"`)
  })
})
