import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { DecryptionRecord, isEncryptedValue, judgeDecryption, probeKeys, resourceOfPrefix, sampleEncryptedValues } from "../../src/domain/bundle-decryption.ts"
import { decodeEncryptionConfiguration } from "../../src/domain/encryption-config.ts"
import { opensslAesCbcValue, protobufObject } from "../support/encrypted-fixtures.ts"

const text = (s: string) => new TextEncoder().encode(s)

describe("resourceOfPrefix", () => {
  it.each([
    ["/kubernetes.io/secrets/", "secrets"],
    ["/kubernetes.io/route.openshift.io/routes/", "routes.route.openshift.io"],
    ["/registry/configmaps/", "configmaps"],
  ])("%s stores %s", (prefix, resource) => {
    expect(resourceOfPrefix(prefix, prefix.startsWith("/registry") ? "/registry" : "/kubernetes.io")).toBe(resource)
  })
})

const keyName = fc.constantFrom("1", "2", "3")
const storedArb = fc.array(
  fc.record({
    key: fc.stringMatching(/^\/kubernetes\.io\/secrets\/ns\/[a-z]{1,6}$/),
    encrypted: fc.boolean(),
    keyName,
    body: fc.uint8Array({ maxLength: 40 }),
  }),
  { maxLength: 40 },
)

describe("sampleEncryptedValues", () => {
  test.prop([storedArb, fc.integer({ min: 1, max: 5 })], { numRuns: 200 })(
    "keeps only encrypted values, at most perKey under each key name, and every key name the values use",
    (rows, perKey) => {
      const values = rows.map((r) => ({
        key: r.key,
        value: r.encrypted ? new Uint8Array([...text(`k8s:enc:aescbc:v1:${r.keyName}:`), ...r.body]) : r.body.filter((b) => b !== 0x6b),
      }))
      const sample = sampleEncryptedValues(values, "secrets", perKey)
      expect(sample.every((s) => isEncryptedValue(s.value) && s.resource === "secrets")).toBe(true)
      const perName = new Map<string, number>()
      for (const s of sample) {
        const name = new TextDecoder().decode(s.value).split(":")[4]!
        perName.set(name, (perName.get(name) ?? 0) + 1)
      }
      expect([...perName.values()].every((n) => n <= perKey)).toBe(true)
      const used = new Set(rows.filter((r) => r.encrypted).map((r) => r.keyName))
      expect(new Set(perName.keys())).toEqual(used)
    },
  )
})

