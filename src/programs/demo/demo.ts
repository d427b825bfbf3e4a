/**
 * `cluster-backup demo`: the whole backup cycle on one machine, for real, with no OpenShift:
 * a TLS etcd 3.5 and a simulated cluster holding a realistic OpenShift state; the operator
 * renders the backup pod; that pod's init containers run from the rendered YAML as local
 * processes; `verify --test-restore` proves the backup; a new revision makes the operator
 * render again. Then the automated loop: a BackupPolicy makes the operator create the backup pods
 * itself, into the local Swift, with retention, status and metrics. Everything it starts lives in
 * scopes, so it is stopped and removed at the end, on failure and on Ctrl-C alike (only the backup
 * directory stays, with `--keep`).
 */
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Clock, Console, Effect, Fiber, FileSystem, Result } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { backupStatusConfigMapName, decodeBackupStatus } from "../../domain/backup-status.ts"
import { operandList } from "../../domain/operands.ts"
import { revisionsOfBackupPod } from "../../domain/pod-spec.ts"
import { diffRevisions, formatRevisionChange, formatRevisionSet, type RevisionSet } from "../../domain/revisions.ts"
import { parseYamlText } from "../../domain/yaml-text.ts"
import { ControllerMetrics } from "../../services/controller-metrics.ts"
import { describeFileSystemFailure } from "../../services/file-system-error.ts"
import * as SimulatedKube from "../../simulation/simulated-kube.ts"
import { openShiftFixture } from "../../simulation/openshift-fixtures.ts"
import { configMapType, podType } from "../../services/kube/resources.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../simulation/simulated-cluster.ts"
import { heldPodStatus } from "../../simulation/simulated-kubelet.ts"
import { localExecHandler } from "../../simulation/simulated-exec.ts"
import { backupPodPaths } from "../../domain/backup-pod-names.ts"
import { startLocalEtcd } from "../../services/local-etcd.ts"
import { generateTlsBundle } from "../../services/tls-certs.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"
import { ownedFreshDir } from "../../services/owned-work-dir.ts"
import { makeDirectories } from "../../services/atomic-files.ts"
import { backupPodConfigMapName, backupPodYamlKey } from "../operator/reconcile.ts"
import { demoNamespace as ns, startDemoCluster, startDemoOperator } from "./demo-cluster.ts"
import { formatSummary, stageHeading, type DemoSummary } from "./demo-report.ts"
import { awaitValue, DemoFailed } from "./demo-wait.ts"
import { newRevision } from "./etcd-seed.ts"
import { decodeRunnablePod, runLocalContainer, runLocalPod } from "./local-kubelet.ts"
import { childLogLine } from "./child-log-line.ts"
import { demoPolicy, runPolicyStages } from "./demo-policy-stages.ts"
import { runRecoveryStage } from "./demo-recovery-stage.ts"
import { startLocalSwift, stopLocalSwift, swiftScriptFor } from "./local-swift.ts"

export interface DemoOptions {
  /** Where everything goes (created if missing); default a new temporary directory. */
  readonly workDir: string | undefined
  /** Keep the backup directory at the end. */
  readonly keep: boolean
  readonly seed: number
  /** Extra keys of ~1 KiB in etcd, so the snapshot has some size. */
  readonly bulkKeys: number
  /** The `cluster-backup` entry point the pod's containers run as (`bin/cluster-backup.js`). */
  readonly entry: string
}

export { DemoFailed } from "./demo-wait.ts"

const stages = 13

const renderedRevisions = (cluster: SimulatedCluster): { yaml: string; revisions: RevisionSet } | undefined => {
  const yaml = (cluster.get(configMapType, ns, backupPodConfigMapName)?.data as Record<string, string> | undefined)?.[backupPodYamlKey]
  if (yaml === undefined) return undefined
  const parsed = parseYamlText(yaml)
  const revisions = Result.isSuccess(parsed) ? revisionsOfBackupPod(parsed.success) : undefined
  return revisions === undefined ? undefined : { yaml, revisions }
}

const backupStatusOf = (cluster: SimulatedCluster) => {
  const data = cluster.get(configMapType, ns, backupStatusConfigMapName)?.data
  if (data === undefined) return undefined
  const status = decodeBackupStatus(data)
  return Result.isSuccess(status) ? status.success : undefined
}

