import { inspect } from "node:util"
import { fc, test } from "@fast-check/vitest"
import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  allProviders,
  decodeEncryptionConfiguration,
  encryptedResources,
  providersForResource,
  type EncryptionConfiguration,
} from "../../src/domain/encryption-config.ts"

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")
const key32a = new Uint8Array(32).fill(0xa1)
const key32b = new Uint8Array(32).fill(0xb2)
const key16 = new Uint8Array(16).fill(0xc3)

// The shape OpenShift's encryption controllers write: one entry per resource, numbered keys, identity last.
/** One `resources` entry: `provider` with the named keys, identity last. */
const entry = (resource: string, provider: string, keys: ReadonlyArray<readonly [name: string, key: Uint8Array]>) =>
  `- resources:\n  - ${resource}\n  providers:\n  - ${provider}:\n      keys:\n${keys.map(([name, key]) => `      - name: "${name}"\n        secret: ${b64(key)}\n`).join("")}  - identity: {}\n`
const openshiftYaml = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
${entry("configmaps", "aesgcm", [
  ["4", key32a],
  ["3", key16],
])}${entry("secrets", "aescbc", [
  ["2", key32b],
  ["1", key32a],
])}`

const decoded = (text: string): EncryptionConfiguration => Result.getOrThrow(decodeEncryptionConfiguration(text))
const failure = (text: string) => {
  const r = decodeEncryptionConfiguration(text, "kube-apiserver-pod-7/secrets/encryption-config/encryption-config")
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

describe("decodeEncryptionConfiguration", () => {
  it("reads OpenShift's configuration: providers in order, key bytes decoded", () => {
    const config = decoded(openshiftYaml)
    expect(config.resources.map((r) => r.resources)).toEqual([["configmaps"], ["secrets"]])
    const [gcm, identity] = config.resources[0]!.providers
    expect(identity).toEqual({ _tag: "identity" })
    if (gcm?._tag !== "aesgcm") throw new Error("expected aesgcm first")
    expect(gcm.keys.map((k) => k.name)).toEqual(["4", "3"])
    expect(Redacted.value(gcm.keys[1]!.secret)).toEqual(key16)
  })

  it("reads JSON, and the legacy `v1` `EncryptionConfig` the API server still registers", () => {
    const json = JSON.stringify({
      kind: "EncryptionConfig",
      apiVersion: "v1",
      resources: [
        {
          resources: ["secrets"],
          providers: [{ secretbox: { keys: [{ name: "k", secret: b64(key32a) }] } }, { kms: { name: "vault", endpoint: "unix:///kms.sock" } }],
        },
      ],
    })
    const providers = decoded(json).resources[0]!.providers
    expect(providers.map((p) => p._tag)).toEqual(["secretbox", "kms"])
    expect(providers[1]).toEqual({ _tag: "kms", name: "vault", apiVersion: "v1" })
  })

  it("ignores fields it does not know, as the API server's decoder does", () => {
    const text = openshiftYaml.replace("- resources:\n  - configmaps", "- resources:\n  - configmaps\n  futureField: true")
    expect(decoded(text).resources).toHaveLength(2)
  })

  it("reports every problem at once, each naming its key", () => {
    const bad = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc:
      keys:
      - name: short
        secret: ${b64(new Uint8Array(20))}
      - name: ""
        secret: "not base64!"
  - aesgcm: {keys: []}
    identity: {}
  - {}
  - kms: {name: x, apiVersion: v3}
- resources: []
  providers: []
`
    const error = failure(bad)
    expect(error._tag).toBe("EncryptionConfigInvalid")
    expect(error.problems.map((p) => p.key)).toEqual([
      "resources[0].providers[0].aescbc.keys[0].secret",
      "resources[0].providers[0].aescbc.keys[1].name",
      "resources[0].providers[0].aescbc.keys[1].secret",
      "resources[0].providers[1]",
      "resources[0].providers[2]",
      "resources[0].providers[3].kms.apiVersion",
      "resources[1].resources",
      "resources[1].providers",
    ])
    expect(error.message).toContain('resources[0].providers[0].aescbc.keys[0].secret of key "short" decodes to 20 bytes; aescbc takes 16, 24 or 32')
    expect(error.message).toContain("resources[0].providers[1] names 2 providers (aesgcm, identity)")
    expect(error.message).toMatch(/^kube-apiserver-pod-7\/secrets\/encryption-config\/encryption-config: /)
  })

  it.each([
    ["secretbox with a 16-byte key", `secretbox: {keys: [{name: a, secret: ${b64(key16)}}]}`, "secretbox takes 32"],
    ["aesgcm with a 31-byte key", `aesgcm: {keys: [{name: a, secret: ${b64(new Uint8Array(31))}}]}`, "aesgcm takes 16, 24 or 32"],
  ])("checks key sizes: %s", (_what, provider, expected) => {
    const error = failure(
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - ${provider}\n`,
    )
    expect(error.message).toContain(expected)
  })

  it.each([
    ["another kind", openshiftYaml.replace("kind: EncryptionConfiguration", "kind: Secret"), "kind"],
    ["no resources key", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n", "resources"],
    ["an empty document", "  \n", ""],
    ["a YAML syntax error", "resources: [", ""],
  ])("refuses %s", (_what, text, key) => {
    expect(failure(text).problems[0]!.key).toBe(key)
  })

  it("never quotes the text of a file it cannot parse: the file holds keys", () => {
    const secret = "c2VjcmV0IGlzIHNlY3VyZQ"
    for (const text of [`a: "${secret}\\q"`, `a: !${secret} x`, `- ${secret}: [}`, `a: *${secret}`]) {
      expect(failure(text).message).not.toContain(secret)
    }
  })

  it("hides key bytes from String, JSON and inspect of the decoded value", () => {
    const config = decoded(openshiftYaml)
    const shown = [String(config.resources[0]!.providers[0]), JSON.stringify(config), inspect(config, { depth: 10 })]
    for (const text of shown) {
      for (const key of [key32a, key32b, key16]) {
        expect(text).not.toContain(b64(key))
        expect(text).not.toContain(Buffer.from(key).toString("hex"))
      }
      expect(text).not.toMatch(/161, 161|0xa1|a1a1/)
    }
  })

  const secretText = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map(b64),
    fc.string({ minLength: 6, maxLength: 40 }).filter((s) => s.trim().length >= 6),
  )
  const badPlacement = fc.constantFrom(
    (s: string) => `- name: k\n        secret: ${JSON.stringify(s)}`,
    (s: string) => `- ${JSON.stringify(s)}`,
    (s: string) => `- name: k\n        secret: [${JSON.stringify(s)}]`,
    (s: string) => `- name: k\n        secret: ${JSON.stringify(s)}\n        ${JSON.stringify(s)}: 1`,
  )
  test.prop([secretText, badPlacement, fc.constantFrom("aescbc", "aesgcm", "secretbox")], { numRuns: 300 })(
    "never shows a secret in a message, wherever it is misplaced",
    (secret, place, provider) => {
      const text = `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - ${provider}:\n      keys:\n      ${place(secret)}\n`
      const r = decodeEncryptionConfiguration(text)
      if (Result.isFailure(r)) {
        expect(r.failure.message).not.toContain(secret.trim())
        for (const p of r.failure.problems) expect(p.message).not.toContain(secret.trim())
      } else {
        expect(inspect(r.success, { depth: 10 }) + JSON.stringify(r.success)).not.toContain(secret)
      }
    },
  )

  test.prop([fc.string({ maxLength: 200 })], { numRuns: 300 })("never throws on any text", (text) => {
    expect(() => decodeEncryptionConfiguration(text)).not.toThrow()
  })
})

describe("providersForResource", () => {
  const wildcard = decoded(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [events]
  providers: [{identity: {}}]
- resources: [secrets, configmaps, pandas.awesome.bears.example]
  providers: [{aescbc: {keys: [{name: k1, secret: ${b64(key32a)}}]}}]
- resources: ["*.apps"]
  providers: [{aescbc: {keys: [{name: k2, secret: ${b64(key32b)}}]}}]
- resources: ["*.*"]
  providers: [{aesgcm: {keys: [{name: k3, secret: ${b64(key16)}}]}}]
`)
  const keyNames = (resource: string) =>
    providersForResource(wildcard, resource).flatMap((p) => ("keys" in p ? p.keys.map((k) => `${p._tag}:${k.name}`) : [p._tag]))

  it("picks an exact entry, else the group's wildcard, else *.*, as the API server does", () => {
    expect(keyNames("secrets")).toEqual(["aescbc:k1"])
    expect(keyNames("pandas.awesome.bears.example")).toEqual(["aescbc:k1"])
    expect(keyNames("deployments.apps")).toEqual(["aescbc:k2"])
    expect(keyNames("routes.route.openshift.io")).toEqual(["aesgcm:k3"])
    expect(keyNames("events")).toEqual(["identity"])
  })

  it("gives nothing (stored plain) for a resource no entry covers", () => {
    expect(providersForResource(decoded(openshiftYaml), "routes.route.openshift.io")).toEqual([])
  })

  it("lists every provider and the resources that are encrypted", () => {
    expect(allProviders(decoded(openshiftYaml)).map((p) => p._tag)).toEqual(["aesgcm", "identity", "aescbc", "identity"])
    expect(encryptedResources(wildcard)).toEqual(["secrets", "configmaps", "pandas.awesome.bears.example", "*.apps", "*.*"])
  })
})
