import { describe, expect, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Clock, Effect, Fiber, Layer, Result } from "effect"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { TestClock } from "effect/testing"
import { backupPodLabelValues } from "../../../src/domain/backup-pod-names.ts"
import { backupCreateReportOf, encodeBackupCreateReport } from "../../../src/domain/backup-create-report.ts"
import { startWaitWords } from "../../../src/domain/backup-pod-start.ts"
import { backupPodConfigMapName, backupPodYamlKey } from "../../../src/domain/operator-desired-state.ts"
import { renderBackupPodYaml } from "../../../src/domain/pod-spec.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { runBackupPod } from "../../../src/programs/backup-pod/run-backup-pod.ts"
import { configMapType, eventType, podType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { kubeletEvent, mountWaitingPodStatus } from "../../../src/simulation/simulated-kubelet.ts"
import { ns } from "../operator/reconcile-harness.ts"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { localExecHandler } from "../../../src/simulation/simulated-exec.ts"
import { writeFakeBackup } from "../../support/fake-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"

const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }
const at = "2026-12-07T10:00:00Z"
const ended = (exitCode: number, message?: string) => ({ state: { terminated: { exitCode, finishedAt: at, ...(message === undefined ? {} : { message }) } } })

type Cluster = ReturnType<typeof makeSimulatedCluster>

/**
 * A cluster whose operator rendered its pod (unless `rendered` is false; `cluster`: an earlier test's, as it is), made
 * ready by `prepare`, and `runBackupPod` on it in a fiber, its output kept.
 */
const follow = (
  timing: { readonly timeoutMs: number; readonly pollMs: number },
  {
    rendered = true,
    cluster: given,
    prepare,
    copyTo,
    deleteAfterCopy,
    pod,
  }: {
    readonly rendered?: boolean
    readonly cluster?: Cluster
    readonly prepare?: (cluster: Cluster) => void
    readonly copyTo?: string
    readonly deleteAfterCopy?: boolean
    readonly pod?: string
  } = {},
) =>
  Effect.gen(function* () {
    const cluster = given ?? makeSimulatedCluster()
    if (rendered && given === undefined)
      Result.getOrThrow(
        cluster.create(configMapType, {
          metadata: { name: backupPodConfigMapName, namespace: ns },
          data: { [backupPodYamlKey]: renderBackupPodYaml(revisions, { namespace: ns }) },
        }),
      )
    prepare?.(cluster)
    const lines: Array<string> = []
    const run = yield* Effect.forkChild(
      runBackupPod({ namespace: ns, ...timing, output: (line) => Effect.sync(() => void lines.push(line)), copyTo, deleteAfterCopy, pod }).pipe(
        Effect.provide(Layer.mergeAll(SimulatedKube.inMemory(cluster), NodeServices.layer, DiskSpace.live)),
        Effect.result,
      ),
    )
    yield* TestClock.adjust(0)
    // The run checks a copyTo directory on the real file system first: its first words (or its end) wait for that I/O.
    for (let i = 0; i < 400 && lines.length === 0 && run.pollUnsafe() === undefined; i++)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    const pods = cluster.list(podType, ns) as ReadonlyArray<{ metadata: { name: string }; spec: { initContainers: ReadonlyArray<{ name: string }> } }>
    return { cluster, lines, run, pods }
  })

