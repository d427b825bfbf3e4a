import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBackupManifest, encodeBackupManifest, storedForm, type BackupManifest, type EncryptedFile } from "../../src/domain/backup-manifest.ts"
import { exampleManifest } from "../support/example-manifest.ts"
import { failure } from "../support/result-failure.ts"

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/)
const encryptedArb = (name: string): fc.Arbitrary<EncryptedFile> =>
  fc.record({ name: fc.constant(`${name}.age`), size: fc.nat({ max: Number.MAX_SAFE_INTEGER }), sha256: hex64, recipientsSha256: hex64 })

const withEncryption = (snapshot: EncryptedFile | undefined, resources: EncryptedFile | undefined): BackupManifest => ({
  ...exampleManifest,
  files: {
    snapshot: { ...exampleManifest.files.snapshot, ...(snapshot === undefined ? {} : { encrypted: snapshot }) },
    resources: { ...exampleManifest.files.resources, ...(resources === undefined ? {} : { encrypted: resources }) },
  },
})

describe("a manifest recording the encrypted form of its files", () => {
  test.prop(
    [
      fc.option(encryptedArb(exampleManifest.files.snapshot.name), { nil: undefined }),
      fc.option(encryptedArb(exampleManifest.files.resources.name), { nil: undefined }),
    ],
    { numRuns: 200 },
  )("round-trips, and the stored form of each file is its ciphertext when encrypted, else the file", (snapshot, resources) => {
    const m = withEncryption(snapshot, resources)
    expect(decodeBackupManifest(encodeBackupManifest(m))).toEqual(Result.succeed(m))
    expect(storedForm(m.files.snapshot)).toEqual(snapshot ?? { name: m.files.snapshot.name, size: m.files.snapshot.size, sha256: m.files.snapshot.sha256 })
  })

  it("writes the plaintext's digest first, then the encrypted form with its recipients' fingerprint", () => {
    const e = { name: `${exampleManifest.files.snapshot.name}.age`, size: 5, sha256: "a".repeat(64), recipientsSha256: "b".repeat(64) }
    const text = encodeBackupManifest(withEncryption(e, undefined))
    expect(text).toContain(
      `"sha256": "${exampleManifest.files.snapshot.sha256}",\n      "encrypted": {\n        "name": "${e.name}",\n        "size": 5,\n        "sha256": "${"a".repeat(64)}",\n        "recipientsSha256": "${"b".repeat(64)}"\n      }`,
    )
  })

  it("a manifest without encrypted forms (every manifest before encryption) encodes as before", () => {
    expect(encodeBackupManifest(withEncryption(undefined, undefined))).toBe(encodeBackupManifest(exampleManifest))
  })

  it("refuses an encrypted form not named after its file", () => {
    const e = { name: "other.age", size: 5, sha256: "a".repeat(64), recipientsSha256: "b".repeat(64) }
    const m = withEncryption(undefined, e)
    const { manifestSha256: _, ...doc } = JSON.parse(encodeBackupManifest(m)) as Record<string, unknown>
    const text = encodeBackupManifest({ ...(doc as unknown as BackupManifest) })
    const error = failure(decodeBackupManifest(text))
    expect(error.key).toBe("files.resources.encrypted.name")
    expect(error.message).toContain(`the encrypted form of ${exampleManifest.files.resources.name} is named "${exampleManifest.files.resources.name}.age"`)
  })
})
