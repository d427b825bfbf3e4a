import { randomBytes } from "node:crypto"
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  checkStoredValue,
  isStoredObject,
  isValueFailure,
  parseEnvelope,
  summarizeValueChecks,
  type StoredValue,
  type ValueCheck,
} from "../../src/domain/encrypted-value.ts"
import { allProviders, decodeEncryptionConfiguration, providersForResource, type EncryptionConfiguration } from "../../src/domain/encryption-config.ts"
import { jsonObject, opensslAesCbcValue, protobufObject, pythonAesGcmValue, requirePythonCryptography } from "../support/encrypted-fixtures.ts"

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")

// Two rotations' worth of keys, as OpenShift numbers them: "1" older, "2" newest; aesgcm "3" (16 bytes) and "4".
const keys = { cbc1: randomBytes(32), cbc2: randomBytes(32), gcm3: randomBytes(16), gcm4: randomBytes(32) }

interface Bundle {
  readonly cbc: ReadonlyArray<readonly [string, Uint8Array]>
  readonly gcm: ReadonlyArray<readonly [string, Uint8Array]>
}
const configText = (bundle: Bundle) => {
  const list = (entries: Bundle["cbc"]) => entries.map(([name, key]) => `{name: "${name}", secret: ${b64(key)}}`).join(", ")
  return `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc: {keys: [${list(bundle.cbc)}]}
  - identity: {}
- resources: [configmaps]
  providers:
  - aesgcm: {keys: [${list(bundle.gcm)}]}
  - identity: {}
`
}
const configOf = (bundle: Bundle): EncryptionConfiguration => Result.getOrThrow(decodeEncryptionConfiguration(configText(bundle)))
const fullBundle: Bundle = {
  cbc: [
    ["2", keys.cbc2],
    ["1", keys.cbc1],
  ],
  gcm: [
    ["4", keys.gcm4],
    ["3", keys.gcm3],
  ],
}

const check = (config: EncryptionConfiguration, stored: StoredValue): ValueCheck => checkStoredValue(stored, providersForResource(config, stored.resource))

let values: Record<"secretOld" | "secretNew" | "configmapOld" | "configmapNew" | "crdJson", StoredValue>

beforeAll(() => {
  requirePythonCryptography()
  const secret = (ns: string, name: string) => `/kubernetes.io/secrets/${ns}/${name}`
  const configmap = (ns: string, name: string) => `/kubernetes.io/configmaps/${ns}/${name}`
  const gcm = (keyName: string, key: Uint8Array, etcdKey: string, plaintext: Uint8Array): StoredValue => ({
    resource: "configmaps",
    key: etcdKey,
    value: pythonAesGcmValue({ keyName, key, etcdKey, plaintext }),
  })
  values = {
    secretOld: {
      resource: "secrets",
      key: secret("openshift-etcd", "etcd-client"),
      value: opensslAesCbcValue({ keyName: "1", key: keys.cbc1, plaintext: protobufObject("v1", "Secret") }),
    },
    secretNew: {
      resource: "secrets",
      key: secret("openshift-config", "pull-secret"),
      value: opensslAesCbcValue({ keyName: "2", key: keys.cbc2, plaintext: protobufObject("v1", "Secret") }),
    },
    configmapOld: gcm("3", keys.gcm3, configmap("openshift-etcd", "etcd-ca-bundle"), protobufObject("v1", "ConfigMap")),
    configmapNew: gcm("4", keys.gcm4, configmap("openshift-config", "admin-kubeconfig-client-ca"), protobufObject("v1", "ConfigMap")),
    // A JSON-stored object under the same envelope (how custom resources are stored).
    crdJson: gcm("4", keys.gcm4, configmap("ns", "json-object"), jsonObject("example.com/v1", "Panda", "p")),
  }
})

const expectFailureNaming = (result: ValueCheck, stored: StoredValue, keyName: string) => {
  expect(isValueFailure(result)).toBe(true)
  expect(result.message).toContain(stored.resource)
  expect(result.message).toContain(stored.key)
  expect(result.message).toContain(`key "${keyName}"`)
}