describe("runBackupPod", () => {
  it.effect("creates the rendered pod, says which init container it is at, and ends once every one passed with the oc cp command", () =>
    Effect.gen(function* () {
      const { cluster, lines, run, pods } = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      expect(pods).toHaveLength(1)
      const pod = pods[0]!
      const names = pod.spec.initContainers.map((c) => c.name)
      const status = (passed: number) => ({
        phase: passed === names.length ? "Running" : "Pending",
        initContainerStatuses: names.slice(0, passed).map((name) => ({ name, ...ended(0) })),
        ...(passed === names.length ? { containerStatuses: [{ name: "backup-hold", state: { running: { startedAt: at } } }] } : {}),
      })
      Result.getOrThrow(cluster.updateStatus(podType, ns, pod.metadata.name, status(1)))
      yield* TestClock.adjust(1_000)
      Result.getOrThrow(cluster.updateStatus(podType, ns, pod.metadata.name, status(names.length)))
      yield* TestClock.adjust(1_000)
      const result = yield* Fiber.join(run)
      const copy = `oc cp -c backup-hold ${ns}/${pod.metadata.name}:/backup ./backup`
      expect(Result.isSuccess(result) && result.success).toEqual({
        namespace: ns,
        pod: pod.metadata.name,
        revisions: "etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6",
        copy,
        heldUntil: "2026-12-07T11:00:00Z",
      })
      expect(lines[0]).toBe(
        `created pod ${pod.metadata.name} in ${ns} from ConfigMap cluster-backup-pod (revisions etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6)`,
      )
      expect(lines).toContain(`pod ${pod.metadata.name} is taking the backup: ${names[1]} (init container 2 of ${names.length})`)
      expect(lines.slice(-2)).toEqual([
        `pod ${pod.metadata.name}: the backup is complete and held for oc cp until 2026-12-07T11:00:00Z: ${copy}`,
        `once it is copied, oc -n ${ns} delete pod ${pod.metadata.name} gives the node's disk back at once`,
      ])
    }),
  )

  /** Every init container passed, backup-create leaving `report` as its termination message; the hold running. */
  const held = (cluster: Cluster, pod: { metadata: { name: string }; spec: { initContainers: ReadonlyArray<{ name: string }> } }, report: string) =>
    Result.getOrThrow(
      cluster.updateStatus(podType, ns, pod.metadata.name, {
        phase: "Running",
        initContainerStatuses: pod.spec.initContainers.map(({ name }) => ({ name, ...ended(0, name === "backup-create" ? report : undefined) })),
        containerStatuses: [{ name: "backup-hold", state: { running: { startedAt: at } } }],
      }),
    )

  it.effect("names the backup backup-create reported; a possibly dirty one fails the run, saying why and how to copy it all the same", () =>
    Effect.gen(function* () {
      const consistent = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      held(consistent.cluster, consistent.pods[0]!, encodeBackupCreateReport(backupCreateReportOf("2026-12-07_100000", "consistent", [])))
      yield* TestClock.adjust(1_000)
      const ok = yield* Fiber.join(consistent.run)
      expect(Result.isSuccess(ok) && ok.success.backupId).toBe("2026-12-07_100000")
      expect(consistent.lines.at(-2)).toMatch(/: the backup 2026-12-07_100000 is complete and held for oc cp until /)

      const why = "kube-apiserver: the snapshot's operator CR says revision 8, the resources are of revision 7"
      const dirty = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      held(dirty.cluster, dirty.pods[0]!, encodeBackupCreateReport(backupCreateReportOf("2026-12-07_100500", "dirty", [why])))
      yield* TestClock.adjust(1_000)
      const failed = yield* Fiber.join(dirty.run)
      const name = dirty.pods[0]!.metadata.name
      expect(Result.isFailure(failed) && failed.failure).toMatchObject({
        _tag: "BackupPodPossiblyDirty",
        pod: name,
        backupId: "2026-12-07_100500",
        reasons: [why],
        copy: `oc cp -c backup-hold ${ns}/${name}:/backup ./backup`,
      })
      expect(Result.isFailure(failed) && failed.failure.message).toContain(`${why}. It is held for oc cp until 2026-12-07T11:00:00Z`)

      // A pod of a version whose backup-create writes no report: complete, as before.
      const older = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      held(older.cluster, older.pods[0]!, "")
      yield* TestClock.adjust(1_000)
      const before = yield* Fiber.join(older.run)
      expect(Result.isSuccess(before) && before.success.backupId).toBeUndefined()
    }),
  )

  it.effect("with copyTo, copies the held backup off the pod and says where; a possibly dirty one is copied too, and the failure says where", () =>
    Effect.gen(function* () {
      /** A run whose pod's /backup (a directory here) holds backup `id`, copied into a new directory. */
      const copying = (id: string, verdict: "consistent" | "dirty", forbid: ReadonlyArray<"pods/exec" | "pods"> = [], deleteAfterCopy = false) =>
        Effect.gen(function* () {
          const podDir = tempDir("held")
          writeFakeBackup(podDir, id)
          const copyTo = join(tempDir("copy-to"), "backup")
          const prepare = (cluster: Cluster) => {
            cluster.setExecHandler(localExecHandler(() => [{ containerPath: "/backup", hostPath: podDir }]))
            for (const resource of forbid)
              cluster.faults.inject(Fault.forbidden(), { resource, verb: resource === "pods" ? "delete" : "create", times: Infinity })
          }
          const run = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { prepare, copyTo, deleteAfterCopy })
          held(run.cluster, run.pods[0]!, encodeBackupCreateReport(backupCreateReportOf(id, verdict, verdict === "dirty" ? ["a reason"] : [])))
          yield* TestClock.adjust(1_000)
          return { ...run, result: yield* Fiber.join(run.run), copyTo, podDir }
        })
      const ok = yield* copying("2026-12-07_100000", "consistent")
      const pod = ok.pods[0]!.metadata.name
      expect(Result.isSuccess(ok.result) && ok.result.success).toMatchObject({ backupId: "2026-12-07_100000", copiedTo: ok.copyTo })
      expect(readdirSync(ok.copyTo).sort()).toEqual(
        readdirSync(ok.podDir)
          .filter((name) => !name.startsWith("."))
          .sort(),
      )
      expect(ok.lines.slice(-4)).toEqual([
        `copying backup 2026-12-07_100000 off pod ${pod} into ${ok.copyTo}`,
        `copied backup 2026-12-07_100000 into ${ok.copyTo}: snapshot_2026-12-07_100000.db (100 B), static_kuberesources_2026-12-07_100000.tar.gz (10 B), each checked against its manifest's size and sha256`,
        `pod ${pod}: the backup 2026-12-07_100000 is complete, copied into ${ok.copyTo}, and held in the pod until 2026-12-07T11:00:00Z`,
        `oc -n ${ns} delete pod ${pod} gives the node's disk back at once`,
      ])

      // A copy that fails leaves the backup held: the run says how else to take it.
      const refused = yield* copying("2026-12-07_101000", "consistent", ["pods/exec"])
      const refusedPod = refused.pods[0]!.metadata.name
      expect(Result.isFailure(refused.result) && refused.result.failure).toMatchObject({ _tag: "Forbidden", code: 403 })
      expect(refused.lines.at(-1)).toBe(
        `the copy failed (below); the backup is still held in pod ${refusedPod} until 2026-12-07T11:00:00Z: backup-pod --pod ${refusedPod} --copy-to ${refused.copyTo} copies it, or oc cp -c backup-hold ${ns}/${refusedPod}:/backup ./backup`,
      )

      // A copy that fails once the pod's hold has ended (the pod read again) does not say the backup is still held.
      const endedPodDir = tempDir("held")
      writeFakeBackup(endedPodDir, "2026-12-07_101200")
      const endedCopyTo = join(tempDir("copy-to"), "backup")
      const endingHold = (cluster: Cluster) => {
        const local = localExecHandler(() => [{ containerPath: "/backup", hostPath: endedPodDir }])
        cluster.setExecHandler((request) => {
          const pod = cluster.list(podType, ns)[0]!.metadata as { name: string }
          Result.getOrThrow(cluster.terminatePod(ns, pod.name, { phase: "Succeeded" }))
          return local({ ...request, command: ["sh", "-c", "exit 137"] })
        })
      }
      const ending = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { prepare: endingHold, copyTo: endedCopyTo })
      held(ending.cluster, ending.pods[0]!, encodeBackupCreateReport(backupCreateReportOf("2026-12-07_101200", "consistent", [])))
      yield* TestClock.adjust(1_000)
      const endedResult = yield* Fiber.join(ending.run)
      expect(Result.isFailure(endedResult) && endedResult.failure).toMatchObject({ _tag: "ExecCommandFailed", exitCode: 137 })
      expect(ending.lines.at(-1)).toBe(
        `the copy failed (below), and pod ${ending.pods[0]!.metadata.name}'s hold has ended since: its backup went with the pod's volume; run backup-pod again`,
      )

      // With deleteAfterCopy, the pod is deleted once its backup is copied and checked; one that may not be deleted says so.
      const deleting = yield* copying("2026-12-07_101500", "consistent", [], true)
      const deletedPod = deleting.pods[0]!.metadata.name
      expect(Result.isSuccess(deleting.result) && deleting.result.success).toMatchObject({ copiedTo: deleting.copyTo, podDeleted: true })
      expect(deleting.cluster.get(podType, ns, deletedPod)).toBeUndefined()
      expect(deleting.lines.slice(-2)).toEqual([
        `deleted pod ${deletedPod}: the node's disk is given back (its backup is in ${deleting.copyTo})`,
        `pod ${deletedPod}: the backup 2026-12-07_101500 is complete and copied into ${deleting.copyTo}`,
      ])
      const kept = yield* copying("2026-12-07_102000", "consistent", ["pods"], true)
      const keptPod = kept.pods[0]!.metadata.name
      expect(Result.isFailure(kept.result) && kept.result.failure).toMatchObject({ _tag: "Forbidden" })
      expect(kept.lines.at(-1)).toBe(
        `the backup is copied into ${kept.copyTo}, but pod ${keptPod} could not be deleted (below): oc -n ${ns} delete pod ${keptPod}`,
      )
      expect(readdirSync(kept.copyTo)).toContain("backup-manifest.json")

      const dirty = yield* copying("2026-12-07_100500", "dirty")
      expect(Result.isFailure(dirty.result) && dirty.result.failure).toMatchObject({ _tag: "BackupPodPossiblyDirty", backupId: "2026-12-07_100500" })
      expect(Result.isFailure(dirty.result) && dirty.result.failure.message).toContain(`It was copied into ${dirty.copyTo}.`)
      expect(readdirSync(dirty.copyTo)).toContain("backup-manifest.json")
      // Deleted after the copy, it is no longer held: the failure says where the backup is, not how to oc cp it.
      const dirtyDeleted = yield* copying("2026-12-07_102500", "dirty", [], true)
      const dirtyMessage = Result.isFailure(dirtyDeleted.result) ? dirtyDeleted.result.failure.message : ""
      expect(dirtyMessage).toContain(`It was copied into ${dirtyDeleted.copyTo}, and the pod deleted.`)
      expect(dirtyMessage).not.toContain("held for oc cp")
    }),
  )

  it.effect("while the operator has a render pending, says the rendered revisions may make a possibly dirty backup", () =>
    Effect.gen(function* () {
      const pending = (cluster: Cluster) =>
        Result.getOrThrow(
          cluster.create(configMapType, {
            metadata: { name: "backup-status", namespace: ns },
            data: { status: "Complete", message: "render pending: minimum interval: the next render is due at 2026-12-07T11:00:00Z" },
          }),
        )
      const { lines, run } = yield* follow({ timeoutMs: 1_000, pollMs: 1_000 }, { prepare: pending })
      expect(lines[0]).toBe(
        "the operator has not rendered the current revisions yet (backup-status: render pending: minimum interval: the next render is due at 2026-12-07T11:00:00Z): a backup of the rendered ones (revisions etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6) may be possibly dirty",
      )
      expect(lines[1]).toMatch(/^created pod /)
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(run)
    }),
  )

  it.effect("a pod that has started no container two minutes on its node (a volume it cannot mount) is said once, in its FailedMount Event's words", () =>
    Effect.gen(function* () {
      const { cluster, lines, run, pods } = yield* follow({ timeoutMs: 600_000, pollMs: 10_000 })
      const name = pods[0]!.metadata.name
      // Its kubelet took it 30 s after backup-pod began to follow it: the two minutes count from then.
      yield* TestClock.adjust(30_000)
      const onNode = yield* Clock.currentTimeMillis
      Result.getOrThrow(cluster.updateStatus(podType, ns, name, mountWaitingPodStatus(new Date(onNode).toISOString())))
      const missing = 'MountVolume.SetUp failed for volume "proxy-credentials" : secret "cluster-backup-proxy" not found'
      Result.getOrThrow(cluster.create(eventType, kubeletEvent(ns, name, "FailedMount", missing, new Date(onNode + 5_000).toISOString())))
      yield* TestClock.adjust(110_000)
      const hint = (l: string) => l === `pod ${name} cannot start: ${startWaitWords(name, { kind: "mount", words: `FailedMount: ${missing}` })}`
      expect(lines.some(hint)).toBe(false)
      expect(lines.at(-1)).toBe(`pod ${name} is starting on its node (mounting its volumes, pulling its image)`)
      yield* TestClock.adjust(20_000)
      expect(lines.filter(hint)).toHaveLength(1)
      held(cluster, pods[0]!, "")
      yield* TestClock.adjust(10_000)
      expect(Result.isSuccess(yield* Fiber.join(run))).toBe(true)
      expect(lines.filter(hint)).toHaveLength(1)
    }),
  )

  it.effect("a pod whose Events show its image being pulled is said to be pulling past two minutes, and not starting only past ten", () =>
    Effect.gen(function* () {
      const { cluster, lines, run, pods } = yield* follow({ timeoutMs: 900_000, pollMs: 10_000 })
      const name = pods[0]!.metadata.name
      const onNode = yield* Clock.currentTimeMillis
      Result.getOrThrow(cluster.updateStatus(podType, ns, name, mountWaitingPodStatus(new Date(onNode).toISOString())))
      const pulling = 'Pulling image "quay.io/openshift/cluster-backup:4.18"'
      Result.getOrThrow(cluster.create(eventType, kubeletEvent(ns, name, "Pulling", pulling, new Date(onNode + 5_000).toISOString())))
      yield* TestClock.adjust(130_000)
      expect(lines.at(-1)).toBe(`pod ${name} is starting, its image still being pulled (Pulling: ${pulling})`)
      const notStarting = `pod ${name} cannot start: ${startWaitWords(name, { kind: "pull", words: `Pulling: ${pulling}` })}`
      yield* TestClock.adjust(460_000)
      expect(lines).not.toContain(notStarting)
      yield* TestClock.adjust(20_000)
      expect(lines.at(-1)).toBe(notStarting)
      held(cluster, pods[0]!, "")
      yield* TestClock.adjust(10_000)
      expect(Result.isSuccess(yield* Fiber.join(run))).toBe(true)
    }),
  )

  it.effect("a failed init container fails it, naming the container and its words", () =>
    Effect.gen(function* () {
      const { cluster, run, pods } = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      const pod = pods[0]!
      Result.getOrThrow(
        cluster.updateStatus(podType, ns, pod.metadata.name, {
          phase: "Failed",
          initContainerStatuses: [{ name: "backup-init", ...ended(1, "etcd at https://10.0.0.1:2379 did not answer") }],
        }),
      )
      yield* TestClock.adjust(1_000)
      const result = yield* Fiber.join(run)
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupPodFailed",
        pod: pod.metadata.name,
        message: expect.stringMatching(/^the backup failed: init container backup-init of pod \S+ exited with code 1: etcd at .* did not answer; see oc -n /),
      })
    }),
  )

  it.effect("a pod seen only once its hold ended (Succeeded) fails: the backup went with its volume", () =>
    Effect.gen(function* () {
      const { cluster, run, pods } = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      const pod = pods[0]!
      const names = [...pod.spec.initContainers.map((c) => c.name), "backup-hold"]
      Result.getOrThrow(
        cluster.updateStatus(podType, ns, pod.metadata.name, { phase: "Succeeded", initContainerStatuses: names.map((name) => ({ name, ...ended(0) })) }),
      )
      yield* TestClock.adjust(1_000)
      const result = yield* Fiber.join(run)
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupPodNotHeld",
        message: expect.stringContaining("the backup went with the pod's volume; run backup-pod again"),
      })
    }),
  )

  it.effect("a pod deleted while it runs ends the wait; one that does not finish in time is left running, saying where it stood", () =>
    Effect.gen(function* () {
      const deleted = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      Result.getOrThrow(deleted.cluster.remove(podType, ns, deleted.pods[0]!.metadata.name))
      yield* TestClock.adjust(1_000)
      const gone = yield* Fiber.join(deleted.run)
      expect(Result.isFailure(gone) && gone.failure._tag).toBe("BackupPodGone")

      const slow = yield* follow({ timeoutMs: 5_000, pollMs: 1_000 })
      yield* TestClock.adjust(10_000)
      const late = yield* Fiber.join(slow.run)
      expect(Result.isFailure(late) && late.failure).toMatchObject({
        _tag: "BackupPodNotFinished",
        last: expect.stringMatching(new RegExp(`^pod ${slow.pods[0]!.metadata.name} is taking the backup: backup-init \\(init container 1 of \\d+\\)$`)),
        message: expect.stringContaining("it was left running"),
      })
      expect(slow.cluster.list(podType, ns)).toHaveLength(1)
    }),
  )

  it.effect("run again while its pod still takes the backup (after a Ctrl-C, say), follows that pod instead of starting another", () =>
    Effect.gen(function* () {
      const first = yield* follow({ timeoutMs: 5_000, pollMs: 1_000 })
      yield* TestClock.adjust(10_000)
      yield* Fiber.join(first.run)
      const earlier = first.pods[0]!.metadata.name
      const { lines, run: again } = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { cluster: first.cluster })
      expect(first.cluster.list(podType, ns)).toHaveLength(1)
      expect(lines[0]).toMatch(new RegExp(`^pod ${earlier} \\(revisions etcd=3,.*\\), created \\S+, is still taking its backup: following it`))
      const names = first.pods[0]!.spec.initContainers.map((c) => c.name)
      Result.getOrThrow(
        first.cluster.updateStatus(podType, ns, earlier, { phase: "Running", initContainerStatuses: names.map((name) => ({ name, ...ended(0) })) }),
      )
      yield* TestClock.adjust(1_000)
      const result = yield* Fiber.join(again)
      expect(Result.isSuccess(result) && result.success.pod).toBe(earlier)
      // Held, it no longer takes a backup: the next run starts a new one.
      const third = yield* follow({ timeoutMs: 1_000, pollMs: 1_000 }, { cluster: first.cluster })
      expect(first.cluster.list(podType, ns)).toHaveLength(2)
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(third.run)
    }),
  )

  it.effect("a running pod of revisions since rolled out is not followed: a new pod takes the current revisions", () =>
    Effect.gen(function* () {
      const first = yield* follow({ timeoutMs: 1_000, pollMs: 1_000 })
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(first.run)
      const earlier = first.pods[0]!.metadata.name
      const rolled = { ...revisions, "kube-apiserver": 8 }
      Result.getOrThrow(
        first.cluster.replace(configMapType, {
          metadata: { name: backupPodConfigMapName, namespace: ns },
          data: { [backupPodYamlKey]: renderBackupPodYaml(rolled, { namespace: ns }) },
        }),
      )
      const { lines, run } = yield* follow({ timeoutMs: 1_000, pollMs: 1_000 }, { cluster: first.cluster })
      expect(first.cluster.list(podType, ns)).toHaveLength(2)
      expect(lines[0]).toMatch(new RegExp(`^pod ${earlier} \\(revisions .*kube-apiserver=7,.*\\) still takes a backup of revisions since rolled out`))
      expect(lines[1]).toMatch(/^created pod \S+ in openshift-etcd from ConfigMap cluster-backup-pod \(revisions .*kube-apiserver=8,/)
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(run)
    }),
  )

  it.effect("with copyTo, a directory the backup could not be copied into is refused before a pod takes it, not once it is held", () =>
    Effect.gen(function* () {
      const work = tempDir("copy-to")
      const file = join(work, "a-file")
      writeFileSync(file, "kept")
      const onFile = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { copyTo: file })
      const fileResult = yield* Fiber.join(onFile.run)
      expect(Result.isFailure(fileResult) && fileResult.failure).toMatchObject({ _tag: "CopyDirectoryNotADirectory", path: file, type: "File" })
      expect(Result.isFailure(fileResult) && fileResult.failure.message).toBe(
        `--copy-to ${file} is a file rather than a directory: name the directory to copy the backup into (made when missing); nothing was started`,
      )
      expect(onFile.pods).toEqual([])
      expect(readFileSync(file, "utf8")).toBe("kept")

      // One that holds another backup already: a new pod's would be refused there (its manifest would replace that one's).
      const holding = join(work, "holding")
      writeFakeBackup(holding, "2026-12-06_100000")
      const before = readdirSync(holding).sort()
      const onBackup = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { copyTo: holding })
      const backupResult = yield* Fiber.join(onBackup.run)
      expect(Result.isFailure(backupResult) && backupResult.failure).toMatchObject({ _tag: "CompleteBackupInTheWay" })
      expect(Result.isFailure(backupResult) && backupResult.failure.message).toContain(`${holding} holds the complete backup 2026-12-06_100000`)
      expect(onBackup.pods).toEqual([])
      expect(readdirSync(holding).sort()).toEqual(before)

      // A pod named (--pod) still taking its backup: the same, before following it.
      const running = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      const runningPod = running.pods[0]!.metadata.name
      const named = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { cluster: running.cluster, pod: runningPod, copyTo: holding })
      const namedResult = yield* Fiber.join(named.run)
      expect(Result.isFailure(namedResult) && namedResult.failure).toMatchObject({ _tag: "CompleteBackupInTheWay" })
      expect(named.lines).toEqual([])
      yield* Fiber.interrupt(running.run)
    }),
  )

  it.effect(
    "with pod, follows the pod named (one of revisions since rolled out, say) and copies its backup; a pod missing or holding no backup is refused",
    () =>
      Effect.gen(function* () {
        const first = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
        const earlier = first.pods[0]!.metadata.name
        held(first.cluster, first.pods[0]!, encodeBackupCreateReport(backupCreateReportOf("2026-12-07_100000", "consistent", [])))
        yield* TestClock.adjust(1_000)
        yield* Fiber.join(first.run)
        Result.getOrThrow(
          first.cluster.replace(configMapType, {
            metadata: { name: backupPodConfigMapName, namespace: ns },
            data: { [backupPodYamlKey]: renderBackupPodYaml({ ...revisions, "kube-apiserver": 8 }, { namespace: ns }) },
          }),
        )
        const podDir = tempDir("held")
        writeFakeBackup(podDir, "2026-12-07_100000")
        first.cluster.setExecHandler(localExecHandler(() => [{ containerPath: "/backup", hostPath: podDir }]))
        const copyTo = join(tempDir("copy-to"), "backup")
        const named = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { cluster: first.cluster, pod: earlier, copyTo })
        yield* TestClock.adjust(1_000)
        const result = yield* Fiber.join(named.run)
        expect(Result.isSuccess(result) && result.success).toMatchObject({ pod: earlier, backupId: "2026-12-07_100000", copiedTo: copyTo })
        expect(named.lines[0]).toMatch(new RegExp(`^following pod ${earlier} \\(revisions .*kube-apiserver=7,.*\\), created `))
        expect(first.cluster.list(podType, ns)).toHaveLength(1)

        // Again into the directory that holds its backup now: the same backup, so kept, not refused.
        const again = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { cluster: first.cluster, pod: earlier, copyTo })
        yield* TestClock.adjust(1_000)
        const againResult = yield* Fiber.join(again.run)
        expect(Result.isSuccess(againResult) && againResult.success).toMatchObject({ pod: earlier, copiedTo: copyTo })
        expect(again.lines).toContain(
          `copied backup 2026-12-07_100000 into ${copyTo}: snapshot_2026-12-07_100000.db (100 B, already there), static_kuberesources_2026-12-07_100000.tar.gz (10 B, already there), each checked against its manifest's size and sha256`,
        )

        const missing = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { pod: "no-such-pod" })
        const gone = yield* Fiber.join(missing.run)
        expect(Result.isFailure(gone) && gone.failure).toMatchObject({ _tag: "BackupPodGone", pod: "no-such-pod" })
        expect(Result.isFailure(gone) && gone.failure.message).toContain("there is no pod no-such-pod in openshift-etcd")
        expect(missing.cluster.list(podType, ns)).toEqual([])

        const other = (cluster: Cluster) =>
          Result.getOrThrow(cluster.create(podType, { metadata: { name: "other", namespace: ns }, spec: { containers: [{ name: "main", image: "i" }] } }))
        const notBackup = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 }, { pod: "other", prepare: other })
        const refused = yield* Fiber.join(notBackup.run)
        expect(Result.isFailure(refused) && refused.failure).toMatchObject({ _tag: "NotABackupPod", pod: "other" })
        expect(notBackup.cluster.list(podType, ns)).toHaveLength(1)
      }),
  )

  it.effect("a BackupPolicy's pod running is not followed: a new pod is created", () =>
    Effect.gen(function* () {
      const policyPod = (cluster: Cluster) =>
        Result.getOrThrow(
          cluster.create(podType, {
            metadata: { name: "backup-nightly-1", namespace: ns, labels: { ...backupPodLabelValues, [policyNameLabel]: "nightly" } },
            spec: { initContainers: [{ name: "backup-init", image: "i" }], containers: [{ name: "backup-hold", image: "i" }] },
          }),
        )
      const { cluster, run } = yield* follow({ timeoutMs: 1_000, pollMs: 1_000 }, { prepare: policyPod })
      expect(cluster.list(podType, ns)).toHaveLength(2)
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(run)
    }),
  )

  it.effect("a user who may not list pods (Forbidden) still gets the pod created and followed", () =>
    Effect.gen(function* () {
      const forbidden = (cluster: Cluster) => cluster.faults.inject(Fault.forbidden(), { resource: "pods", verb: "list", times: Number.POSITIVE_INFINITY })
      const { cluster, lines, run } = yield* follow({ timeoutMs: 1_000, pollMs: 1_000 }, { prepare: forbidden })
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(run)
      expect(cluster.list(podType, ns)).toHaveLength(1)
      expect(lines[0]).toMatch(/^created pod cluster-backup-\S+ in openshift-etcd/)
    }),
  )

  it.effect("a rendered pod that is no pod (the ConfigMap edited by hand) is refused, and nothing is created", () =>
    Effect.gen(function* () {
      const edited = (cluster: Cluster) =>
        Result.getOrThrow(
          cluster.create(configMapType, { metadata: { name: backupPodConfigMapName, namespace: ns }, data: { [backupPodYamlKey]: "- not\n- a pod\n" } }),
        )
      const { cluster, run } = yield* follow({ timeoutMs: 5_000, pollMs: 1_000 }, { rendered: false, prepare: edited })
      const result = yield* Fiber.join(run)
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupPodNotRendered",
        message: expect.stringMatching(/^ConfigMap cluster-backup-pod's backup-pod\.yaml is not a pod \(.+\): the operator renders it/),
      })
      expect(cluster.list(podType, ns)).toHaveLength(0)
    }),
  )

  it.effect("with no rendered pod, says so and creates nothing", () =>
    Effect.gen(function* () {
      const { cluster, run } = yield* follow({ timeoutMs: 5_000, pollMs: 1_000 }, { rendered: false })
      const result = yield* Fiber.join(run)
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupPodNotRendered",
        message: expect.stringMatching(/^no ConfigMap cluster-backup-pod in openshift-etcd: the operator renders it once it runs/),
      })
      expect(cluster.list(podType, ns)).toHaveLength(0)
    }),
  )
})
