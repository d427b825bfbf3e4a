/**
 * The signed manifest's review gaps: a signing key its group or others can read is refused unless
 * overridden; without --trusted-key the signature check warns (unauthenticated) instead of passing;
 * and the check covers the manifest bytes verify read, not a second read of the file, so a manifest
 * swapped on disk after verify read it cannot lend it its signature.
 */
import { generateKeyPairSync } from "node:crypto"
import { execFileSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Result } from "effect"
import { describe, expect, it } from "vitest"
import { signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { readKeyFile, readSigningKey, readTrustedKeys, signatureCheck } from "../../../src/programs/backup-dir/manifest-authenticity.ts"
import { keyIdOf, parseSigningKey, parseTrustedKey, signManifest, verifyManifestSignature } from "../../../src/services/crypto/manifest-signature.ts"

const dir = mkdtempSync(join(tmpdir(), "cb-authenticity-"))
const { privateKey, publicKey } = generateKeyPairSync("ed25519")
const keyPem = privateKey.export({ format: "pem", type: "pkcs8" })
const trusted = Result.getOrThrow(parseTrustedKey(publicKey.export({ format: "pem", type: "spki" }), "trusted.pub"))
const signed = Buffer.from('{"manifest":"as written"}\n')
const forged = Buffer.from('{"manifest":"forged"}\n')
writeFileSync(join(dir, "backup-manifest.json"), signed)
writeFileSync(join(dir, signatureFileName), signManifest(signed, Result.getOrThrow(parseSigningKey(keyPem))))

describe("signing key permissions", () => {
  it.each([0o640, 0o604, 0o644, 0o660])("a key file of mode %o is refused, naming the file, its mode and the override", async (mode) => {
    const path = join(dir, `key-${mode.toString(8)}.pem`)
    writeFileSync(path, keyPem, { mode })
    chmodSync(path, mode)
    const exit = await Effect.runPromiseExit(readSigningKey(path))
    if (!Exit.isFailure(exit)) throw new Error("an exposed key was read")
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
    expect(error).toMatchObject({ _tag: "SigningKeyExposed", path, mode: mode.toString(8) })
    expect((error as { message: string }).message).toContain("--allow-exposed-signing-key")
    expect((error as { message: string }).message).not.toContain("PRIVATE KEY")
    const allowed = await Effect.runPromise(readSigningKey(path, { allowExposed: true }))
    expect(allowed.keyId).toBe(keyIdOf(publicKey))
  })

  it("the key file's bytes are zeroed once parsed; the key still signs (its copy is the KeyObject's, in OpenSSL)", async () => {
    const path = join(dir, "zeroed.pem")
    writeFileSync(path, keyPem, { mode: 0o600 })
    let seen: Uint8Array | undefined
    const key = await Effect.runPromise(
      readKeyFile(path, "--signing-key", (bytes) => {
        seen = bytes
        return parseSigningKey(bytes)
      }),
    )
    expect(seen?.length).toBe(Buffer.byteLength(keyPem))
    expect(seen?.every((b) => b === 0)).toBe(true)
    expect(verifyManifestSignature(signed, signManifest(signed, key), [trusted])).toEqual({ _tag: "Verified", keyId: trusted.keyId })
  })

  it("a private key file (0600, 0400) is read", async () => {
    for (const mode of [0o600, 0o400]) {
      const path = join(dir, `key-ok-${mode.toString(8)}.pem`)
      writeFileSync(path, keyPem, { mode })
      expect((await Effect.runPromise(readSigningKey(path))).keyId).toBe(keyIdOf(publicKey))
    }
  })
})

describe("key files in a Secret volume", () => {
  // The kubelet's layout: each key a link into ..data, itself a link to the timestamped directory of the current files.
  const secretVolume = () => {
    const volume = mkdtempSync(join(tmpdir(), "cb-secret-volume-"))
    const current = "..2026_01_02_03_04_05.123456789"
    mkdirSync(join(volume, current), { mode: 0o755 })
    writeFileSync(join(volume, current, "signing-key"), keyPem, { mode: 0o400 })
    writeFileSync(join(volume, current, "trusted-key"), publicKey.export({ format: "pem", type: "spki" }), { mode: 0o444 })
    symlinkSync(current, join(volume, "..data"))
    symlinkSync("..data/signing-key", join(volume, "signing-key"))
    symlinkSync("..data/trusted-key", join(volume, "trusted-key"))
    return volume
  }

  it("--signing-key and --trusted-key are read through the volume's links, the key's own mode judged", async () => {
    const volume = secretVolume()
    expect((await Effect.runPromise(readSigningKey(join(volume, "signing-key")))).keyId).toBe(keyIdOf(publicKey))
    expect((await Effect.runPromise(readTrustedKeys([join(volume, "trusted-key")])))[0]!.keyId).toBe(keyIdOf(publicKey))
    // The link's own mode (0777) is not the key's: a key file made readable by others behind the link is refused.
    chmodSync(join(volume, "..2026_01_02_03_04_05.123456789", "signing-key"), 0o444)
    const exit = await Effect.runPromiseExit(readSigningKey(join(volume, "signing-key")))
    expect(Exit.isFailure(exit) && exit.cause.reasons.find((r) => r._tag === "Fail")?.error).toMatchObject({ _tag: "SigningKeyExposed", mode: "444" })
  })

  it("a FIFO in the key's place is refused at once, naming it, not waited on", async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), "cb-key-fifo-")), "signing-key")
    execFileSync("mkfifo", ["-m", "600", fifo])
    for (const read of [readSigningKey(fifo) as Effect.Effect<unknown, { _tag: string }>, readTrustedKeys([fifo])]) {
      const exit = await Effect.runPromiseExit(read)
      if (!Exit.isFailure(exit)) throw new Error("a FIFO was read as a key")
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; message: string }
      expect(error._tag).toBe("ManifestKeyUnusable")
      expect(error.message).toContain(`${fifo} is not a regular file`)
    }
  })
})

