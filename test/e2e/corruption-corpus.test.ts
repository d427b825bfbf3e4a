/**
 * The corruption corpus: one real backup (backup-init against etcd 3.5 over TLS, backup-resources
 * on the OpenShift fixtures, backup-create), then single-bit flips at seeded random positions of
 * the snapshot, the tarball and the manifest, and truncations of each. `verify`, `restore` and
 * `restore --dry-run` must refuse every one, and the host tree under the restore's root (the
 * backup inside it put back after each case) must hash the same before and after.
 *
 * Every flip is detectable, none is skipped: a flip in the snapshot or the tarball changes the
 * sha256 the manifest records for it; a flip in the manifest either breaks its JSON, its shape or
 * its canonical form (whitespace, key names, escapes), or changes a value, which its own
 * `manifestSha256` (format 2) no longer matches. The seed is fixed, so every run tries the same
 * cases; a failure names the file, the byte and the bit.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { restoreBackup } from "../../src/programs/restore/restore.ts"
import { verifyBackup } from "../../src/programs/verify/verify.ts"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { DurableFiles } from "../../src/services/durable-files.ts"
import { HostProcesses } from "../../src/services/host-processes.ts"
import { Etcdutl } from "../../src/services/etcdutl.ts"
import { seededRandom } from "../../src/simulation/seeded-random.ts"
import { Tarball } from "../../src/services/tarball/tarball.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"
import { makeBackup, makeHostTree, readManifest, startSharedEtcd, type HostTree, type SharedEtcd } from "../support/bad-backups.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"

const seed = 13
const flipsPerFile = 34
/** Cases run this many at a time, each worker on its own host tree: much of a case is waiting (etcdutl, /proc). */
const workers = 3
const restoreId = "3f6e1a2b-9c4d-4e5f-8a7b-1c2d3e4f5a6b"
const files = ["snapshot", "resources", "manifest"] as const
type BackupFile = (typeof files)[number]

interface Damage {
  readonly file: BackupFile
  readonly name: string
  readonly apply: (bytes: Buffer) => Buffer
}

const flip = (file: BackupFile, bit: number): Damage => ({
  file,
  name: `${file}: bit ${bit % 8} of byte ${Math.floor(bit / 8)} flipped`,
  apply: (bytes) => {
    const out = Buffer.from(bytes)
    out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7))
    return out
  },
})

const truncation = (file: BackupFile, keep: (size: number) => number, what: string): Damage => ({
  file,
  name: `${file}: ${what}`,
  apply: (bytes) => bytes.subarray(0, keep(bytes.length)),
})

interface Worker {
  readonly host: HostTree
  readonly paths: Record<BackupFile, string>
}

let etcd: SharedEtcd
let hosts: ReadonlyArray<Worker>
let originals: Record<BackupFile, Buffer>
let corpus: ReadonlyArray<Damage>

/** The capabilities of the real etcdutl, asked once: they are not what this test is about, and each ask runs it twice. */
const etcdutlLayer = Layer.effect(
  Etcdutl,
  Effect.gen(function* () {
    const live = yield* Etcdutl
    const capabilities = yield* Effect.cached(live.capabilities)
    return Etcdutl.of({ ...live, capabilities })
  }),
).pipe(Layer.provide(Etcdutl.live()))

const layer = Layer.mergeAll(etcdutlLayer, DiskSpace.live, Tarball.live, DurableFiles.live, HostProcesses.live, NodeServices.layer)

beforeAll(async () => {
  etcd = await startSharedEtcd("corpus", 200)
  const backup = join(etcd.workDir, "backup")
  await Effect.runPromise(makeBackup(backup, etcd.member.connection, loadedCluster()))
  const manifest = readManifest(backup)
  hosts = Array.from({ length: workers }, () => {
    const host = makeHostTree(etcd.workDir, backup)
    const paths = {
      snapshot: join(host.backupDir, manifest.files.snapshot.name),
      resources: join(host.backupDir, manifest.files.resources.name),
      manifest: join(host.backupDir, "backup-manifest.json"),
    }
    return { host, paths }
  })
  const { paths } = hosts[0]!
  originals = { snapshot: readFileSync(paths.snapshot), resources: readFileSync(paths.resources), manifest: readFileSync(paths.manifest) }
  const random = seededRandom(seed)
  corpus = files.flatMap((file) => [
    ...Array.from({ length: flipsPerFile }, () => flip(file, random.int(0, originals[file].length * 8 - 1))),
    truncation(file, () => 0, "emptied"),
    truncation(file, (size) => size - 1, "its last byte cut"),
    truncation(file, (size) => Math.floor(size / 2), "cut in half"),
    truncation(file, (size) => random.int(1, size - 2), "cut at a random length"),
  ])
}, 120_000)

afterAll(async () => {
  await etcd?.close()
})

const verify = (host: HostTree) => Effect.runPromise(verifyBackup({ backupDir: host.backupDir }).pipe(Effect.provide(layer)))

const restore = (host: HostTree, dryRun: boolean) =>
  Effect.runPromiseExit(
    restoreBackup({ backupDir: host.backupDir, root: host.root, dryRun, memberName: "master-0", noBump: false, restoreId, output: () => Effect.void }).pipe(
      Effect.provide(layer),
    ),
  )

/** The commands that did not refuse the damaged backup of `host`. */
const accepting = async (host: HostTree): Promise<ReadonlyArray<string>> => [
  ...((await verify(host)).passed ? ["verify"] : []),
  ...(Exit.isSuccess(await restore(host, false)) ? ["restore"] : []),
  ...(Exit.isSuccess(await restore(host, true)) ? ["restore --dry-run"] : []),
]

describe("corruption corpus", () => {
  it("the good backup passes verify and a dry run (the corpus is made of it)", async () => {
    const { host } = hosts[0]!
    // Without --trusted-key the backup is unauthenticated: a warning, not a failure.
    expect((await verify(host)).checks.filter((c) => c.verdict !== "PASS").map((c) => [c.id, c.verdict])).toEqual([["manifest-signature", "WARN"]])
    expect(Exit.isSuccess(await restore(host, true))).toBe(true)
  })

  it(`verify, restore and restore --dry-run refuse each of ${3 * flipsPerFile} bit flips and ${3 * 4} truncations; the host tree is unchanged`, async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(100)
    const before = hosts.map(({ host }) => snapshotTree(host.root))
    const accepted: Array<string> = []
    const changed: Array<string> = []
    await Promise.all(
      hosts.map(async ({ host, paths }, w) => {
        for (const damage of corpus.filter((_, i) => i % workers === w)) {
          writeFileSync(paths[damage.file], damage.apply(originals[damage.file]))
          try {
            const by = await accepting(host)
            if (by.length > 0) accepted.push(`${damage.name}: accepted by ${by.join(", ")}`)
          } finally {
            writeFileSync(paths[damage.file], originals[damage.file])
          }
          if (JSON.stringify(snapshotTree(host.root)) !== JSON.stringify(before[w])) changed.push(`the host tree changed after ${damage.name}`)
        }
      }),
    )
    expect(accepted).toEqual([])
    expect(changed).toEqual([])
  }, 600_000)
})
