/**
 * Real etcd 3.5 members for tests: a TLS member (client-certificate auth) in a temp directory,
 * shared by the tests of a file through `TestEtcd.layer`; helpers to fill it with keys and the
 * four operator CRs, and to run `etcdutl`.
 */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { NodeServices } from "@effect/platform-node"
import type { Etcd3 } from "etcd3"
import { Context, Effect, Layer } from "effect"
import { operandList, type Operand } from "../../src/domain/operands.ts"
import { operatorCrKey } from "../../src/programs/backup/etcd-operator-revisions.ts"
import type { EtcdConnection } from "../../src/services/etcd/etcd.ts"
import * as EtcdLive from "../../src/services/etcd/etcd-live.ts"
import { etcdToolPath, startLocalEtcd, type LocalEtcd, type LocalEtcdOptions } from "../../src/services/local-etcd.ts"
import { generateTlsBundle, type TlsBundle } from "../../src/services/tls-certs.ts"
import { etcdClient } from "../../src/programs/demo/etcd-seed.ts"
import { scopedTempDir } from "./temp-dir.ts"

const run = promisify(execFile)

export interface TestEtcdShape {
  readonly member: LocalEtcd
  readonly tls: TlsBundle
  /** Scratch space of the test file (backups go in subdirectories). */
  readonly workDir: string
}

/** One TLS etcd member for a test file, stopped and deleted when the file's tests end. */
export class TestEtcd extends Context.Service<TestEtcd, TestEtcdShape>()("test/TestEtcd") {
  static readonly layer = (options: Partial<LocalEtcdOptions> = {}) =>
    Layer.effect(TestEtcd, startTlsEtcd("shared", options)).pipe(Layer.provide(NodeServices.layer))

  /** The member, the live Etcd service connected to it with the bundle's client certificate, and Node's services. */
  static readonly layerWithEtcd = (options: Partial<LocalEtcdOptions> = {}) =>
    Layer.unwrap(Effect.map(TestEtcd, (t) => EtcdLive.live(t.member.connection))).pipe(
      Layer.provideMerge(TestEtcd.layer(options)),
      Layer.provideMerge(NodeServices.layer),
    )
}

/** The backup pod's `backup-init` command line against `endpoint` with the bundle's client certificate. */
export const backupInitArgs = (backupDir: string, endpoint: string, tls: TlsBundle): Array<string> => [
  "backup-init",
  "--backup-dir",
  backupDir,
  "--etcd-endpoints",
  endpoint,
  "--etcd-cert",
  tls.clientCert,
  "--etcd-key",
  tls.clientKey,
  "--etcd-cacert",
  tls.caCert,
]

/** Starts a TLS etcd in a fresh temp dir (scoped: stopped and removed with the scope). */
export const startTlsEtcd = (prefix: string, options: Partial<LocalEtcdOptions> = {}) =>
  Effect.gen(function* () {
    const workDir = yield* scopedTempDir(prefix)
    const tls = yield* generateTlsBundle(join(workDir, "tls"))
    const member = yield* startLocalEtcd({ dataDir: join(workDir, "etcd-data"), tls, unsafeNoFsync: true, ...options })
    return { member, tls, workDir }
  })

/** A raw etcd3 client for seeding (closed with the scope); its TLS files read through the Node file system. */
export const etcd3Client = (connection: EtcdConnection) => etcdClient(connection).pipe(Effect.provide(NodeServices.layer))

/** The JSON an API server stores for an operator CR with `latestAvailableRevision`. */
export const operatorCrJson = (operand: Operand, latestAvailableRevision: number | undefined): string =>
  JSON.stringify({
    apiVersion: "operator.openshift.io/v1",
    kind: operand.kind,
    metadata: { name: "cluster", uid: `uid-${operand.plural}` },
    spec: { managementState: "Managed" },
    status: latestAvailableRevision === undefined ? { conditions: [] } : { latestAvailableRevision, conditions: [] },
  })

/** Deterministic value bytes for key `i` (so a restored member can be checked byte for byte). */
export const valueFor = (i: number, size: number): Buffer => {
  const out = Buffer.alloc(size)
  const seed = Buffer.from(`value-${i}-`)
  for (let o = 0; o < size; o += seed.length) seed.copy(out, o, 0, Math.min(seed.length, size - o))
  return out
}

export const seedKeyName = (i: number) => `/registry/test/item-${String(i).padStart(6, "0")}`

/** Puts `count` keys of `valueSize` bytes (8 in flight at once); returns the store revision after. */
export const seedKeys = (client: Etcd3, count: number, valueSize: number, from = 0) =>
  Effect.promise(async () => {
    let next = from
    const worker = async () => {
      while (next < from + count) {
        const i = next++
        await client.put(seedKeyName(i)).value(valueFor(i, valueSize))
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    const status = await client.maintenance.status()
    return Number(status.header.revision)
  })

/** Writes the four operator CRs with the given revisions; returns the store revision after each write. */
export const putOperatorCrs = (client: Etcd3, revisions: Readonly<Record<string, number | undefined>>) =>
  Effect.promise(async () => {
    let revision = 0
    for (const operand of operandList()) {
      const res = await client.put(operatorCrKey(operand)).value(operatorCrJson(operand, revisions[operand.name]))
      revision = Number(res.header.revision)
    }
    return revision
  })

export const etcdutl = (...args: Array<string>) =>
  Effect.promise(() => run(etcdToolPath("etcdutl"), args, { maxBuffer: 16 * 1024 * 1024 }).then((r) => r.stdout))

export interface SnapshotStatus {
  readonly hash: number
  readonly revision: number
  readonly totalKey: number
  readonly totalSize: number
}

export const snapshotStatus = (file: string) => Effect.map(etcdutl("snapshot", "status", file, "-w", "json"), (out) => JSON.parse(out) as SnapshotStatus)

/** `etcdutl snapshot restore` into `dataDir` for a single member `name` whose peer URL is `peerUrl`. */
export const restoreSnapshot = (file: string, dataDir: string, name: string, peerUrl: string) =>
  etcdutl(
    "snapshot",
    "restore",
    file,
    "--data-dir",
    dataDir,
    "--name",
    name,
    "--initial-cluster",
    `${name}=${peerUrl}`,
    "--initial-advertise-peer-urls",
    peerUrl,
  )

/** `etcdctl snapshot save` of a member (the reference tool), with its TLS flags. */
export const etcdctlSnapshotSave = (connection: EtcdConnection, file: string) =>
  Effect.promise(() =>
    run(
      etcdToolPath("etcdctl"),
      [
        "--endpoints",
        connection.endpoints.join(","),
        ...(connection.tls === undefined ? [] : ["--cert", connection.tls.cert, "--key", connection.tls.key, "--cacert", connection.tls.cacert]),
        "snapshot",
        "save",
        file,
      ],
      { env: { ...process.env, ETCDCTL_API: "3" } },
    ).then((r) => r.stdout),
  )