describe("manifest-signature check", () => {
  it("without a trusted key warns that the backup is unauthenticated, signed or not", async () => {
    const check = await Effect.runPromise(signatureCheck(dir, [], Result.succeed(signed)))
    expect(check).toMatchObject({ verdict: "WARN", expected: "no --trusted-key given: authenticity is not checked" })
    expect(check.found).toMatch(/^unauthenticated: the manifest is signed by key sha256:/)
    const unsigned = mkdtempSync(join(tmpdir(), "cb-unsigned-"))
    expect(await Effect.runPromise(signatureCheck(unsigned, [], Result.succeed(signed)))).toMatchObject({ verdict: "WARN" })
  })

  it("checks the bytes verify read, not the file as it is now: a manifest swapped after the read does not change the verdict", async () => {
    // On disk now: a forged manifest under the old signature. What verify read (and decoded) was the signed one.
    const swapped = mkdtempSync(join(tmpdir(), "cb-swapped-"))
    writeFileSync(join(swapped, "backup-manifest.json"), forged)
    writeFileSync(join(swapped, signatureFileName), readFileSync(join(dir, signatureFileName)))
    expect(await Effect.runPromise(signatureCheck(swapped, [trusted], Result.succeed(signed)))).toMatchObject({ verdict: "PASS" })
    // And the other way round: verify read the forged bytes, the signed file is back on disk.
    const back = await Effect.runPromise(signatureCheck(dir, [trusted], Result.succeed(forged)))
    expect(back).toMatchObject({ verdict: "FAIL" })
    expect(back.found).toContain("does not match its bytes")
  })
})

describe("a trusted-key file of several keys (signing keys rotating)", () => {
  const newer = generateKeyPairSync("ed25519").publicKey
  const pem = (k: typeof publicKey) => k.export({ format: "pem", type: "spki" }).toString()

  it("trusts every key in it: a backup signed by either passes, and only its signer matters", async () => {
    const path = join(dir, "rotating.pub")
    writeFileSync(path, `# old, then new\n${pem(newer)}\n${pem(publicKey)}`)
    const keys = await Effect.runPromise(readTrustedKeys([path]))
    expect(keys.map((k) => k.keyId)).toEqual([keyIdOf(newer), keyIdOf(publicKey)])
    expect(await Effect.runPromise(signatureCheck(dir, keys, Result.succeed(signed)))).toMatchObject({ verdict: "PASS" })
    // Either key alone: only the one that signed passes.
    expect(await Effect.runPromise(signatureCheck(dir, keys.slice(0, 1), Result.succeed(signed)))).toMatchObject({ verdict: "FAIL" })
  })

  it("refuses the file when one of its blocks is no public key, naming the block", async () => {
    const path = join(dir, "rotating-bad.pub")
    writeFileSync(path, `${pem(publicKey)}-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n`)
    const exit = await Effect.runPromiseExit(readTrustedKeys([path]))
    expect(JSON.stringify(exit)).toMatch(/ManifestKeyUnusable.*PEM block 2 of 2.*is not a PEM public key/)
  })
})
