/**
 * Shared by the backup-resources and backup-create tests: an OpenShift fixture in a simulated
 * cluster, the files the installer would write for a revision (derived here from the fixture's
 * wire objects, independently of the code under test), directory walks, GNU tar, log capture.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Logger, Result } from "effect"
import { afterAll, beforeAll } from "vitest"
import { defaultOperands, operandList, type OperandName } from "../../../src/domain/operands.ts"
import type { RevisionSet } from "../../../src/domain/revisions.ts"
import { backupResources } from "../../../src/programs/backup/backup-resources.ts"
import { writeSnapshotRecord, type SnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { withTrailer } from "../../../src/services/etcd/snapshot-trailer.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { openShiftFixture, type OpenShiftFixture, type OpenShiftFixtureOptions } from "../../../src/simulation/openshift-fixtures.ts"
import { kubeconfigYaml, startSimulatedApiServer, type SimulatedApiServer } from "../../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster, type Obj, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { tempDir } from "../../support/temp-dir.ts"

export const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }

export interface Loaded {
  readonly cluster: SimulatedCluster
  readonly fixture: OpenShiftFixture
}

/** A simulated cluster holding the fixture (revisions above unless overridden). */
export const loadedCluster = (options: OpenShiftFixtureOptions = {}): Loaded => {
  const cluster = makeSimulatedCluster({ now: () => new Date("2024-06-25T19:00:35Z") })
  const fixture = openShiftFixture({ revisions, ...options })
  const loaded = fixture.load(cluster)
  if (Result.isFailure(loaded)) throw new Error(`fixture did not load: ${loaded.failure.message}`)
  return { cluster, fixture }
}

export interface ExpectedFile {
  readonly bytes: Buffer
  readonly mode: number
}

const meta = (obj: Obj) => obj.metadata as { readonly name: string }
const strings = (value: unknown) => (value ?? {}) as Readonly<Record<string, string>>

/**
 * The installer's files for one revision, from the fixture's objects as the API serves them:
 * `configmaps|secrets/<name without -N>/<key>` (Secret data and binaryData base64-decoded), and
 * `<pod>.yaml` from the pod ConfigMap's `pod.yaml`; 0600, `.sh` keys 0755 (ConfigMap) or 0700 (Secret).
 */
export const installerFiles = (fixture: OpenShiftFixture, operand: OperandName, revision: number): Map<string, ExpectedFile> => {
  const o = defaultOperands[operand]
  const dir = `static-pod-resources/${o.podConfigMap}-${revision}`
  const objects = fixture.revisionObjects(operand, revision)
  const files = new Map<string, ExpectedFile>()
  const strip = (name: string) => name.slice(0, -`-${revision}`.length)
  for (const cm of objects.configMaps) {
    const name = meta(cm).name
    if (name.startsWith("revision-status-")) continue
    for (const [key, text] of Object.entries(strings(cm.data))) {
      files.set(`${dir}/configmaps/${strip(name)}/${key}`, { bytes: Buffer.from(text, "utf8"), mode: key.endsWith(".sh") ? 0o755 : 0o600 })
    }
    for (const [key, b64] of Object.entries(strings(cm.binaryData))) {
      files.set(`${dir}/configmaps/${strip(name)}/${key}`, { bytes: Buffer.from(b64, "base64"), mode: key.endsWith(".sh") ? 0o755 : 0o600 })
    }
    if (strip(name) === o.podConfigMap) {
      files.set(`${dir}/${o.podConfigMap}.yaml`, { bytes: Buffer.from(strings(cm.data)["pod.yaml"]!, "utf8"), mode: 0o600 })
    }
  }
  for (const secret of objects.secrets) {
    for (const [key, b64] of Object.entries(strings(secret.data))) {
      files.set(`${dir}/secrets/${strip(meta(secret).name)}/${key}`, { bytes: Buffer.from(b64, "base64"), mode: key.endsWith(".sh") ? 0o700 : 0o600 })
    }
  }
  return files
}

/** The installer's files of all four operands at `set`. */
export const allInstallerFiles = (fixture: OpenShiftFixture, set: RevisionSet = revisions): Map<string, ExpectedFile> =>
  new Map(operandList().flatMap((o) => [...installerFiles(fixture, o.name, set[o.name])]))

/** The optional resources absent from a revision, as the record and manifest list them. */
export const absentOptionals = (fixture: OpenShiftFixture, operand: OperandName, revision: number) => {
  const o = defaultOperands[operand]
  return [
    ...o.configMaps.filter((r) => !fixture.present(operand, r.name, r.optional, revision)).map((r) => ({ operand, kind: "configmap" as const, name: r.name })),
    ...o.secrets.filter((r) => !fixture.present(operand, r.name, r.optional, revision)).map((r) => ({ operand, kind: "secret" as const, name: r.name })),
  ]
}

export interface TreeEntry {
  readonly kind: "file" | "directory"
  readonly mode: number
  readonly bytes?: Buffer
}

/** Every file and directory under `root` (paths relative to it), with permission bits and content. */
export const walk = (root: string): Map<string, TreeEntry> => {
  const out = new Map<string, TreeEntry>()
  const visit = (relative: string) => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative === "" ? name : `${relative}/${name}`
      const stat = statSync(join(root, path))
      if (stat.isDirectory()) {
        out.set(path, { kind: "directory", mode: stat.mode & 0o7777 })
        visit(path)
      } else {
        out.set(path, { kind: "file", mode: stat.mode & 0o7777, bytes: readFileSync(join(root, path)) })
      }
    }
  }
  visit("")
  return out
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** `tar -tzvf` (numeric owners, UTC) as its columns, in archive order. */
export const gnuTarListing = (
  archive: string,
): ReadonlyArray<{ readonly perms: string; readonly owner: string; readonly size: number; readonly time: string; readonly path: string }> =>
  execFileSync("tar", ["--numeric-owner", "-tzvf", archive], { encoding: "utf8", env: { ...process.env, LC_ALL: "C", TZ: "UTC" } })
    .trim()
    .split("\n")
    .map((line) => {
      const [perms, owner, size, date, time, path] = line.split(/\s+/)
      return { perms: perms!, owner: owner!, size: Number(size), time: `${date} ${time}`, path: path! }
    })

