/** `cluster-backup backup-pod` over real HTTP against the stub API server, with a kubelet that runs the pod as the test says. */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { acquireRunLock } from "../../src/services/run-lock.ts"
import { podType } from "../../src/services/kube/resources.ts"
import { ns } from "../programs/operator/reconcile-harness.ts"
import { runCli } from "../support/run-cli.ts"
import { writeFakeBackup } from "../support/fake-backups.ts"
import { tempDir } from "../support/temp-dir.ts"
import { backupPodStub, type PodObj } from "./backup-pod-stub.ts"

describe("cluster-backup backup-pod", () => {
  it("creates the rendered pod, follows it until the backup is held, and prints the oc cp command (--json)", async () => {
    const { simulated, kubeconfig } = await backupPodStub(0)
    const run = await runCli(["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--json"])
    expect(run.status, run.stderr).toBe(0)
    const [pod] = simulated.list(podType, ns) as unknown as ReadonlyArray<PodObj>
    expect(JSON.parse(run.stdout)).toEqual({
      namespace: ns,
      pod: pod!.metadata.name,
      revisions: "etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6",
      copy: `oc cp -c backup-hold ${ns}/${pod!.metadata.name}:/backup ./backup`,
    })
    expect(run.stderr).toContain(`created pod ${pod!.metadata.name} in ${ns} from ConfigMap cluster-backup-pod`)
  }, 60_000)

  it("--copy-to copies the held backup off the pod over pods/exec, each file checked, says where (--json: copiedTo), and --delete-after-copy then deletes the pod", async () => {
    const podDir = tempDir("held")
    writeFakeBackup(podDir, "2026-12-07_100000", { snapshotBytes: 2 * 1024 * 1024 })
    const { simulated, kubeconfig } = await backupPodStub(0, podDir)
    const copyTo = join(tempDir("copy-to"), "backup")
    const run = await runCli(["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--json", "--copy-to", copyTo, "--delete-after-copy"])
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ copiedTo: copyTo, podDeleted: true })
    expect(simulated.list(podType, ns)).toEqual([])
    expect(run.stderr).toContain(`copied backup 2026-12-07_100000 into ${copyTo}`)
    const copied = readdirSync(copyTo).sort()
    expect(copied).toEqual(["backup-manifest.json", "snapshot_2026-12-07_100000.db", "static_kuberesources_2026-12-07_100000.tar.gz"])
    for (const name of copied) expect(readFileSync(join(copyTo, name)).equals(readFileSync(join(podDir, name)))).toBe(true)
  }, 60_000)

  it("--copy-to refuses a directory another run holds (its lock beside it) before it creates a pod, and leaves no lock after a copy", async () => {
    const podDir = tempDir("held")
    writeFakeBackup(podDir, "2026-12-07_100000")
    const { simulated, kubeconfig } = await backupPodStub(0, podDir)
    const parent = tempDir("copy-to")
    const copyTo = join(parent, "backup")
    const args = ["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--copy-to", copyTo]
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(`${copyTo}.lock`, "backup-pod (another run)")
          const refused = yield* Effect.promise(() => runCli(args))
          expect(refused.status).toBe(1)
          expect(refused.stderr).toContain(`${copyTo}.lock is held by backup-pod (another run)`)
          expect(simulated.list(podType, ns)).toEqual([])
        }),
      ),
    )
    const done = await runCli(args)
    expect(done.status, done.stderr).toBe(0)
    expect(readdirSync(parent)).toEqual(["backup"])
  }, 60_000)

  it("--pod follows the pod named rather than creating one: a pod not there exits 1, nothing created", async () => {
    const { simulated, kubeconfig } = await backupPodStub(0)
    const run = await runCli(["backup-pod", "--kubeconfig", kubeconfig, "--pod", "cluster-backup-gone"])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/there is no pod cluster-backup-gone in openshift-etcd.*\[BackupPodGone\]/)
    expect(simulated.list(podType, ns)).toEqual([])
  }, 60_000)

  it("exits 1 naming the init container that failed", async () => {
    const { kubeconfig } = await backupPodStub(1)
    const run = await runCli(["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms"])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/the backup failed: init container backup-init of pod \S+ exited with code 1: etcd did not answer.*\[BackupPodFailed\]/)
  }, 60_000)
})
