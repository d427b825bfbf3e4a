/**
 * End to end with real etcd 3.5: an etcd over TLS holding thousands of keys and the four operator
 * CRs, and a simulated cluster holding the OpenShift fixtures at the same revisions; the backup
 * pod's programs (backup-init, backup-resources for each operand, backup-create) make a backup;
 * `verify --test-restore` passes; `restore --root` rebuilds a control-plane host under a
 * temporary root; an etcd started from the restored data directory serves every key above the
 * revision bump (6000, from the host's revision.json), and the static pod resources under the
 * root's /etc/kubernetes are byte for byte the fixture's.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { operandList } from "../../src/domain/operands.ts"
import type { BackupManifest } from "../../src/domain/backup-manifest.ts"
import { operatorCrKey } from "../../src/programs/backup/etcd-operator-revisions.ts"
import { verifyBackup } from "../../src/programs/verify/verify.ts"
import { renderVerifyReport } from "../../src/programs/verify/verify-report.ts"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { Etcdutl } from "../../src/services/etcdutl.ts"
import { startLocalEtcd } from "../../src/services/local-etcd.ts"
import { Tarball } from "../../src/services/tarball/tarball.ts"
import { allInstallerFiles, loadedCluster, walk, type Loaded } from "../programs/backup/backup-resources-harness.ts"
import { hostFiles, makeBackup, makeHostTree, startSharedEtcd, type SharedEtcd, restoreOnHost } from "../support/bad-backups.ts"
import { etcd3Client, operatorCrJson, putOperatorCrs, seedKeyName, seedKeys, valueFor } from "../support/etcd-fixture.ts"

const keyCount = 3000
const valueSize = 128
const crRevisions = { etcd: 4, "kube-apiserver": 9, "kube-controller-manager": 6, "kube-scheduler": 5 }
const restoreId = "6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

let etcd: SharedEtcd
let loaded: Loaded
let backup: string
let manifest: BackupManifest

beforeAll(async () => {
  etcd = await startSharedEtcd("e2e", 0)
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const client = yield* etcd3Client(etcd.member.connection)
        yield* seedKeys(client, keyCount, valueSize)
        yield* putOperatorCrs(client, crRevisions)
      }),
    ),
  )
  loaded = loadedCluster({ revisions: crRevisions })
  backup = join(etcd.workDir, "backup")
  manifest = await Effect.runPromise(makeBackup(backup, etcd.member.connection, loaded, crRevisions))
})

afterAll(async () => {
  await etcd?.close()
})

describe("backup, verify --test-restore, restore --root, serve", () => {
  it("restores what the backup pod saved: every key above the bump, and the fixture's files byte for byte", async () => {
    expect(manifest.verdict).toBe("consistent")
    expect(manifest.revisions.inSnapshot).toEqual(crRevisions)

    const report = await Effect.runPromise(
      verifyBackup({ backupDir: backup, testRestore: true }).pipe(Effect.provide(Layer.mergeAll(Etcdutl.live(), NodeServices.layer))),
    )
    // Without --trusted-key the backup is unauthenticated: a warning, not a failure.
    expect(
      report.checks.filter((c) => c.verdict !== "PASS").map((c) => [c.id, c.verdict]),
      renderVerifyReport(report),
    ).toEqual([["manifest-signature", "WARN"]])
    // 21, and the bundle's proof: versions, bundle-decryption, certificates, test-restore-key-counts, test-restore-decryption.
    expect(report.checks).toHaveLength(26)
    expect(report.checks.filter((c) => ["versions", "bundle-decryption", "test-restore-key-counts"].includes(c.id))).toHaveLength(3)
    expect(report.checks.find((c) => c.id === "test-restore-operator-revisions")?.found).toBe(
      "etcd=4,kube-apiserver=9,kube-controller-manager=6,kube-scheduler=5",
    )

    const host = makeHostTree(etcd.workDir, backup)
    const out: Array<string> = []
    const exit = await Effect.runPromise(
      Effect.exit(
        restoreOnHost(host, out, { restoreId }).pipe(Effect.provide(Layer.mergeAll(Etcdutl.live(), Tarball.live, DiskSpace.live, NodeServices.layer))),
      ),
    )
    if (Exit.isFailure(exit)) throw new Error(`restore failed: ${Cause.pretty(exit.cause)}\n${out.join("")}`)
    expect(exit.value.ran).toHaveLength(13)
    expect(exit.value.plan.bump).toEqual({ _tag: "FromRaftIndex", amount: 6000n, maxRaftIndex: 5000n })

    // The static pod resources are the fixture's revision files, byte for byte and mode for mode.
    const expected = allInstallerFiles(loaded.fixture, crRevisions)
    const tree = walk(join(host.root, "etc/kubernetes"))
    const units = operandList().map((o) => `static-pod-resources/${o.podConfigMap}-${crRevisions[o.name]}/`)
    const restoredFiles = [...tree].filter(([path, e]) => e.kind === "file" && units.some((u) => path.startsWith(u)))
    expect(restoredFiles.map(([path]) => path).sort()).toEqual([...expected.keys()].sort())
    for (const [path, entry] of restoredFiles) {
      expect(entry.bytes!.equals(expected.get(path)!.bytes), path).toBe(true)
      expect(entry.mode, path).toBe(expected.get(path)!.mode)
    }
    // The host's other revision directory and certificates are untouched; etcd's manifest is the backup's.
    expect(readFileSync(join(host.root, hostFiles.oldRevision), "utf8")).toBe("kind: Pod # installed before the disaster\n")
    expect(readFileSync(join(host.root, hostFiles.runningManifest)).equals(expected.get("static-pod-resources/etcd-pod-4/etcd-pod.yaml")!.bytes)).toBe(true)
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual(["member"])

    // An etcd started from the restored data directory serves every key, above the bump, history compacted.
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const member = yield* startLocalEtcd({ dataDir: join(host.root, "var/lib/etcd"), name: "master-0", unsafeNoFsync: true })
          const client = yield* etcd3Client(member.connection)
          const checked = yield* Effect.promise(async () => {
            const all = await client.getAll().prefix("/registry/test/").exec()
            const crs = await Promise.all(operandList().map((o) => client.get(operatorCrKey(o)).string()))
            const status = await client.maintenance.status()
            const old = await client
              .get(seedKeyName(0))
              .revision(manifest.etcd.revision)
              .string()
              .then(
                () => "readable",
                (e: unknown) => String(e),
              )
            return { all, crs, revision: Number(status.header.revision), old }
          })
          expect(checked.all.kvs).toHaveLength(keyCount)
          checked.all.kvs.forEach((kv, i) => {
            expect(kv.key.toString()).toBe(seedKeyName(i))
            expect(kv.value.equals(valueFor(i, valueSize)), `value of ${seedKeyName(i)}`).toBe(true)
          })
          expect(checked.crs).toEqual(operandList().map((o) => operatorCrJson(o, crRevisions[o.name])))
          expect(checked.revision).toBeGreaterThanOrEqual(6000)
          expect(checked.revision).toBeGreaterThanOrEqual(manifest.etcd.revision + 6000)
          expect(checked.old).toMatch(/compacted/)
        }),
      ).pipe(Effect.provide(NodeServices.layer)),
    )
  })
})