export const runDemo = Effect.fn("demo")(function* (options: DemoOptions) {
  const fs = yield* FileSystem.FileSystem
  const timings: Array<{ stage: string; ms: number }> = []
  let index = 0
  const stage = <A, E, R>(title: string, effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      index += 1
      yield* Console.log(stageHeading(index, stages, title))
      const started = yield* Clock.currentTimeMillis
      const result = yield* effect
      timings.push({ stage: title, ms: (yield* Clock.currentTimeMillis) - started })
      return result
    })
  const say = (text: string) => Console.log(`    ${text}`)

  // The working directory; removed at the end except, with --keep, the backup.
  const workDirFailed = (operation: string, path: string) => (e: unknown) =>
    new DemoFailed({ stage: "start", message: `--work-dir: ${describeFileSystemFailure(operation, path, e).message}` })
  // A killed demo's temporary directory (its lock stale: etcd's data, the certificates' keys) is removed by the next.
  const work =
    options.workDir ??
    (yield* ownedFreshDir(tmpdir(), "cluster-backup-demo-", "demo", "work directory").pipe(
      Effect.mapError((e) => new DemoFailed({ stage: "start", message: `a temporary work directory: ${e.message}` })),
    ))
  // The backup, as backup-pod --copy-to copies it off the pod; the pod's own volume is a directory beside it.
  const backupDir = join(work, "backup")
  const podVolumeDir = join(work, "pod-volume")
  // Level by level: Node's recursive mkdir spins forever under /proc.
  yield* makeDirectories(work).pipe(Effect.mapError((e) => new DemoFailed({ stage: "start", message: `--work-dir: ${e.message}` })))
  const existing = yield* fs.readDirectory(work).pipe(Effect.mapError(workDirFailed("list", work)))
  if (existing.length > 0) return yield* new DemoFailed({ stage: "start", message: `--work-dir ${work} is not empty: give a new or empty directory` })
  const removeTree = (path: string) => fs.remove(path, { recursive: true, force: true }).pipe(Effect.ignore)
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      for (const name of yield* fs.readDirectory(work).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))) {
        if (options.keep && name === "backup") continue
        yield* removeTree(join(work, name))
      }
      if (!options.keep) yield* removeTree(work)
    }),
  )
  yield* Console.log(`cluster-backup demo: the whole backup cycle on this machine (work directory ${work})`)

  // The local Swift starts now, in the background (it is slow to start), and is joined by the policy stages.
  const swiftTool = swiftScriptFor(options.entry)
  if (!swiftTool.installed)
    return yield* new DemoFailed({ stage: "start", message: "the local Swift (S3 store) is not installed in .tools/swift: run scripts/setup.sh" })
  const swiftDir = join(work, "swift")
  const swiftStart = yield* Effect.forkScoped(startLocalSwift(swiftTool.script, swiftDir))
  // A start still under way is stopped (and waited for) first: stopping before it ended would miss what it starts later.
  yield* Effect.addFinalizer(() => Fiber.interrupt(swiftStart).pipe(Effect.andThen(stopLocalSwift(swiftTool.script, swiftDir)), Effect.ignore))

  // 1. Certificates for etcd's serving side and for the backup pod's etcd-client Secret.
  const tls = yield* stage("certificates", generateTlsBundle(join(work, "tls"), { serverHosts: ["127.0.0.1", "localhost", "etcd.openshift-etcd.svc"] }))
  yield* say(`a CA, etcd's serving certificate and a client certificate in ${tls.dir}`)

  // 2. etcd.
  const etcd = yield* stage("etcd 3.5 with TLS", startLocalEtcd({ dataDir: join(work, "etcd"), name: "demo", tls }))
  yield* say(`etcd serves ${etcd.clientUrl} and requires a client certificate (pid ${etcd.pid})`)

  // 3. The cluster: a realistic OpenShift state in a simulated API server, mirrored into etcd.
  const cluster = makeSimulatedCluster({ seed: options.seed })
  const fixture = openShiftFixture({ seed: options.seed })
  const { kubeconfig, client } = yield* stage(
    "OpenShift state: simulated API server and etcd contents",
    Effect.gen(function* () {
      const kubeconfig = join(work, "kubeconfig")
      const { server, client, keys } = yield* startDemoCluster({ cluster, fixture, tls, etcd, kubeconfig, bulkKeys: options.bulkKeys })
      yield* say(
        `API server ${server.url} (kubeconfig ${kubeconfig}) with ${fixture.state.configMaps.length} ConfigMaps and ${fixture.state.secrets.length} Secrets`,
      )
      yield* say(`etcd holds ${keys} keys, the four operator CRs among them`)
      for (const o of operandList()) yield* say(`${o.name.padEnd(24)} latestAvailableRevision ${fixture.revisions[o.name]}`)
      return { kubeconfig, client }
    }),
  )

  // 4. The operator renders the backup pod.
  const kubeLayer = SimulatedKube.inMemory(cluster)
  const metrics = ControllerMetrics.make(ns)
  const first = yield* stage(
    "operator: render the backup pod",
    Effect.gen(function* () {
      yield* startDemoOperator(kubeLayer, metrics)
      yield* say("BackupConfigController started (leader election, watches; renders once revisions are stable for 2s)")
      const rendered = yield* awaitValue("operator", `ConfigMap ${backupPodConfigMapName}`, () => renderedRevisions(cluster))
      yield* say(`ConfigMap ${backupPodConfigMapName} rendered for ${formatRevisionSet(rendered.revisions)}`)
      yield* say(`on a cluster: oc get cm ${backupPodConfigMapName} -n ${ns} -o "jsonpath={.data['backup-pod\\.yaml']}" | oc create -f -`)
      return rendered
    }),
  )

  // 5. The backup pod, from the rendered YAML, created and followed by backup-pod, which copies its backup off it.
  const afterBackup = yield* stage(
    "backup pod: init containers as local processes",
    Effect.gen(function* () {
      const pod = yield* Effect.fromResult(decodeRunnablePod(first.yaml))
      const followArgs = ["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "200ms", "--timeout", "300s", "--copy-to", backupDir]
      yield* say(
        `cluster-backup ${followArgs.join(" ").replaceAll(work, "<work>")} (creates the pod from ${backupPodConfigMapName}, follows it, and copies its backup off it):`,
      )
      // The node's side of pods/exec: a command in the hold container runs here, its /backup the pod's volume.
      cluster.setExecHandler(localExecHandler(() => [{ containerPath: backupPodPaths.backupDir, hostPath: podVolumeDir }]))
      const followed: Array<string> = []
      // In the demo's scope, not the stage's fiber: on Ctrl-C the scope interrupts it, and waits for backup-pod to have
      // exited (it holds <work>/backup.lock), before the work directory is removed.
      const follower = yield* Effect.forkScoped(
        Effect.exit(
          runLocalContainer(
            "backup-pod",
            options.entry,
            ["--log-format", "json", ...followArgs],
            {},
            (line) => followed.push(childLogLine(line)),
            (line) => followed.push(line),
          ),
        ),
      )
      const podName = yield* awaitValue(
        "backup pod",
        "the pod backup-pod creates",
        () => (cluster.list(podType, ns)[0]?.metadata as { name?: string } | undefined)?.name,
      )
      yield* say(`pod ${podName} created from the YAML; volumes: ${pod.spec.volumes.map((v) => v.name).join(", ")}`)
      yield* makeDirectories(podVolumeDir).pipe(Effect.orDie)
      const run = yield* runLocalPod(pod, {
        dir: join(work, "pod"),
        entry: options.entry,
        // The backup volume, on the node: backup-pod copies the backup from there into the demo's backup directory.
        volumeDirs: new Map([["backup", podVolumeDir]]),
        replace: { "--etcd-endpoints": etcd.clientUrl },
        env: { KUBECONFIG: kubeconfig },
        onStart: (container, args) => say(`${container}: cluster-backup ${args.join(" ").replaceAll(work, "<work>")}`),
        onLines: (container, lines) => Effect.forEach(lines, (line) => Console.log(`    ${container} | ${childLogLine(line)}`), { discard: true }),
      }).pipe(Effect.provide(kubeLayer))
      // Done, the pod holds the backup for oc cp (here it is on this disk already); failed, it ends.
      const held = cluster.get(podType, ns, podName)
      if (run.failure === undefined && held !== undefined)
        Result.getOrThrow(cluster.updateStatus(podType, ns, podName, heldPodStatus(held, run.outcome, new Date().toISOString())))
      else cluster.terminatePod(ns, podName, run.outcome)
      const followedExit = yield* Fiber.join(follower)
      yield* Effect.forEach(followed, (line) => say(`backup-pod | ${line}`), { discard: true })
      if (run.failure !== undefined) return yield* run.failure
      if (followedExit._tag === "Failure")
        return yield* new DemoFailed({ stage: "backup pod", message: `backup-pod did not see the backup held: ${followed.at(-1) ?? ""}` })
      const status = yield* awaitValue("backup pod", "backup-status Complete", () => {
        const s = backupStatusOf(cluster)
        return s?.status === "Complete" ? s : undefined
      })
      yield* say(`backup-status: ${status.status} (${status.message ?? ""})`)
      return status
    }),
  )

  // 6. Verify, with a test restore into a throwaway etcd.
  const verified = yield* stage(
    "verify --test-restore",
    Effect.gen(function* () {
      const lines: Array<string> = []
      const ran = yield* Effect.exit(
        runLocalContainer("verify", options.entry, ["verify", backupDir, "--test-restore"], {}, (line) => lines.push(`    ${line}`), "lines"),
      )
      for (const line of lines) yield* Console.log(line)
      yield* say(ran._tag === "Success" ? "verify: every check passed" : "verify: FAILED")
      return ran._tag === "Success"
    }),
  )

  // 7. A new revision: the operator renders a new pod spec.
  const second = yield* stage(
    "a new kube-apiserver revision",
    Effect.gen(function* () {
      const bumped = yield* newRevision(cluster, fixture, client, "kube-apiserver")
      yield* say(`the revision controller made kube-apiserver revision ${bumped}`)
      const rendered = yield* awaitValue("new revision", `a render naming kube-apiserver ${bumped}`, () => {
        const r = renderedRevisions(cluster)
        return r !== undefined && r.revisions["kube-apiserver"] === bumped ? r : undefined
      })
      const change = diffRevisions(rendered.revisions, first.revisions).map(formatRevisionChange).join(", ")
      yield* say(`ConfigMap ${backupPodConfigMapName} re-rendered: ${change}`)
      return { revisions: rendered.revisions, change }
    }),
  )

  // 8-11. The automated loop: a BackupPolicy, the operator's own pods, Swift, retention, status and metrics.
  const policy = yield* runPolicyStages({
    stage,
    say,
    namespace: ns,
    work,
    entry: options.entry,
    kubeconfig,
    etcdUrl: etcd.clientUrl,
    etcd: client,
    cluster,
    fixture,
    kube: kubeLayer,
    metrics,
    swiftStart,
  })

  // 12. After a disaster: the first backup restored on a host's tree, then every operator's new revision.
  const manifest = yield* readBackupManifest(join(backupDir, manifestFileName))
  const recovery = yield* runRecoveryStage({
    stage,
    say,
    work,
    backupDir,
    manifest,
    entry: options.entry,
    kubeconfig,
    cluster,
    fixture,
    policyName: demoPolicy.name,
  })

  // Summary.
  const names = (yield* fs.readDirectory(backupDir).pipe(Effect.orDie)).filter((n) => !n.startsWith(".")).sort()
  const files = yield* Effect.forEach(names, (name) =>
    Effect.map(fs.stat(join(backupDir, name)).pipe(Effect.orDie), (info) => ({ name, bytes: Number(info.size) })),
  )
  const summary: DemoSummary = {
    backupDir,
    kept: options.keep,
    files,
    revisions: manifest.revisions.requested,
    etcdRevision: manifest.etcd.revision,
    pairing: { verdict: manifest.verdict, reasons: manifest.reasons },
    openshiftVersion: manifest.cluster?.openshiftVersion,
    decryption: manifest.decryption,
    verified,
    backupStatus: `${afterBackup.status} after the backup; ${backupStatusOf(cluster)?.status ?? "unknown"} after the re-render`,
    secondRender: second,
    policy,
    recovery,
    timings,
  }
  yield* Console.log(formatSummary(summary))
  if (!verified) return yield* new DemoFailed({ stage: "verify", message: "the backup did not pass verify --test-restore" })
  if (!policy.healthy || policy.alertFiring) {
    return yield* new DemoFailed({ stage: "policy", message: `BackupPolicy ${policy.policy.name} is not healthy: ${policy.conditions}` })
  }
  return summary
})