describe("checkStoredValue with values encrypted by openssl (aescbc) and Python's cryptography (aesgcm)", () => {
  it("decrypts every value whose key the bundle holds, to a stored object", () => {
    const config = configOf(fullBundle)
    const results = Object.values(values).map((v) => check(config, v))
    expect(results.map((r) => [r._tag, "keyName" in r ? r.keyName : undefined])).toEqual([
      ["Decrypted", "1"],
      ["Decrypted", "2"],
      ["Decrypted", "3"],
      ["Decrypted", "4"],
      ["Decrypted", "4"],
    ])
    expect(summarizeValueChecks(results)).toMatchObject({
      decrypted: 5,
      keys: ["aescbc:1", "aescbc:2", "aesgcm:3", "aesgcm:4"],
      failures: [],
      sentence: "5 values under 4 keys decrypted with the bundled configuration",
    })
  })

  it("an empty or all-plain sample says there was nothing to decrypt, not '0 values under 0 keys decrypted'", () => {
    expect(summarizeValueChecks([]).sentence).toBe("no encrypted value in the sample, nothing to decrypt (the values are stored plain)")
    const plain = { resource: "secrets", key: "/kubernetes.io/secrets/ns/a", value: new TextEncoder().encode('{"apiVersion":"v1","kind":"Secret"}') }
    const summary = summarizeValueChecks([checkStoredValue(plain, [])])
    expect(summary).toMatchObject({
      decrypted: 0,
      notEncrypted: 1,
      sentence: "no encrypted value in the sample, nothing to decrypt (the values are stored plain)",
    })
  })

  it("fails naming resource and key when the bundle lacks the newest key (rotated after the snapshot)", () => {
    const stale = configOf({ cbc: [["1", keys.cbc1]], gcm: [["3", keys.gcm3]] })
    for (const stored of [values.secretNew, values.configmapNew]) {
      const result = check(stale, stored)
      expect(result._tag).toBe("KeyMissing")
      expectFailureNaming(result, stored, stored === values.secretNew ? "2" : "4")
    }
    expect(check(stale, values.secretNew).message).toContain('its aescbc keys for secrets: "1"')
    expect(check(stale, values.secretOld)._tag).toBe("Decrypted")
    const summary = summarizeValueChecks(Object.values(values).map((v) => check(stale, v)))
    expect(summary.failures.map((f) => [f.resource, f.keyName])).toEqual([
      ["secrets", "2"],
      ["configmaps", "4"],
      ["configmaps", "4"],
    ])
    expect(summary.sentence).toBe("2 values under 2 keys decrypted with the bundled configuration")
  })

  it("fails naming resource and key when the bundle holds a wrong key under the right name", () => {
    const wrong = configOf({
      cbc: [
        ["2", randomBytes(32)],
        ["1", keys.cbc1],
      ],
      gcm: [
        ["4", randomBytes(32)],
        ["3", keys.gcm3],
      ],
    })
    const cbc = check(wrong, values.secretNew)
    expect(["DecryptionFailed", "NotAnObject"]).toContain(cbc._tag)
    expectFailureNaming(cbc, values.secretNew, "2")
    const gcm = check(wrong, values.configmapNew)
    expect(gcm._tag).toBe("DecryptionFailed")
    expectFailureNaming(gcm, values.configmapNew, "4")
    expect(gcm.message).toContain("authentication tag does not match")
  })

  it("fails naming resource and key for a value cut short", () => {
    const config = configOf(fullBundle)
    const cut = (v: StoredValue, drop: number): StoredValue => ({ ...v, value: v.value.subarray(0, v.value.length - drop) })
    for (const [stored, drop] of [
      [values.secretNew, 5],
      [values.secretNew, 16],
      [values.configmapNew, 1],
      [values.configmapNew, 40],
    ] as const) {
      const result = check(config, cut(stored, drop))
      expect(result._tag).not.toBe("Decrypted")
      expectFailureNaming(result, stored, stored === values.secretNew ? "2" : "4")
    }
    expect(check(config, cut(values.secretNew, 5)).message).toContain("not a whole number of 16-byte blocks")
    const beforeName = { ...values.secretNew, value: values.secretNew.value.subarray(0, "k8s:enc:aescbc:v1:".length + 1) }
    expect(check(config, beforeName)).toMatchObject({ _tag: "DecryptionFailed", resource: "secrets", key: values.secretNew.key })
  })

  it("authenticates the etcd key: an aesgcm value copied under another key does not open", () => {
    const moved = { ...values.configmapNew, key: "/kubernetes.io/configmaps/openshift-config/another" }
    expect(check(configOf(fullBundle), moved)).toMatchObject({ _tag: "DecryptionFailed", keyName: "4" })
  })

  it("tries every key of the same name, as the API server does across providers", () => {
    const text = configText(fullBundle).replace("  - identity: {}\n", `  - aescbc: {keys: [{name: "2", secret: ${b64(keys.cbc2)}}]}\n  - identity: {}\n`)
    const twice = Result.getOrThrow(
      decodeEncryptionConfiguration(text.replace(`{name: "2", secret: ${b64(keys.cbc2)}}, `, `{name: "2", secret: ${b64(randomBytes(32))}}, `)),
    )
    expect(check(twice, values.secretNew)).toMatchObject({ _tag: "Decrypted", keyName: "2" })
  })

  it("skips KMS values of a plugin the configuration names, saying why", () => {
    const text = configText(fullBundle).replace(
      "  - aescbc:",
      "  - kms: {apiVersion: v2, name: vault-plugin, endpoint: unix:///kms.sock}\n  - kms: {name: vault-plugin, endpoint: unix:///kms1.sock}\n  - aescbc:",
    )
    const config = Result.getOrThrow(decodeEncryptionConfiguration(text))
    for (const version of ["v1", "v2"]) {
      const stored = {
        resource: "secrets",
        key: "/kubernetes.io/secrets/ns/kms",
        value: Buffer.concat([Buffer.from(`k8s:enc:kms:${version}:vault-plugin:`), randomBytes(64)]),
      }
      const result = check(config, stored)
      expect(result).toMatchObject({ _tag: "Skipped", resource: "secrets", key: stored.key })
      if (result._tag === "Skipped") expect(result.reason).toContain(`KMS ${version} plugin "vault-plugin"`)
    }
  })

  it("fails a KMS value whose plugin the bundled configuration does not name: a restored API server could not read it", () => {
    const onlyV1 = Result.getOrThrow(
      decodeEncryptionConfiguration(configText(fullBundle).replace("  - aescbc:", "  - kms: {name: vault-plugin, endpoint: unix:///kms1.sock}\n  - aescbc:")),
    )
    for (const [config, version] of [
      [configOf(fullBundle), "v2"],
      [onlyV1, "v2"],
      [onlyV1, "v1"],
    ] as const) {
      const plugin = version === "v1" ? "other-plugin" : "vault-plugin"
      const stored = {
        resource: "secrets",
        key: "/kubernetes.io/secrets/ns/kms",
        value: Buffer.concat([Buffer.from(`k8s:enc:kms:${version}:${plugin}:`), randomBytes(64)]),
      }
      const result = check(config, stored)
      expect(result).toMatchObject({ _tag: "KeyMissing", resource: "secrets", key: stored.key, keyName: plugin })
      expect(result.message).toContain(`KMS ${version} plugin "${plugin}"`)
      expect(result.message).toContain("does not name")
    }
  })

  it("checks a secretbox value's key name but reports its decryption as skipped", () => {
    const config = Result.getOrThrow(
      decodeEncryptionConfiguration(
        `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k1, secret: ${b64(keys.cbc1)}}]}\n`,
      ),
    )
    const value = (name: string) => ({
      resource: "secrets",
      key: "/kubernetes.io/secrets/ns/s",
      value: Buffer.concat([Buffer.from(`k8s:enc:secretbox:v1:${name}:`), randomBytes(80)]),
    })
    expect(check(config, value("k1"))).toMatchObject({ _tag: "Skipped", reason: expect.stringContaining("secretbox") })
    expect(check(config, value("k2"))).toMatchObject({ _tag: "KeyMissing", keyName: "k2" })
  })

  it("reports a plain value as not encrypted", () => {
    const plain = { resource: "secrets", key: "/kubernetes.io/secrets/ns/plain", value: protobufObject("v1", "Secret") }
    expect(check(configOf(fullBundle), plain)._tag).toBe("NotEncrypted")
  })
})