/** `-rw-------` for 0o600 and a regular file; `drwx------` for 0o700 and a directory. */
export const permString = (kind: "file" | "directory", mode: number): string =>
  (kind === "directory" ? "d" : "-") +
  [6, 3, 0]
    .map((shift) => {
      const bits = (mode >> shift) & 7
      return `${bits & 4 ? "r" : "-"}${bits & 2 ? "w" : "-"}${bits & 1 ? "x" : "-"}`
    })
    .join("")

/** Extracts with GNU tar into a fresh directory under `into`; returns it. */
export const gnuTarExtract = (archive: string, into: string): string => {
  const target = mkdtempSync(join(into, "extract-"))
  execFileSync("tar", ["-xzf", archive, "-C", target, "--no-same-owner"])
  return target
}

/** A logger Layer that appends every line (level, message, cause) to `lines`. */
export const captureLogs = (lines: Array<string>) => Logger.layer([Logger.make((options) => void lines.push(String(Logger.formatLogFmt.log(options))))])

/** Runs backup-resources for every operand against the cluster. */
export const stageAll = (backupDir: string, cluster: SimulatedCluster, set: RevisionSet = revisions) =>
  Effect.forEach(operandList(), (o) => backupResources({ backupDir, operand: o.name, revision: set[o.name] }), { discard: true }).pipe(
    Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), NodeServices.layer)),
  )

export const timestamp = "2026-01-02_030405"

/** A small, valid etcd snapshot file of `timestamp` (database bytes plus etcd's sha256 trailer) and its record. */
export const writeFakeSnapshot = (
  backupDir: string,
  operatorRevisions: SnapshotRecord["operatorRevisions"],
  pairing: Pick<SnapshotRecord, "pairing" | "pairingDetail"> = { pairing: "verified", pairingDetail: "operator revisions unchanged during the snapshot" },
  dbBytes = 64 * 1024,
) =>
  Effect.gen(function* () {
    const db = Buffer.alloc(dbBytes)
    for (let i = 0; i < db.length; i++) db[i] = (i * 31 + 7) & 0xff
    const file = withTrailer(db)
    const snapshotFile = `snapshot_${timestamp}.db`
    mkdirSync(backupDir, { recursive: true, mode: 0o700 })
    writeFileSync(join(backupDir, snapshotFile), file, { mode: 0o600 })
    const record: SnapshotRecord = {
      timestamp,
      snapshotFile,
      size: file.length,
      sha256: sha256(db),
      etcdRevision: 4242,
      etcdRevisionUpperBound: 4242,
      raftIndex: 5151,
      memberDbSize: db.length,
      memberId: "8e9e05c52164694d",
      etcdVersion: "3.5.16",
      endpoint: "https://etcd.openshift-etcd.svc:2379",
      operatorRevisions,
      operatorRevisionReasons: {},
      ...pairing,
    }
    yield* writeSnapshotRecord(backupDir, record).pipe(Effect.provide(NodeServices.layer))
    return { record, bytes: Buffer.from(file) }
  })

export interface ServedCluster {
  /** The suite's temporary directory (the kubeconfig is in it). */
  readonly dir: string
  readonly loaded: Loaded
  readonly server: SimulatedApiServer
  readonly kubeconfig: string
}

/**
 * For a test file, declared at its top level: a temporary directory, the fixture's simulated
 * cluster, and a stub API server over it with a kubeconfig in that directory, started before the
 * file's tests and closed (the directory removed) after them.
 */
export const servedClusterForSuite = (prefix: string): ServedCluster => {
  const dir = tempDir(prefix)
  const loaded = loadedCluster()
  let served: { readonly server: SimulatedApiServer; readonly kubeconfig: string } | undefined
  beforeAll(async () => {
    served = await serveWithKubeconfig(loaded.cluster, dir)
  })
  afterAll(() => served?.server.close())
  const started = () => {
    if (served === undefined) throw new Error("the stub API server starts before the suite's tests: use it in a test")
    return served
  }
  return {
    dir,
    loaded,
    get server() {
      return started().server
    },
    get kubeconfig() {
      return started().kubeconfig
    },
  }
}

/** The backup pod's `backup-resources` command line for `operand` at its revision in `revisions`. */
export const backupResourcesArgs = (backupDir: string, kubeconfig: string, operand: OperandName): Array<string> => [
  "backup-resources",
  "--backup-dir",
  backupDir,
  "--kubeconfig",
  kubeconfig,
  "--operand",
  operand,
  "--revision",
  String(revisions[operand]),
]

/** A stub API server serving `cluster`, and a kubeconfig for it written (0600) into `dir`. */
export const serveWithKubeconfig = async (
  cluster: SimulatedCluster,
  dir: string,
): Promise<{ readonly server: SimulatedApiServer; readonly kubeconfig: string }> => {
  const server = await startSimulatedApiServer(cluster)
  const kubeconfig = join(dir, "kubeconfig")
  writeFileSync(kubeconfig, kubeconfigYaml({ url: server.url, token: server.token }), { mode: 0o600 })
  return { server, kubeconfig }
}
