/**
 * The backup cycle's fixture, shared by the backup pod, verify and restore benchmarks: a TLS etcd
 * holding a realistic OpenShift state (the demo's fixtures, the operator CRs among them) grown to
 * `--cycle-mib`, a simulated API server serving the same state, and the backup pod rendered for
 * its revisions, run as the demo's local kubelet runs it: each init container's command as a
 * local process of the built bundle, paths under mount points mapped onto directories. One
 * backup made by the pod (untimed; it also brings the database into the page cache) is what
 * verify and restore work on.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { manifestFileName } from "../../src/domain/archive-names.ts"
import { renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { etcdCaConfigMapName, etcdClientSecretName } from "../../src/domain/backup-pod-names.ts"
import { seedEtcd } from "../../src/programs/demo/etcd-seed.ts"
import { containerEnv, decodeRunnablePod, localArgs, materializeVolumes, type RunnablePod } from "../../src/programs/demo/local-kubelet.ts"
import { configMapType, secretType } from "../../src/services/kube/resources.ts"
import { openShiftFixture } from "../../src/simulation/openshift-fixtures.ts"
import { startSimulatedApiServer, writeKubeconfig } from "../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../src/simulation/simulated-kube.ts"
import type { BenchContext } from "./benchmark.ts"
import { type BenchEtcd, type DatabaseSize, startBenchEtcd } from "./etcd-database.ts"
import { MiB } from "./report.ts"
import { type ProcessRun, runChecked, shell } from "./process-run.ts"

export interface Cycle {
  readonly etcd: BenchEtcd
  readonly database: DatabaseSize
  readonly pod: RunnablePod
  /** Runs the pod's init containers into `backupDir` (created), one after another. */
  readonly runPod: (backupDir: string) => Promise<ReadonlyArray<{ readonly container: string; readonly run: ProcessRun }>>
  /** The backup the pod made first, and that run's containers. */
  readonly backupDir: string
  readonly firstRun: ReadonlyArray<{ readonly container: string; readonly run: ProcessRun }>
  readonly snapshot: string
  readonly tarball: string
  /** The static-pod resources the tarball holds, unpacked: what a host's /etc/kubernetes has. */
  readonly resourcesTree: string
}

const ns = "openshift-etcd"
const made = new WeakMap<object, Promise<Cycle>>()

/** The run's cycle fixture, made on first use. */
export const cycleFixture = (context: BenchContext): Promise<Cycle> => {
  const existing = made.get(context.scope)
  if (existing !== undefined) return existing
  const fresh = makeCycle(context)
  made.set(context.scope, fresh)
  return fresh
}

const b64 = (text: string) => Buffer.from(text).toString("base64")

const makeCycle = async (context: BenchContext): Promise<Cycle> => {
  const dir = join(context.shared, "cycle")
  mkdirSync(dir, { recursive: true })
  const etcd = await startBenchEtcd(context.scope, dir, "bench-cycle")
  const cluster = makeSimulatedCluster({ seed: 7 })
  const fixture = openShiftFixture({ seed: 7 })
  Result.getOrThrow(fixture.load(cluster))
  // The pod's etcd-client Secret and CA ConfigMap hold this member's client certificate and CA.
  const replace = (type: typeof secretType, name: string, data: Record<string, string>) =>
    Result.getOrThrow(cluster.replace(type, { ...cluster.get(type, ns, name)!, data }))
  replace(secretType, etcdClientSecretName, { "tls.crt": b64(readFileSync(etcd.tls.cert, "utf8")), "tls.key": b64(readFileSync(etcd.tls.key, "utf8")) })
  replace(configMapType, etcdCaConfigMapName, { "ca-bundle.crt": readFileSync(etcd.tls.cacert, "utf8") })
  const server = await startSimulatedApiServer(cluster)
  await context.scope.use(Effect.addFinalizer(() => Effect.promise(() => server.close())))
  const kubeconfig = join(dir, "kubeconfig")
  await context.scope.use(writeKubeconfig(kubeconfig, server))
  await context.scope.use(seedEtcd(etcd.client, fixture, 0))
  const database = await etcd.growTo(context.options.cycleMiB * MiB, context.log)

  const pod = Result.getOrThrow(decodeRunnablePod(renderBackupPodYaml(fixture.revisions)))
  const volumeDirs = await context.scope.use(materializeVolumes(pod, join(dir, "pod")).pipe(Effect.provide(SimulatedKube.inMemory(cluster))))
  const runPod = async (backupDir: string) => {
    mkdirSync(backupDir, { recursive: true })
    const dirs = new Map([...volumeDirs, ["backup", backupDir]])
    const runs: Array<{ container: string; run: ProcessRun }> = []
    for (const container of pod.spec.initContainers) {
      const args = localArgs(container, dirs, { "--etcd-endpoints": etcd.clientUrl })
      const env = { ...process.env, ...containerEnv(container, dirs), KUBECONFIG: kubeconfig }
      runs.push({ container: container.name, run: await runChecked(container.name, process.execPath, [context.cli, "--log-format", "json", ...args], { env }) })
    }
    return runs
  }
  const backupDir = join(dir, "backup")
  context.log(`the backup pod's first run (untimed) into ${backupDir}`)
  const firstRun = await runPod(backupDir)
  const manifest = JSON.parse(readFileSync(join(backupDir, manifestFileName), "utf8")) as { files: { snapshot: { name: string }; resources: { name: string } } }
  const snapshot = join(backupDir, manifest.files.snapshot.name)
  const tarball = join(backupDir, manifest.files.resources.name)
  const resourcesTree = join(dir, "host-resources")
  rmSync(resourcesTree, { recursive: true, force: true })
  mkdirSync(resourcesTree)
  await runChecked("tar xzf of the backup's resources", ...shell('tar xzf "$1" -C "$2"', tarball, resourcesTree))
  return { etcd, database, pod, runPod, backupDir, firstRun, snapshot, tarball, resourcesTree }
}
