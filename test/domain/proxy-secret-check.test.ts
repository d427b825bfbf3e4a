import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { proxyVariableNames } from "../../src/domain/pod-proxy-env.ts"
import { proxySecretKeys } from "../../src/domain/pod-proxy-env.ts"
import { proxySecretProblem, type ProxySecretRead } from "../../src/domain/proxy-secret-check.ts"

const variable = fc.constantFrom(...proxyVariableNames)
const keys = fc.uniqueArray(variable, { maxLength: proxyVariableNames.length })
const read: fc.Arbitrary<ProxySecretRead> = fc.oneof(
  keys.map((k) => ({ _tag: "Found", keys: k }) as const),
  fc.constant({ _tag: "NotFound" } as const),
  fc.string().map((message) => ({ _tag: "Forbidden", message }) as const),
)

describe("proxySecretKeys", () => {
  it("names the variables whose values hold credentials, none of the plain ones", () => {
    expect(proxySecretKeys({ HTTPS_PROXY: "http://u:p@proxy:3128", HTTP_PROXY: "http://proxy:3128", NO_PROXY: ".svc", https_proxy: "u@proxy:3128" })).toEqual([
      "HTTPS_PROXY",
      "https_proxy",
    ])
    expect(proxySecretKeys(undefined)).toEqual([])
  })
})

describe("proxySecretProblem", () => {
  test.prop([read])("no key needed, or nothing read: no problem", (r) => {
    expect(proxySecretProblem([], r, "openshift-etcd")).toBeUndefined()
    expect(proxySecretProblem(["HTTPS_PROXY"], undefined, "openshift-etcd")).toBeUndefined()
  })

  test.prop([keys.filter((k) => k.length > 0), keys])(
    "a Secret holding every needed key is fine; one missing any is Missing, naming exactly those",
    (needed, held) => {
      const problem = proxySecretProblem(needed, { _tag: "Found", keys: held }, "openshift-etcd")
      const missing = needed.filter((k) => !held.includes(k))
      if (missing.length === 0) expect(problem).toBeUndefined()
      else {
        expect(problem?._tag).toBe("ProxySecretMissing")
        expect(problem?.message).toContain(`has no key ${missing.join(", ")}:`)
        expect(problem?.message).toContain(
          `oc -n openshift-etcd set data secret/cluster-backup-proxy ${missing.map((k) => `${k}=<the proxy URL with credentials>`).join(" ")}`,
        )
      }
    },
  )

  test.prop([keys.filter((k) => k.length > 0)])("no Secret: Missing, with the oc create secret command for every needed key", (needed) => {
    const problem = proxySecretProblem(needed, { _tag: "NotFound" }, "ns1")
    expect(problem?._tag).toBe("ProxySecretMissing")
    expect(problem?.message).toContain(
      `oc -n ns1 create secret generic cluster-backup-proxy ${needed.map((k) => `--from-literal=${k}=<the proxy URL with credentials>`).join(" ")}`,
    )
  })

  it("a Forbidden get: Unchecked, saying which Role to apply, not Missing", () => {
    const problem = proxySecretProblem(["HTTPS_PROXY"], { _tag: "Forbidden", message: 'secrets "cluster-backup-proxy" is forbidden' }, "openshift-etcd")
    expect(problem?._tag).toBe("ProxySecretUnchecked")
    expect(problem?.message).toMatch(/is forbidden; the operator's Role lacks get on that Secret .*oc apply -f deploy\/operator-rbac.yaml/)
  })
})
