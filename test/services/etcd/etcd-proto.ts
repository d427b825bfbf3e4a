/**
 * The reference for the hand-written etcd wire codecs: protobufjs reading etcd's own .proto files
 * (shipped in the etcd3 package), the fast-check arbitraries of their fields, and a way to feed a
 * byte stream to a decoder cut at arbitrary points.
 */
import { createRequire } from "node:module"
import { join } from "node:path"
import fc from "fast-check"
import { repoRoot } from "../../support/tools.ts"

// protobufjs is a dependency of etcd3: loaded here only as the reference implementation.
const protobuf = createRequire(import.meta.url)("protobufjs") as {
  Root: new () => {
    resolvePath: (origin: string, target: string) => string
    loadSync(files: Array<string>, options?: unknown): { lookupType(name: string): ProtoType }
  }
}
export interface ProtoType {
  fromObject(o: unknown): unknown
  encode(m: unknown): { finish(): Uint8Array }
  decode(b: Uint8Array): unknown
  toObject(m: unknown, o: unknown): Record<string, unknown>
}
const protoDir = join(repoRoot, "node_modules", "etcd3", "proto")
const root = new protobuf.Root()
root.resolvePath = (_origin, target) => join(protoDir, target.split("/").at(-1)!)
const loaded = root.loadSync(["rpc.proto"], { keepCase: true })
/** A message type of etcd's rpc.proto, e.g. `etcdserverpb.StatusResponse`. */
export const type = (name: string) => loaded.lookupType(name)
export const asLong = { longs: String, bytes: Uint8Array, defaults: true }

export const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
export const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
export const bytes = fc.uint8Array({ maxLength: 300 })
export const header = fc.record({ cluster_id: uint64, member_id: uint64, revision: safe, raft_term: safe })
type Header = typeof header extends fc.Arbitrary<infer H> ? H : never
/** A generated header as protobufjs takes it (64-bit ids as decimal strings). */
export const headerObject = (h: Header) => ({ ...h, cluster_id: h.cluster_id.toString(), member_id: h.member_id.toString() })

/** Pushes `stream` into `push` in pieces cut at `cuts` (modulo its length), collecting what comes out. */
export const pushInChunks = <A>(stream: Uint8Array, cuts: ReadonlyArray<number>, push: (chunk: Uint8Array) => ReadonlyArray<A>): Array<A> => {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b)
  const out: Array<A> = []
  let from = 0
  for (const p of [...points, stream.length]) {
    out.push(...push(stream.subarray(from, p)))
    from = p
  }
  return out
}
