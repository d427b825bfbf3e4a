/**
 * `latest` with --trusted-key: a newer complete backup whose manifest no trusted key signed is
 * passed over (named, with why) for the newest one that is signed; without keys it is latest.
 */
import { generateKeyPairSync } from "node:crypto"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer, Logger, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { type BackupManifest, encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { parseSigningKey, parseTrustedKey } from "../../../src/services/crypto/manifest-signature.ts"
import { resolveBackupId } from "../../../src/programs/store/resolve-backup-id.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const prefix = "p"
const newer = "2026-06-01_000000"
const keyPair = () => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519")
  return {
    signing: Result.getOrThrow(parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" }) as string)),
    trusted: Result.getOrThrow(parseTrustedKey(publicKey.export({ format: "pem", type: "spki" }) as string, "trusted.pem")),
  }
}
const signer = keyPair()
let store: MemoryStore
let signedId: string

beforeAll(async () => {
  const backup = tempDir("resolve-latest")
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
  signedId = readManifest(backup).timestamp
  store = makeMemoryStore()
  await Effect.runPromise(
    uploadBackup(backup, prefix, undefined, { signingKey: signer.signing }).pipe(
      Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
    ),
  )
  // The manifest's own digest recomputed over the edited content, as backup-create would have written it.
  const resealed = (text: string) => {
    const { manifestSha256: _, ...manifest } = JSON.parse(text) as BackupManifest & { manifestSha256?: string }
    return encodeBackupManifest(manifest)
  }
  // A newer complete backup, unsigned: the same objects under the newer timestamp, the manifest saying so, no signature.
  const rename = (text: string) => text.replaceAll(signedId, newer)
  for (const [key, object] of [...store.objects]) {
    if (key.endsWith(".sig")) continue
    const bytes = key.endsWith("backup-manifest.json") ? new TextEncoder().encode(resealed(rename(new TextDecoder().decode(object.bytes)))) : object.bytes
    await Effect.runPromise(store.putBytes(rename(key), bytes))
  }
}, 60_000)

const resolve = async (trusted: ReadonlyArray<ReturnType<typeof keyPair>["trusted"]>) => {
  const lines: Array<string> = []
  const exit = await Effect.runPromiseExit(
    resolveBackupId(prefix, "latest", trusted).pipe(
      Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
      Effect.provide(Logger.layer([Logger.make(({ message, logLevel }) => void lines.push(`${logLevel} ${String(message)}`))])),
    ),
  )
  return { exit, lines }
}

describe("latest with trusted keys", () => {
  it("without keys, the newest complete backup", async () => {
    const { exit } = await resolve([])
    expect(exit).toEqual(Exit.succeed(newer))
  })

  it("with a trusted key, the newest one it signed; the newer unsigned one passed over and named", async () => {
    const { exit, lines } = await resolve([signer.trusted])
    expect(exit).toEqual(Exit.succeed(signedId))
    expect(lines.some((l) => l.startsWith("Warn") && l.includes(`latest: passing over backup ${newer}:`) && /not signed/.test(l))).toBe(true)
    expect(lines).toContain(`Info latest: backup ${signedId}, the newest complete and trusted one in memory:// under ${prefix}/`)
  })

  it("with only other keys trusted: NoCompleteBackup, every candidate passed over", async () => {
    const { exit } = await resolve([keyPair().trusted])
    expect(JSON.stringify(exit)).toMatch(
      /NoCompleteBackup.*there is no complete backup signed by a trusted key in .* to take as latest \(2 passed over, logged above\)/,
    )
  })
})

describe("an explicit id with trusted keys", () => {
  it("a signature object larger than any signature: refused unread (StoredManifestUnauthenticated), nothing downloaded", async () => {
    const own = makeMemoryStore()
    for (const [key, object] of store.objects) if (key.startsWith(`${prefix}/${signedId}/`)) await Effect.runPromise(own.putBytes(key, object.bytes))
    const signatureKey = `${prefix}/${signedId}/backup-manifest.json.sig`
    const run = () =>
      Effect.runPromiseExit(
        resolveBackupId(prefix, signedId, [signer.trusted]).pipe(
          Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(own)), NodeServices.layer, DiskSpace.live)),
        ),
      )
    expect(await run()).toEqual(Exit.succeed(signedId))
    // A valid signature followed by a megabyte of padding.
    const padded = Buffer.concat([own.objects.get(signatureKey)!.bytes, Buffer.alloc(1024 * 1024, "\n")])
    await Effect.runPromise(own.putBytes(signatureKey, padded))
    const exit = await run()
    expect(JSON.stringify(exit)).toContain('"_tag":"StoredManifestUnauthenticated"')
    expect(JSON.stringify(exit)).toContain(
      `backup ${signedId} in memory:// is refused before anything is downloaded: its signature object is larger than any signature (over 65536 bytes); it was not read`,
    )
  })
})
