import { execFileSync } from "node:child_process"
import { fc, it as prop } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { decodeEncryptionConfiguration, providersForResource } from "../../src/domain/encryption-config.ts"
import { checkStoredValue } from "../../src/domain/encrypted-value.ts"
import { aescbcStoredValue } from "../../src/simulation/encrypted-storage.ts"
import { openShiftFixture } from "../../src/simulation/openshift-fixtures.ts"

const fixture = openShiftFixture({ seed: 3, optionalResources: "all" })
const key = fixture.encryptionKey!
const prefix = Buffer.from(`k8s:enc:aescbc:v1:${key.name}:`)

/** Every kube-apiserver revision's encryption-config, as the backup bundles it. */
const encryptionConfigs = () =>
  Array.from({ length: fixture.revisions["kube-apiserver"] }, (_, i) => {
    const secret = fixture
      .revisionObjects("kube-apiserver", i + 1)
      .secrets.find((s) => String((s.metadata as { name: string }).name).startsWith("encryption-config-"))!
    return Buffer.from((secret.data as Record<string, string>)["encryption-config"]!, "base64").toString("utf8")
  })

describe("aescbcStoredValue", () => {
  it("the fixture has a key only where its latest kube-apiserver revision has an encryption-config (encryption at rest on)", () => {
    expect(openShiftFixture({ seed: 3, optionalResources: "none" }).encryptionKey).toBeUndefined()
    expect(key.secret).toHaveLength(32)
  })

  it("writes what openssl decrypts (AES-256-CBC, the IV after the envelope, PKCS#7)", () => {
    const plaintext = Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" } }))
    const stored = aescbcStoredValue(key, plaintext)
    expect(stored.subarray(0, prefix.length)).toEqual(prefix)
    const iv = stored.subarray(prefix.length, prefix.length + 16)
    const opened = execFileSync("openssl", ["enc", "-d", "-aes-256-cbc", "-K", Buffer.from(key.secret).toString("hex"), "-iv", iv.toString("hex")], {
      input: stored.subarray(prefix.length + 16),
    })
    expect(opened).toEqual(plaintext)
  })

  it("every kube-apiserver revision's encryption-config holds the key the values are stored with", () => {
    const configs = encryptionConfigs()
    expect(configs.length).toBeGreaterThan(1)
    for (const text of configs) {
      const config = Result.getOrThrow(decodeEncryptionConfiguration(text))
      expect(parse(text).resources[0].providers[0].aescbc.keys).toEqual([{ name: "1", secret: Buffer.from(key.secret).toString("base64") }])
      const stored = aescbcStoredValue(key, Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "Secret" })))
      const check = checkStoredValue({ resource: "secrets", key: "/kubernetes.io/secrets/ns/s", value: stored }, providersForResource(config, "secrets"))
      expect(check._tag).toBe("Decrypted")
    }
  })

  prop.prop([fc.uint8Array({ minLength: 0, maxLength: 300 })])("the project's reader opens any stored object it writes", (extra) => {
    const object = Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", data: { x: Buffer.from(extra).toString("base64") } }))
    const config = Result.getOrThrow(decodeEncryptionConfiguration(encryptionConfigs()[0]!))
    const check = checkStoredValue(
      { resource: "configmaps", key: "/kubernetes.io/configmaps/ns/c", value: aescbcStoredValue(key, object) },
      providersForResource(config, "configmaps"),
    )
    expect(check).toMatchObject({ _tag: "Decrypted", provider: "aescbc", keyName: "1" })
  })
})
