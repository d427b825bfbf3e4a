import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { proxyContainerEnv, proxyEnvOf, proxySecretKeys, proxySecretName, proxyVariableNames } from "../../src/domain/pod-proxy-env.ts"

const valueArb = fc.oneof(
  fc.constantFrom("http://proxy.corp:3128", "proxy.corp:3128", ".svc,10.0.0.0/16", ""),
  fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/)).map(([user, password]) => `http://${user}:${password}@proxy.corp:3128`),
  fc.string({ maxLength: 20 }),
)
const envArb = fc.dictionary(fc.oneof(fc.constantFrom(...proxyVariableNames), fc.constantFrom("PATH", "ALL_PROXY", "HOME")), valueArb)

describe("proxyEnvOf", () => {
  it("keeps the six proxy variables that are set and not empty, and nothing else", () => {
    expect(proxyEnvOf({ HTTPS_PROXY: "http://p:1", no_proxy: "a", HTTP_PROXY: "", PATH: "/bin", ALL_PROXY: "socks5://x" })).toEqual({
      HTTPS_PROXY: "http://p:1",
      no_proxy: "a",
    })
  })

  test.prop([envArb])("keeps exactly the proxy variables with a non-blank value, unchanged", (env) => {
    const kept = proxyEnvOf(env)
    for (const name of proxyVariableNames) expect(kept[name]).toBe(env[name] !== undefined && env[name].trim() !== "" ? env[name] : undefined)
    expect(Object.keys(kept).every((k) => (proxyVariableNames as ReadonlyArray<string>).includes(k))).toBe(true)
  })
})

describe("proxyContainerEnv and proxySecretKeys", () => {
  test.prop([envArb])(
    "every kept variable appears once, in the fixed order; one holding credentials only as a reference to the proxy Secret's key of its name",
    (env) => {
      const proxy = proxyEnvOf(env)
      const vars = proxyContainerEnv(proxy)
      expect(vars.map((v) => v.name)).toEqual(proxyVariableNames.filter((n) => proxy[n] !== undefined))
      for (const v of vars) {
        if ("valueFrom" in v) expect(v.valueFrom.secretKeyRef).toEqual({ name: proxySecretName, key: v.name })
        else {
          expect(v.value).toBe(proxy[v.name as (typeof proxyVariableNames)[number]])
          expect(v.value).not.toMatch(/:\/\/[^/]*@/)
        }
      }
      expect(proxySecretKeys(proxy)).toEqual(vars.flatMap((v) => ("valueFrom" in v ? [v.name] : [])))
    },
  )

  it("a URL with a user or password, and a value with an @ that is no URL, go by Secret; others as written", () => {
    const vars = proxyContainerEnv({ HTTPS_PROXY: "http://u:p@proxy:3128", HTTP_PROXY: "user@proxy", NO_PROXY: ".svc" })
    expect(vars).toEqual([
      { name: "HTTPS_PROXY", valueFrom: { secretKeyRef: { name: proxySecretName, key: "HTTPS_PROXY" } } },
      { name: "HTTP_PROXY", valueFrom: { secretKeyRef: { name: proxySecretName, key: "HTTP_PROXY" } } },
      { name: "NO_PROXY", value: ".svc" },
    ])
    expect(proxyContainerEnv(undefined)).toEqual([])
  })
})
