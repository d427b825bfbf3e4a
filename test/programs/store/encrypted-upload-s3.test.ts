/**
 * The encrypted upload of a file larger than a part, against Swift's s3api: the ciphertext is
 * written into a ring of the upload's parts in flight plus one while they are sent, so the file
 * beside the backup never holds more than the ring, and the object is what age -d opens to the
 * snapshot's bytes. A snapshot that changed since backup-create is never completed as an object.
 */
import { createHash } from "node:crypto"
import { relay } from "../../support/tcp-relay.ts"
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import net from "node:net"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { downloadBackup } from "../../../src/programs/store/store-download.ts"
import { readIdentityFiles } from "../../../src/services/crypto/age-identity-files.ts"
import { readRecipientsFile } from "../../../src/services/crypto/recipients-file.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { s3Request } from "../../../src/services/store/s3-http.ts"
import type { S3TransferOptions } from "../../../src/services/store/s3-client.ts"
import { makeS3Store } from "../../../src/services/store/s3-store.ts"
import { writeLargeBackup } from "../../support/large-backup.ts"
import { createBucket, s3Endpoint, s3Server, type S3TestServer } from "../../support/s3-server.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { age, keygen } from "../../services/crypto/age-cli.ts"

const MiB = 1024 * 1024
const bucket = `encrypted-upload-${process.pid}`
const transfer: S3TransferOptions = { partSize: 5 * MiB, partsInFlight: 2, retries: 2, retryBaseMs: 50 }
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
let server: S3TestServer
let keys: string
let key: { path: string; recipient: string }

beforeAll(async () => {
  server = await s3Server()
  await createBucket(server, bucket)
  keys = tempDir("encrypted-upload-s3-keys")
  key = keygen(join(keys, "key.txt"))
  writeFileSync(join(keys, "recipients"), `${key.recipient}\n`)
}, 200_000)

const upload = async (dir: string, prefix: string) => {
  const store = makeS3Store(s3Endpoint(server, bucket), transfer)
  const recipients = await Effect.runPromise(readRecipientsFile(join(keys, "recipients")))
  let largest = 0
  const timer = setInterval(() => {
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".age"))) {
      largest = Math.max(largest, statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0)
    }
  }, 5)
  const exit = await Effect.runPromiseExit(
    uploadBackup(dir, prefix, undefined, { recipients: { snapshot: recipients } }).pipe(
      Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
    ),
  )
  clearInterval(timer)
  return { exit, store, largest }
}

describe("an encrypted multipart upload to Swift", () => {
  it("stores what age -d opens to the snapshot, while the ciphertext beside the backup never outgrows the ring", async () => {
    const dir = tempDir("encrypted-upload-s3")
    const manifest = writeLargeBackup(dir, 23 * MiB + 4321)
    const prefix = "cluster-backup/ring"
    const { exit, store, largest } = await upload(dir, prefix)
    if (!Exit.isSuccess(exit)) throw new Error(String(exit.cause))
    const name = `${manifest.files.snapshot.name}.age`
    const key_ = objectKey(prefix, exit.value.id, name)
    const ring = (transfer.partsInFlight + 1) * transfer.partSize
    expect(store.followRingBytes(24 * MiB)).toBe(ring)
    expect(largest).toBeGreaterThan(0)
    expect(largest).toBeLessThanOrEqual(ring)
    const object = join(dir, "object.age")
    await Effect.runPromise(store.getFile(key_, object))
    expect(sha256(age(["-d", "-i", key.path, object]))).toBe(manifest.files.snapshot.sha256)
    const recorded = exit.value.manifest.files.snapshot.encrypted!
    expect(recorded.sha256).toBe(sha256(readFileSync(object)))
    expect(recorded.size).toBe(statSync(object).size)
    const head = await Effect.runPromise(s3Request(s3Endpoint(server, bucket), { operation: "HEAD", method: "HEAD", key: key_ }))
    expect(head.headers["x-amz-meta-plaintext-sha256"]).toBe(manifest.files.snapshot.sha256)
    expect(readdirSync(dir).filter((n) => n.includes(".age") && n !== "object.age")).toEqual([])
  })

  it("a snapshot changed since backup-create (same size): refused, no object, no multipart upload left, no ciphertext beside it", async () => {
    const dir = tempDir("encrypted-upload-s3-changed")
    const manifest = writeLargeBackup(dir, 17 * MiB)
    const path = join(dir, manifest.files.snapshot.name)
    const bytes = readFileSync(path)
    bytes[bytes.length - 1]! ^= 1
    writeFileSync(path, bytes)
    const prefix = "cluster-backup/changed"
    const { exit, store } = await upload(dir, prefix)
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("changed after backup-create")
    const stored = await Effect.runPromise(store.listPage(`${prefix}/${manifest.timestamp}/`))
    expect(stored.objects).toEqual([])
    expect(await Effect.runPromise(store.pendingUploads(`${prefix}/`))).toEqual([])
    expect(readdirSync(dir).filter((n) => n.includes(".age"))).toEqual([])
  })
})

/** A TCP proxy to Swift that counts the bytes Swift sends back. */
const countingProxy = async (target: URL) => {
  let served = 0
  const sockets = new Set<net.Socket>()
  const srv = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname)
    upstream.on("data", (d: Buffer) => (served += d.length))
    relay(client, upstream, sockets)
  })
  const port = await new Promise<number>((resolve) => srv.listen(0, "127.0.0.1", () => resolve((srv.address() as net.AddressInfo).port)))
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    served: () => served,
    close: () => {
      srv.close()
      for (const s of sockets) s.destroy()
    },
  }
}

describe("an encrypted download from Swift with a wrong identity", () => {
  it("fails with AgeNoIdentityMatched after reading the ciphertext's header, not the whole object; nothing is left in the directory", async () => {
    const dir = tempDir("encrypted-download-s3-wrong")
    writeLargeBackup(dir, 23 * MiB)
    const prefix = "cluster-backup/wrong-identity"
    const { exit } = await upload(dir, prefix)
    if (!Exit.isSuccess(exit)) throw new Error(String(exit.cause))
    const wrong = keygen(join(keys, "wrong.key"))
    const identities = await Effect.runPromise(readIdentityFiles([wrong.path], { allowExposed: false }))
    const proxy = await countingProxy(new URL(server.endpoint))
    try {
      const store = makeS3Store({ ...s3Endpoint(server, bucket), url: proxy.url }, transfer)
      const into = tempDir("encrypted-download-s3-wrong-into")
      const result = await Effect.runPromiseExit(
        downloadBackup(prefix, exit.value.id, into, identities).pipe(
          Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
        ),
      )
      if (!Exit.isFailure(result)) throw new Error("expected the download to fail")
      const error = result.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; message: string }
      expect(error._tag).toBe("AgeNoIdentityMatched")
      expect(error.message).toMatch(/snapshot_.*\.db\.age cannot be opened with the identities given \(tried identity file .*wrong\.key\)/)
      // The listing, the manifest and the header's range: far below one part (5 MiB) of the 23 MiB ciphertext.
      expect(proxy.served()).toBeLessThan(MiB)
      expect(readdirSync(into)).toEqual([])
    } finally {
      proxy.close()
    }
  })
})