describe("judgeDecryption", () => {
  const key = new Uint8Array(32).fill(7)
  const config = decodeEncryptionConfiguration(
    JSON.stringify({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "EncryptionConfiguration",
      resources: [{ resources: ["secrets"], providers: [{ aescbc: { keys: [{ name: "1", secret: Buffer.from(key).toString("base64") }] } }] }],
    }),
  )
  if (Result.isFailure(config)) throw config.failure
  const value = opensslAesCbcValue({ keyName: "1", key, plaintext: protobufObject("v1", "Secret") })

  // Cut before the provider's name ends, a value no longer reads as encrypted (and the sample never takes it).
  test.prop([fc.integer({ min: "k8s:enc:aescbc:v1:".length, max: value.length - 1 })], { numRuns: 30 })(
    "PASS only for whole values; a value cut anywhere after its envelope fails naming its resource and key; the record is the manifest's Schema",
    (cut) => {
      const whole = judgeDecryption([{ resource: "secrets", key: "/kubernetes.io/secrets/ns/a", value }], config.success)
      expect(whole.verdict).toBe("PASS")
      expect(whole.message).toBe("1 value under 1 key decrypted with the bundled configuration")
      const short = judgeDecryption([{ resource: "secrets", key: "/kubernetes.io/secrets/ns/a", value: value.subarray(0, cut) }], config.success)
      expect(short.verdict).toBe("FAIL")
      expect(short.failures.map((f) => f.key)).toEqual(["/kubernetes.io/secrets/ns/a"])
      expect(short.message).toContain("secrets /kubernetes.io/secrets/ns/a")
      for (const r of [whole, short]) expect(Schema.decodeUnknownSync(DecryptionRecord)(r)).toEqual(r)
    },
  )

  it("FAIL for an aescbc value cut at a block boundary whose new last block happens to read as padding (its plaintext a prefix of the object)", () => {
    // The cut value's last block decrypts to the object's own bytes there: about one object in 256 ends that block in
    // what reads as valid PKCS#7 padding (0x01, most often).
    for (let tries = 0; tries < 20_000; tries++) {
      const plaintext = protobufObject("v1", "Secret", randomBytes(48))
      const iv = randomBytes(16)
      const cipher = createCipheriv("aes-256-cbc", key, iv)
      const cut = Buffer.concat([cipher.update(plaintext), cipher.final()]).subarray(0, -16)
      const decipher = createDecipheriv("aes-256-cbc", key, iv)
      try {
        Buffer.concat([decipher.update(cut), decipher.final()])
      } catch {
        continue
      }
      const short = Buffer.concat([Buffer.from("k8s:enc:aescbc:v1:1:"), iv, cut])
      const r = judgeDecryption([{ resource: "secrets", key: "/kubernetes.io/secrets/ns/a", value: short }], config.success)
      expect(r.verdict).toBe("FAIL")
      expect(r.message).toContain("not to a stored object")
      return
    }
    expect.unreachable("no object made a cut value with valid padding")
  })

  it("without an encryption-config in the bundle, an encrypted value fails and says so", () => {
    const r = judgeDecryption([{ resource: "secrets", key: "/kubernetes.io/secrets/ns/a", value }], undefined)
    expect(r.verdict).toBe("FAIL")
    expect(r.message).toContain("the bundle holds no encryption-config")
  })

  it("a KMS value of a plugin the configuration names is reported as skipped with the reason, not failed; of another plugin, failed", () => {
    const withKms = Result.getOrThrow(
      decodeEncryptionConfiguration(
        JSON.stringify({
          apiVersion: "apiserver.config.k8s.io/v1",
          kind: "EncryptionConfiguration",
          resources: [{ resources: ["secrets"], providers: [{ kms: { apiVersion: "v2", name: "vault", endpoint: "unix:///kms.sock" } }, { identity: {} }] }],
        }),
      ),
    )
    const kmsValue = { resource: "secrets", key: "/kubernetes.io/secrets/ns/k", value: text("k8s:enc:kms:v2:vault:xyz") }
    const missing = judgeDecryption([kmsValue], config.success)
    expect(missing.verdict).toBe("FAIL")
    expect(missing.failures).toEqual([expect.objectContaining({ resource: "secrets", key: "/kubernetes.io/secrets/ns/k", keyName: "vault" })])
    const r = judgeDecryption([kmsValue], withKms)
    expect(r.verdict).toBe("PASS")
    expect(r.skipped).toHaveLength(1)
    expect(r.message).toContain("not checked")
    expect(r.message).toContain('KMS v2 plugin "vault"')
  })
})

describe("probeKeys", () => {
  const sortedKeys = fc.uniqueArray(fc.stringMatching(/^\/kubernetes\.io\/secrets\/ns\/[a-z0-9]{1,8}$/), { maxLength: 400 }).map((keys) => keys.sort())
  test.prop([sortedKeys, fc.integer({ min: 1, max: 30 })], { numRuns: 300 })(
    "probes every key of a small prefix; of a larger one the first n, the last, at most 2n in key order",
    (keys, n) => {
      const probed = probeKeys(keys, n)
      if (keys.length <= 2 * n) {
        expect(probed).toEqual(keys)
        return
      }
      expect(probed.length).toBeLessThanOrEqual(2 * n)
      expect(probed.slice(0, n)).toEqual(keys.slice(0, n))
      expect(probed.at(-1)).toBe(keys.at(-1))
      expect([...probed].sort()).toEqual(probed)
      expect(new Set(probed).size).toBe(probed.length)
      expect(probed.every((k) => keys.includes(k))).toBe(true)
    },
  )
})

describe("sampling page by page", () => {
  test.prop([storedArb, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 })], { numRuns: 200 })(
    "sampling each page and then the samples together keeps exactly the values one sample of all would",
    (rows, pageSize, perKey) => {
      const values = rows.map((r) => ({
        key: r.key,
        value: r.encrypted ? new Uint8Array([...text(`k8s:enc:aescbc:v1:${r.keyName}:`), ...r.body]) : r.body.filter((b) => b !== 0x6b),
      }))
      let kept: ReturnType<typeof sampleEncryptedValues> = []
      for (let i = 0; i < values.length; i += pageSize) {
        kept = sampleEncryptedValues([...kept, ...values.slice(i, i + pageSize)], "secrets", perKey)
      }
      expect(kept).toEqual(sampleEncryptedValues(values, "secrets", perKey))
    },
  )
})