describe("isStoredObject", () => {
  it("knows protobuf by its magic and JSON by apiVersion and kind", () => {
    expect(isStoredObject(protobufObject("v1", "Secret"))).toBe(true)
    expect(isStoredObject(jsonObject("v1", "ConfigMap", "x"))).toBe(true)
    expect(isStoredObject(Buffer.from('{"kind":"ConfigMap"}'))).toBe(false)
    expect(isStoredObject(Buffer.from("[1,2]"))).toBe(false)
    expect(isStoredObject(Buffer.from("k8s"))).toBe(false)
  })

  // An AES-CBC value cut at a block boundary decrypts to a prefix of the object about one time in 256 (its last
  // block's end reads as padding): the magic alone took that prefix for a whole object.
  test.prop([fc.uint8Array({ maxLength: 300 }), fc.nat()], { numRuns: 200 })(
    "takes a protobuf object only whole: every prefix of it after the magic is refused, and so is any byte more",
    (raw, at) => {
      const whole = protobufObject("v1", "Secret", raw)
      expect(isStoredObject(whole)).toBe(true)
      const cut = 4 + (at % (whole.length - 4))
      expect(isStoredObject(whole.subarray(0, cut))).toBe(false)
      expect(isStoredObject(Buffer.concat([whole, Buffer.from([at % 256])]))).toBe(false)
    },
  )
})

