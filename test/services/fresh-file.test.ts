/**
 * Every file the project writes to publish under another name (`.part`, `.tmp-<pid>`) is a new
 * inode of its own, whatever was at its name: a killed run's leftover with mode 0644 (a
 * downloaded snapshot came out world-readable after one), a file another user planted with a
 * reader's descriptor open on it, or a symbolic link to a file elsewhere. Checked on the primitive
 * and on each writer that uses it, with the real files.
 */
import { createHash, randomBytes } from "node:crypto"
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import http from "node:http"
import type net from "node:net"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeFileAtomic } from "../../src/services/atomic-files.ts"
import { decryptFile, encryptFile } from "../../src/services/crypto/age-files.ts"
import { parseRecipient } from "../../src/services/crypto/age-keys.ts"
import { createFreshFile } from "../../src/services/fresh-file.ts"
import { makeDirectoryStore } from "../../src/services/store/directory-store.ts"
import { makeS3Store } from "../../src/services/store/s3-store.ts"
import { writeArchive } from "../../src/services/tarball/write.ts"
import { tempDir } from "../support/temp-dir.ts"
import { identitiesOf, keygen } from "./crypto/age-cli.ts"

const MiB = 1024 * 1024
const planted = "planted by someone else"

/** What was planted at `part` before the writer ran: a readable file with a descriptor open on it, or a link. */
type Plant = { readonly kind: "file"; readonly fd: number } | { readonly kind: "link"; readonly victim: string }

const plant = (kind: Plant["kind"], part: string, dir: string): Plant => {
  mkdirSync(join(part, ".."), { recursive: true })
  if (kind === "link") {
    const victim = join(dir, `victim-${randomBytes(4).toString("hex")}`)
    writeFileSync(victim, planted, { mode: 0o644 })
    symlinkSync(victim, part)
    return { kind, victim }
  }
  writeFileSync(part, planted, { mode: 0o644 })
  return { kind, fd: openSync(part, "r") }
}

/** The planted file or link's target still holds what was planted: nothing was written into it. */
const untouched = (p: Plant) => {
  if (p.kind === "link") return readFileSync(p.victim, "utf8")
  const buffer = Buffer.alloc(4096)
  const n = readSync(p.fd, buffer, 0, buffer.length, 0)
  closeSync(p.fd)
  return buffer.subarray(0, n).toString("utf8")
}

describe("createFreshFile", () => {
  it.each(["file", "link"] as const)("a %s at the path is replaced by a new file of the exact mode; the planted one is never written", async (kind) => {
    const dir = tempDir("fresh-file")
    const path = join(dir, "x.part")
    const p = plant(kind, path, dir)
    const old = process.umask(0o077)
    try {
      const handle = await createFreshFile(path, 0o640)
      await handle.writeFile("secret")
      await handle.close()
    } finally {
      process.umask(old)
    }
    expect(lstatSync(path).isFile()).toBe(true)
    expect(statSync(path).mode & 0o7777).toBe(0o640)
    expect(readFileSync(path, "utf8")).toBe("secret")
    expect(untouched(p)).toBe(planted)
  })

  it("refuses a directory at the path (EISDIR) and leaves it", async () => {
    const dir = tempDir("fresh-file")
    mkdirSync(join(dir, "d.part"))
    await expect(createFreshFile(join(dir, "d.part"), 0o600)).rejects.toMatchObject({ code: "EISDIR" })
    expect(statSync(join(dir, "d.part")).isDirectory()).toBe(true)
  })
})

/** A one-object S3 that honours Range, enough for getFile's streamed and ranged paths. */
let s3: http.Server
let s3Url: string
const object = randomBytes(12 * MiB + 5)
beforeAll(async () => {
  s3 = http.createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      if (req.method === "HEAD") return void res.writeHead(200, { "content-length": String(object.length) }).end()
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "")
      if (range === null) return void res.writeHead(200, { "content-length": String(object.length) }).end(object)
      const from = Number(range[1])
      const to = Math.min(Number(range[2]), object.length - 1)
      res
        .writeHead(206, { "content-length": String(to - from + 1), "content-range": `bytes ${from}-${to}/${object.length}` })
        .end(object.subarray(from, to + 1))
    })
  })
  await new Promise<void>((r) => s3.listen(0, "127.0.0.1", () => r()))
  s3Url = `http://127.0.0.1:${(s3.address() as net.AddressInfo).port}`
})
afterAll(() => s3?.close())

