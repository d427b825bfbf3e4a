/**
 * Hostile `.tar.gz` archives, built byte by byte (normal tools refuse to make most of them), and
 * what a safe reader must answer to each. The header builder here is independent of
 * `src/services/tarball/ustar.ts` on purpose: a shared bug would hide itself.
 */
import { createHash } from "node:crypto"
import { lstatSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { gzipSync } from "node:zlib"

export interface RawEntry {
  readonly name: string | Buffer
  /** Type flag character (`0` file, `5` directory, `2` symlink, `x` PAX, `L` GNU long name...). */
  readonly type?: string
  readonly content?: Buffer | string
  /** The size written in the header (defaults to the content's length). */
  readonly declaredSize?: number
  /** A raw size field (12 bytes), for base-256 tricks. */
  readonly sizeField?: Buffer
  readonly linkname?: string
  readonly mode?: number
  readonly prefix?: string
  readonly magic?: "posix" | "gnu" | "none"
  /** Added to the correct checksum (0: correct). */
  readonly checksumSkew?: number
}

const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, "0")}\u0000`

/** One 512-byte header, written field by field from the ustar specification. */
export const rawHeader = (entry: RawEntry): Buffer => {
  const block = Buffer.alloc(512)
  const content = typeof entry.content === "string" ? Buffer.from(entry.content) : (entry.content ?? Buffer.alloc(0))
  const name = typeof entry.name === "string" ? Buffer.from(entry.name) : entry.name
  name.copy(block, 0, 0, Math.min(100, name.length))
  block.write(octal(entry.mode ?? 0o600, 8), 100, "latin1")
  block.write(octal(0, 8), 108, "latin1")
  block.write(octal(0, 8), 116, "latin1")
  if (entry.sizeField !== undefined) entry.sizeField.copy(block, 124, 0, 12)
  else block.write(octal(entry.declaredSize ?? content.length, 12), 124, "latin1")
  block.write(octal(1_700_000_000, 12), 136, "latin1")
  block.write((entry.type ?? "0").slice(0, 1), 156, "latin1")
  if (entry.linkname !== undefined) block.write(entry.linkname, 157, 100, "utf8")
  const magic = entry.magic ?? "posix"
  if (magic === "posix") block.write("ustar\u000000", 257, "latin1")
  if (magic === "gnu") block.write("ustar  \u0000", 257, "latin1")
  block.write("root", 265, "latin1")
  block.write("root", 297, "latin1")
  if (entry.prefix !== undefined) block.write(entry.prefix, 345, 155, "utf8")
  block.fill(0x20, 148, 156)
  let sum = 0
  for (const b of block) sum += b
  block.write(octal(sum + (entry.checksumSkew ?? 0), 7), 148, "latin1")
  block[155] = 0x20
  return block
}

const pad = (length: number) => Buffer.alloc((512 - (length % 512)) % 512)

/** Header, content and padding of one entry. */
export const rawEntry = (entry: RawEntry): Buffer => {
  const content = typeof entry.content === "string" ? Buffer.from(entry.content) : (entry.content ?? Buffer.alloc(0))
  return Buffer.concat([rawHeader(entry), content, pad(content.length)])
}

/** A PAX extended header carrying `records` (each `key=value`), as its own entry. */
export const paxEntry = (records: ReadonlyArray<readonly [string, string | Buffer]>): Buffer => {
  const body = Buffer.concat(
    records.map(([key, value]) => {
      const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")])
      let length = rest.length + 1
      while (String(length).length + rest.length !== length) length = String(length).length + rest.length
      return Buffer.concat([Buffer.from(String(length)), rest])
    }),
  )
  return rawEntry({ name: "PaxHeader/x", type: "x", content: body })
}

/** A GNU long-name (`L`) entry naming the next entry. */
export const gnuLongName = (name: string | Buffer, declaredSize?: number): Buffer =>
  rawEntry({
    name: "././@LongLink",
    type: "L",
    magic: "gnu",
    content: Buffer.concat([Buffer.from(name), Buffer.from([0])]),
    ...(declaredSize === undefined ? {} : { declaredSize }),
  })

export const endOfArchive = Buffer.alloc(1024)

export const tarOf = (...parts: ReadonlyArray<Buffer>): Buffer => Buffer.concat([...parts, endOfArchive])

export const gzip = (tar: Buffer): Buffer => gzipSync(tar)

const dir = (name: string) => rawEntry({ name: `${name}/`, type: "5", mode: 0o700 })
const file = (name: string | Buffer, content = "data\n") => rawEntry({ name, content })
const pod = "static-pod-resources/etcd-pod-1"

/** The expected refusal: the error's `_tag` and its `reason` (or `limit`). */
export interface Refusal {
  readonly tag: "TarballUnreadable" | "TarballEntryRefused" | "TarballLimitExceeded"
  readonly kind: string
}

export interface HostileTarball {
  readonly name: string
  /** The `.tar.gz` bytes; `outside` is an absolute directory escapes aim at. */
  readonly build: (outside: string) => Buffer
  readonly refusal: Refusal
}

/** Limits small enough for the size attacks to trip quickly. */
export const hostileLimits = {
  maxPathBytes: 4096,
  maxSegmentBytes: 255,
  maxPaxHeaderBytes: 1024 * 1024,
  maxEntries: 50,
  maxTotalFileBytes: 1024 * 1024,
  maxTrailingBytes: 64 * 1024,
} as const

const refused = (kind: string): Refusal => ({ tag: "TarballEntryRefused", kind })
const unreadable = (kind: string): Refusal => ({ tag: "TarballUnreadable", kind })
const limit = (kind: string): Refusal => ({ tag: "TarballLimitExceeded", kind })

const valid = () => tarOf(dir(pod), file(`${pod}/etcd-pod.yaml`, "kind: Pod\n"))

export const hostileTarballs: ReadonlyArray<HostileTarball> = [
  { name: "absolute path", build: (outside) => gzip(tarOf(file(join(outside, "absolute.txt")))), refusal: refused("absolute-path") },
  { name: "../ escape", build: () => gzip(tarOf(file("../escape.txt"))), refusal: refused("parent-segment") },
  { name: "a/../../x escape", build: () => gzip(tarOf(file(`${pod}/../../../escape.txt`))), refusal: refused("parent-segment") },
  { name: "./ prefix", build: () => gzip(tarOf(file(`./${pod}/x`))), refusal: refused("dot-segment") },
  { name: "empty segment", build: () => gzip(tarOf(file(`${pod}//x`))), refusal: refused("empty-segment") },
  { name: "empty name", build: () => gzip(tarOf(file(""))), refusal: refused("empty-path") },
  { name: "backslash", build: () => gzip(tarOf(file(`${pod}\\..\\x`))), refusal: refused("backslash") },
  { name: "control character", build: () => gzip(tarOf(file(`${pod}/a\nb`))), refusal: refused("control-character") },
  { name: "not UTF-8", build: () => gzip(tarOf(file(Buffer.concat([Buffer.from(`${pod}/`), Buffer.from([0xff, 0xfe])])))), refusal: refused("not-utf8") },
  { name: "NUL inside the name field", build: () => gzip(tarOf(file(Buffer.from(`${pod}/a\u0000../../../x`)))), refusal: refused("nul-byte") },
  { name: "NUL inside a PAX path", build: () => gzip(tarOf(paxEntry([["path", `${pod}/a\u0000../../x`]]), file("placeholder"))), refusal: refused("nul-byte") },
  { name: "file name ending with /", build: () => gzip(tarOf(file(`${pod}/x/`))), refusal: refused("trailing-slash") },
  {
    name: "symlink escape, then a write through it",
    build: (outside) => gzip(tarOf(dir(pod), rawEntry({ name: `${pod}/link`, type: "2", linkname: outside }), file(`${pod}/link/through-symlink.txt`))),
    refusal: refused("link"),
  },
  { name: "relative symlink", build: () => gzip(tarOf(rawEntry({ name: `${pod}/up`, type: "2", linkname: "../../.." }))), refusal: refused("link") },
  {
    name: "hardlink escape",
    build: (outside) => gzip(tarOf(rawEntry({ name: `${pod}/hard`, type: "1", linkname: join(outside, "target.txt") }))),
    refusal: refused("link"),
  },
  {
    name: "GNU long link",
    build: () => gzip(tarOf(rawEntry({ name: "././@LongLink", type: "K", magic: "gnu", content: "/etc/passwd\u0000" }))),
    refusal: refused("link"),
  },
  { name: "character device", build: () => gzip(tarOf(rawEntry({ name: `${pod}/null`, type: "3" }))), refusal: refused("device") },
  { name: "block device", build: () => gzip(tarOf(rawEntry({ name: `${pod}/sda`, type: "4" }))), refusal: refused("device") },
  { name: "FIFO", build: () => gzip(tarOf(rawEntry({ name: `${pod}/pipe`, type: "6" }))), refusal: refused("fifo") },
  { name: "GNU sparse file", build: () => gzip(tarOf(rawEntry({ name: `${pod}/sparse`, type: "S", magic: "gnu" }))), refusal: refused("unsupported-type") },
  { name: "PAX sparse file", build: () => gzip(tarOf(paxEntry([["GNU.sparse.size", "1000000"]]), file(`${pod}/s`))), refusal: refused("unsupported-type") },
  {
    name: "global PAX header",
    build: () => gzip(tarOf(rawEntry({ name: "pax_global_header", type: "g", content: "20 comment=hello!!!\n" }))),
    refusal: refused("unsupported-type"),
  },
  { name: "outside the layout", build: () => gzip(tarOf(file("etc/passwd"))), refusal: refused("layout") },
  { name: "duplicate file", build: () => gzip(tarOf(file(`${pod}/a`), file(`${pod}/a`, "second\n"))), refusal: refused("duplicate") },
  { name: "file then a path through it", build: () => gzip(tarOf(file(`${pod}/a`), file(`${pod}/a/b`))), refusal: refused("path-conflict") },
  { name: "directory then a file of the same name", build: () => gzip(tarOf(dir(`${pod}/a`), file(`${pod}/a`))), refusal: refused("path-conflict") },
  {
    name: "huge PAX header",
    build: () => gzip(tarOf(paxEntry([["comment", "x".repeat(2 * 1024 * 1024)]]), file(`${pod}/a`))),
    refusal: limit("pax-header-bytes"),
  },
  { name: "huge PAX path", build: () => gzip(tarOf(paxEntry([["path", `${pod}/${"a/".repeat(2500)}x`]]), file("placeholder"))), refusal: limit("path-bytes") },
  {
    name: "huge path segment",
    build: () => gzip(tarOf(paxEntry([["path", `${pod}/${"a".repeat(300)}`]]), file("placeholder"))),
    refusal: limit("segment-bytes"),
  },
  { name: "GNU long name escape", build: () => gzip(tarOf(gnuLongName("../../../etc/cron.d/evil"), file("placeholder"))), refusal: refused("parent-segment") },
  {
    name: "GNU long name absolute",
    build: (outside) => gzip(tarOf(gnuLongName(join(outside, "gnu-absolute.txt")), file("placeholder"))),
    refusal: refused("absolute-path"),
  },
  {
    name: "GNU long name hiding a NUL",
    build: () => gzip(tarOf(gnuLongName(Buffer.from(`${pod}/ok\u0000../../../x`)), file("placeholder"))),
    refusal: refused("nul-byte"),
  },
  { name: "huge GNU long name", build: () => gzip(tarOf(gnuLongName(`${pod}/${"a".repeat(8000)}`), file("placeholder"))), refusal: limit("path-bytes") },
  { name: "dangling GNU long name", build: () => gzip(tarOf(gnuLongName(`${pod}/a`))), refusal: unreadable("header") },
  {
    name: "two GNU long names in a row",
    build: () => gzip(tarOf(gnuLongName(`${pod}/a`), gnuLongName("../x"), file("placeholder"))),
    refusal: unreadable("gnu-longname"),
  },
  {
    name: "two PAX headers in a row",
    build: () => gzip(tarOf(paxEntry([["path", `${pod}/a`]]), paxEntry([["path", "../x"]]), file("placeholder"))),
    refusal: unreadable("pax"),
  },
  {
    name: "malformed PAX record",
    build: () => gzip(tarOf(rawEntry({ name: "PaxHeader/x", type: "x", content: "99 path=x\n" }), file("placeholder"))),
    refusal: unreadable("pax"),
  },
  {
    name: "gzip bomb (one file far beyond the size limit)",
    build: () => gzip(tarOf(rawHeader({ name: `${pod}/bomb`, declaredSize: 32 * 1024 * 1024 }), Buffer.alloc(32 * 1024 * 1024))),
    refusal: limit("total-file-bytes"),
  },
  {
    name: "gzip bomb (many files adding up)",
    build: () => gzip(tarOf(...Array.from({ length: 8 }, (_, i) => rawEntry({ name: `${pod}/part-${i}`, content: Buffer.alloc(300 * 1024) })))),
    refusal: limit("total-file-bytes"),
  },
  { name: "too many entries", build: () => gzip(tarOf(...Array.from({ length: 60 }, (_, i) => dir(`${pod}/d${i}`)))), refusal: limit("entries") },
  {
    name: "zero-padding bomb after the end marker",
    build: () => gzip(Buffer.concat([valid(), Buffer.alloc(8 * 1024 * 1024)])),
    refusal: limit("trailing-bytes"),
  },
  { name: "wrong header checksum", build: () => gzip(tarOf(rawEntry({ name: `${pod}/a`, content: "x", checksumSkew: 1 }))), refusal: unreadable("checksum") },
  { name: "pre-POSIX header (no magic)", build: () => gzip(tarOf(rawEntry({ name: `${pod}/a`, content: "x", magic: "none" }))), refusal: unreadable("header") },
  {
    name: "negative base-256 size",
    build: () => gzip(tarOf(rawEntry({ name: `${pod}/a`, sizeField: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]) }))),
    refusal: unreadable("header"),
  },
  { name: "directory with content", build: () => gzip(tarOf(rawEntry({ name: `${pod}/d/`, type: "5", content: "hidden" }))), refusal: unreadable("header") },
  { name: "truncated tar (cut inside a file)", build: () => gzip(valid().subarray(0, 512 * 2 + 100)), refusal: unreadable("truncated") },
  { name: "tar without end-of-archive marker", build: () => gzip(valid().subarray(0, valid().length - 1024)), refusal: unreadable("truncated") },
  { name: "truncated gzip stream", build: () => gzip(valid()).subarray(0, 60), refusal: unreadable("gzip") },
  {
    name: "garbage after the end marker (inside gzip)",
    build: () => gzip(Buffer.concat([valid(), Buffer.from("#!/bin/sh\nrm -rf /\n")])),
    refusal: unreadable("trailing-data"),
  },
  { name: "garbage after the gzip stream", build: () => Buffer.concat([gzip(valid()), Buffer.from("trailing garbage")]), refusal: unreadable("gzip") },
  { name: "not gzip at all", build: () => valid(), refusal: unreadable("gzip") },
]

/** A well-formed archive in the same layout (the control case). */
export const validTarball = (): Buffer => gzip(valid())

/** Every path under `root` with its type, mode and content hash: equal snapshots, equal trees. */
export const snapshotTree = (root: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  const visit = (relative: string) => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative === "" ? name : `${relative}/${name}`
      const stat = lstatSync(join(root, path))
      const mode = (stat.mode & 0o7777).toString(8)
      if (stat.isDirectory()) {
        out.push(`d ${mode} ${path}`)
        visit(path)
      } else if (stat.isFile()) {
        out.push(
          `f ${mode} ${path} ${createHash("sha256")
            .update(readFileSync(join(root, path)))
            .digest("hex")}`,
        )
      } else {
        out.push(`? ${mode} ${path}`)
      }
    }
  }
  visit("")
  return out
}