describe("parseEnvelope", () => {
  const everyProvider = allProviders(configOf(fullBundle))
  const keyName = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes(":"))
  test.prop([fc.constantFrom("aescbc", "aesgcm", "secretbox"), keyName, fc.uint8Array({ maxLength: 64 })], { numRuns: 300 })(
    "reads back the provider and key name of any keyed envelope",
    (provider, name, payload) => {
      const value = Buffer.concat([Buffer.from(`k8s:enc:${provider}:v1:${name}:`, "utf8"), payload])
      const envelope = parseEnvelope(value)
      expect(envelope).toMatchObject({ _tag: "Keyed", provider, keyName: name })
      if (envelope._tag === "Keyed") expect(Buffer.from(envelope.afterProvider)).toEqual(Buffer.concat([Buffer.from(`${name}:`, "utf8"), payload]))
    },
  )

  test.prop([fc.uint8Array({ maxLength: 200 })], { numRuns: 500 })("never throws on arbitrary bytes, nor does a check", (bytes) => {
    expect(() => parseEnvelope(bytes)).not.toThrow()
    for (const prefix of ["", "k8s:enc:aescbc:v1:2:", "k8s:enc:aesgcm:v1:4:", "k8s:enc:kms:v2:", "k8s:enc:"]) {
      const stored = { resource: "secrets", key: "/kubernetes.io/secrets/a/b", value: Buffer.concat([Buffer.from(prefix), bytes]) }
      expect(() => checkStoredValue(stored, everyProvider)).not.toThrow()
    }
  })

  test.prop([fc.uint8Array({ maxLength: 120 }), fc.constantFrom("k8s:enc:aescbc:v1:2:", "k8s:enc:aesgcm:v1:4:", "k8s:enc:aescbc:v1:9:", "k8s:enc:xyz:v1:")], {
    numRuns: 300,
  })("never shows key material in a message", (bytes, prefix) => {
    const stored = { resource: "secrets", key: "/kubernetes.io/secrets/a/b", value: Buffer.concat([Buffer.from(prefix), bytes]) }
    const { message } = checkStoredValue(stored, everyProvider)
    for (const key of Object.values(keys)) {
      expect(message).not.toContain(b64(key))
      expect(message).not.toContain(key.toString("hex"))
      expect(message).not.toContain(key.toString("latin1"))
    }
  })

  it("names an unknown envelope without treating it as plain", () => {
    expect(parseEnvelope(Buffer.from("k8s:enc:future:v9:key:xxxxxxxx"))).toEqual({ _tag: "Unknown", prefix: "k8s:enc:future:v9:" })
    expect(parseEnvelope(Buffer.from("k8s:en"))).toEqual({ _tag: "Plain" })
  })
})