const s3Store = (partSize: number) =>
  makeS3Store(
    {
      url: new URL(s3Url),
      region: "us-east-1",
      bucket: "b",
      pathStyle: true,
      credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" },
      signPayload: true,
      requestTimeoutMs: 10_000,
    },
    { partSize, partsInFlight: 2, retries: 0, retryBaseMs: 1, downloadRangeBytes: 5 * MiB },
  )

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/** A writer: where its temporary file lies, and a run that publishes `expected` bytes at `final`. */
interface Writer {
  readonly name: string
  readonly run: (dir: string) => { readonly part: string; readonly final: string; readonly write: () => Promise<unknown>; readonly expected: () => Buffer }
}

const payload = randomBytes(256 * 1024)

const writers: ReadonlyArray<Writer> = [
  {
    name: "writeFileAtomic (manifests, records)",
    run: (dir) => {
      const final = join(dir, "backup-manifest.json")
      return {
        part: `${final}.tmp-${process.pid}`,
        final,
        write: () => Effect.runPromise(writeFileAtomic(final, payload).pipe(Effect.provide(NodeServices.layer))),
        expected: () => payload,
      }
    },
  },
  {
    name: "the directory store's upload",
    run: (dir) => {
      writeFileSync(join(dir, "snap.db"), payload)
      mkdirSync(join(dir, "store"))
      const final = join(dir, "store", "p", "id", "snap.db")
      return {
        part: `${final}.part`,
        final,
        write: () => Effect.runPromise(makeDirectoryStore(join(dir, "store")).putFile("p/id/snap.db", join(dir, "snap.db"), { sha256: sha256(payload) })),
        expected: () => payload,
      }
    },
  },
  {
    name: "the directory store's download",
    run: (dir) => {
      mkdirSync(join(dir, "store", "p", "id"), { recursive: true })
      writeFileSync(join(dir, "store", "p", "id", "snap.db"), payload)
      const final = join(dir, "snap.db.download")
      return {
        part: `${final}.part`,
        final,
        write: () => Effect.runPromise(makeDirectoryStore(join(dir, "store")).getFile("p/id/snap.db", final)),
        expected: () => payload,
      }
    },
  },
  ...[
    ["streamed", 16 * MiB],
    ["in ranges", 5 * MiB],
  ].map(
    ([how, partSize]): Writer => ({
      name: `the S3 store's download, ${how}`,
      run: (dir) => {
        const final = join(dir, "snap.db.download")
        return {
          part: `${final}.part`,
          final,
          write: () => Effect.runPromise(s3Store(partSize as number).getFile("p/id/snap.db", final)),
          expected: () => object,
        }
      },
    }),
  ),
  {
    name: "age encryption and decryption",
    run: (dir) => {
      const key = keygen(join(dir, "key.txt"))
      writeFileSync(join(dir, "plain"), payload)
      const final = join(dir, "opened")
      return {
        part: `${final}.part`,
        final,
        write: async () => {
          await Effect.runPromise(encryptFile(join(dir, "plain"), join(dir, "sealed.age"), [Result.getOrThrow(parseRecipient(key.recipient))]))
          await Effect.runPromise(decryptFile(join(dir, "sealed.age"), final, await identitiesOf(key.path)))
        },
        expected: () => payload,
      }
    },
  },
  {
    name: "the static-pod resources tarball",
    run: (dir) => {
      mkdirSync(join(dir, "source", "static-pod-resources", "etcd-pod-3"), { recursive: true })
      writeFileSync(join(dir, "source", "static-pod-resources", "etcd-pod-3", "pod.yaml"), payload)
      const final = join(dir, "static_kuberesources.tar.gz")
      let bytes: Buffer | undefined
      return {
        part: `${final}.part`,
        final,
        write: async () => {
          await writeArchive({ source: join(dir, "source"), destination: final, mtime: new Date(0) })
          bytes = readFileSync(final)
        },
        expected: () => bytes!,
      }
    },
  },
]

describe("every writer of a temporary file makes it new", () => {
  for (const writer of writers) {
    it.each(["file", "link"] as const)(`${writer.name}: over a planted %s`, async (kind) => {
      const dir = tempDir("fresh-writer")
      const { part, final, write, expected } = writer.run(dir)
      const p = plant(kind, part, dir)
      await write()
      expect(readFileSync(final).equals(expected())).toBe(true)
      expect(statSync(final).mode & 0o777).toBe(0o600)
      expect(untouched(p)).toBe(planted)
    })
  }
})
