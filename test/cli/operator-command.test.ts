import { mkdtempSync, rmSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { backupPodYaml, renderBackupPodYaml, revisionsOfBackupPod, type BackupPod } from "../../src/domain/pod-spec.ts"
import { leaseType, podType } from "../../src/services/kube/resources.ts"
import { backupPodLabelValues } from "../../src/domain/backup-pod-names.ts"
import { openShiftFixture } from "../../src/simulation/openshift-fixtures.ts"
import { startSimulatedApiServer, writeKubeconfig } from "../../src/simulation/simulated-api-server.ts"
import { Fault } from "../../src/simulation/faults.ts"
import { makeSimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import { configMapData, createPolicy, ns } from "../programs/operator/reconcile-harness.ts"
import { runCli, type CliRun, type RunningCli } from "../support/run-cli.ts"
import { waitUntil } from "../support/eventually.ts"

const dir = mkdtempSync(join(tmpdir(), "operator-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const waitFor = (what: string, check: () => boolean | Promise<boolean>) => waitUntil(what, check, { ms: 60_000 })

/**
 * Runs `cluster-backup [global] operator --kubeconfig K --metrics-port 0 <args>` against a simulated OpenShift (fixture `seed`)
 * behind a stub API server while `during` talks to it (and ends it); the server is closed when both have ended.
 */
const runOperator = async (
  seed: number,
  args: ReadonlyArray<string>,
  during: (child: RunningCli, cluster: ReturnType<typeof makeSimulatedCluster>) => Promise<void>,
  global: ReadonlyArray<string> = [],
  env: Readonly<Record<string, string | undefined>> = {},
  prepare: (cluster: ReturnType<typeof makeSimulatedCluster>) => void = () => {},
): Promise<CliRun> => {
  const cluster = makeSimulatedCluster()
  Result.getOrThrow(openShiftFixture({ seed }).load(cluster))
  prepare(cluster)
  const server = await startSimulatedApiServer(cluster)
  const kubeconfig = join(dir, `kubeconfig-${seed}`)
  await Effect.runPromise(writeKubeconfig(kubeconfig, server))
  try {
    return await runCli([...global, "operator", "--kubeconfig", kubeconfig, "--metrics-port", "0", ...args], { during: (child) => during(child, cluster), env })
  } finally {
    await server.close()
  }
}

describe("cluster-backup operator", () => {
  it("serves probes and metrics, renders, and on SIGTERM releases the Lease and exits", async () => {
    const during = async (child: RunningCli, cluster: ReturnType<typeof makeSimulatedCluster>) => {
      await waitFor("the port in the log", () => /port (\d+)/.test(child.stderr()))
      const port = Number(/port (\d+)/.exec(child.stderr())![1])
      await waitFor("a render", () => configMapData(cluster, "cluster-backup-pod") !== undefined)
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
      await waitFor("ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200)
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(metrics).toMatch(/cluster_backup_reconciles_total\{result="success"\} [1-9]/)
      expect(metrics).toContain('cluster_backup_observed_revision{operand="etcd"}')
      expect(metrics).toContain("cluster_backup_leader 1")
      const holder = () => (cluster.get(leaseType, ns, "cluster-backup-operator")?.spec as { holderIdentity?: string } | undefined)?.holderIdentity
      expect(holder()).toBe("replica-1")
      // OpenShift's operator timings by default: a 137 s Lease, renewed every 26 s (not every 2 s).
      const spec = cluster.get(leaseType, ns, "cluster-backup-operator")?.spec as { leaseDurationSeconds?: number }
      expect(spec.leaseDurationSeconds).toBe(137)
      const leaseWrites = cluster.requests.filter((r) => r.resource === "leases" && (r.verb === "update" || r.verb === "create")).length
      await new Promise((r) => setTimeout(r, 3000))
      expect(cluster.requests.filter((r) => r.resource === "leases" && (r.verb === "update" || r.verb === "create")).length).toBe(leaseWrites)

      child.kill("SIGTERM")
      await child.end
      expect(holder()).toBe("")
      expect(child.stderr()).toContain("released lease")
    }
    const operator = await runOperator(5, ["--settle", "0s", "--identity", "replica-1"], during, ["--log-format", "json"])
    expect(operator.status).toBe(0)
  }, 120_000)

  const run = async (args: ReadonlyArray<string>) => {
    const { status, output } = await runCli(args)
    return { code: status, output }
  }

  it.each([
    ["--renew-deadline", ["--renew-deadline", "137s"], "must be shorter than the lease duration"],
    ["--renew-deadline", ["--lease-duration", "30s", "--renew-deadline", "40s", "--retry-period", "5s"], "must be shorter than the lease duration"],
    ["--retry-period", ["--retry-period", "107s"], "must be shorter than the renew deadline"],
    ["--lease-duration", ["--lease-duration", "0s"], "at least 1s"],
    ["--backoff-max", ["--backoff-initial", "2m", "--backoff-max", "1m"], "must be at least --backoff-initial (2m)"],
    ["--backoff-initial", ["--backoff-initial", "0s"], "at least 10ms"],
  ])(
    "contradicting or too short timings are a usage error naming %s",
    async (flag, args, expected) => {
      const { code, output } = await run(["operator", "--kubeconfig", join(dir, "absent"), ...args])
      expect(code, output).toBe(2)
      expect(output).toContain(`Invalid value for flag ${flag}`)
      expect(output).toContain(expected)
    },
    60_000,
  )

  it("an empty --identity is a usage error: it would read as the holder of a released Lease, so two replicas could lead at once", async () => {
    const { code, output } = await run(["operator", "--kubeconfig", join(dir, "absent"), "--identity", ""])
    expect(code, output).toBe(2)
    expect(output).toContain("flag --identity. Expected: a non-empty Lease holder identity")
  }, 60_000)

  it("a --lease-name Kubernetes would refuse is a usage error: the Lease could never be created, and the replica would stand by for ever, answering ready", async () => {
    const { code, output } = await run(["operator", "--kubeconfig", join(dir, "absent"), "--lease-name", "Cluster_Backup"])
    expect(code, output).toBe(2)
    expect(output).toContain("Invalid value for flag --lease-name")
    expect(output).toContain("DNS-1123 subdomain")
  }, 60_000)

  it("an empty POD_NAME falls back to the host name: the Lease never names the empty (released) holder", async () => {
    const operator = await runOperator(
      5,
      [],
      async (child, cluster) => {
        await waitFor("the Lease", () => cluster.get(leaseType, ns, "cluster-backup-operator") !== undefined)
        expect((cluster.get(leaseType, ns, "cluster-backup-operator")!.spec as { holderIdentity?: string }).holderIdentity).toBe(hostname())
        child.kill("SIGTERM")
      },
      [],
      { POD_NAME: "" },
    )
    expect(operator.status).toBe(0)
  }, 120_000)

  it("store flags that do not fit together are a usage error, before contacting the cluster", async () => {
    const { code, output } = await run(["operator", "--kubeconfig", join(dir, "absent"), "--store", "s3://backups/cluster-a"])
    expect(code, output).toBe(2)
    expect(output).toContain("Missing value for flag --store-credentials-secret")
  }, 60_000)

  // The operator's grace reaches every BackupPolicy's prune: it was refused (exit 2) without a
  // --store-keep-*/--store-max-* rule of the operator's own, so policies could never have it.
  it("--store-leftover-grace needs no store rule of the operator's own (policies take it)", async () => {
    for (const store of [[], ["--store-pvc", "backups", "--cluster-id", "c1"]]) {
      const { code, output } = await run(["operator", "--kubeconfig", join(dir, "absent"), ...store, "--store-leftover-grace", "2h"])
      expect(output).not.toContain("store-leftover-grace")
      expect(code, output).toBe(1)
    }
  }, 60_000)

  it("--successful-pods-history-limit: ended pods made from cluster-backup-pod beyond it are deleted, the newest kept", async () => {
    const ended = ["cluster-backup-a", "cluster-backup-b", "cluster-backup-c"]
    const prepare = (cluster: ReturnType<typeof makeSimulatedCluster>) => {
      for (const name of ended) {
        Result.getOrThrow(
          cluster.create(podType, {
            metadata: { name, namespace: ns, labels: backupPodLabelValues },
            spec: { initContainers: [{ name: "backup-init", image: "i" }], containers: [{ name: "backup-hold", image: "i" }] },
          }),
        )
        Result.getOrThrow(cluster.terminatePod(ns, name, { phase: "Succeeded" }))
      }
    }
    const names = (cluster: ReturnType<typeof makeSimulatedCluster>) => cluster.list(podType, ns).map((p) => (p.metadata as { name: string }).name)
    const during = async (child: RunningCli, cluster: ReturnType<typeof makeSimulatedCluster>) => {
      await waitFor("the older pods deleted", () => names(cluster).length === 1)
      expect(names(cluster)).toEqual(["cluster-backup-c"])
      child.kill("SIGTERM")
    }
    const operator = await runOperator(8, ["--settle", "0s", "--successful-pods-history-limit", "1"], during, [], {}, prepare)
    expect(operator.status).toBe(0)
    expect(operator.output).toContain("deleted backup pod cluster-backup-a")
  }, 120_000)

  it("renders backup-upload into cluster-backup-pod when a store is configured", async () => {
    const during = async (child: RunningCli, cluster: ReturnType<typeof makeSimulatedCluster>) => {
      await waitFor("a render", () => configMapData(cluster, "cluster-backup-pod") !== undefined)
      const pod = YAML.parse(configMapData(cluster, "cluster-backup-pod")!["backup-pod.yaml"]!) as BackupPod
      const revisions = revisionsOfBackupPod(pod)!
      expect(backupPodYaml(pod)).toBe(
        renderBackupPodYaml(revisions, {
          activeDeadlineSeconds: 9000,
          store: { claimName: "backups", clusterId: "c0ffee", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 1800 },
        }),
      )
      expect(pod.spec.initContainers.at(-1)!.name).toBe("backup-upload")
      child.kill("SIGTERM")
    }
    const operator = await runOperator(7, ["--settle", "0s", "--store-pvc", "backups", "--cluster-id", "c0ffee", "--upload-deadline", "30m"], during)
    expect(operator.status).toBe(0)
  }, 120_000)

  // An operator without a store of its own gave its policies' pods the default part size, parts in flight and deadline,
  // and refused --cluster-id (the policies' default prefix) as "a setting of the backup store".
  it("a BackupPolicy's pod takes the operator's upload flags and cluster ID when the operator has no store of its own", async () => {
    const during = async (child: RunningCli, cluster: ReturnType<typeof makeSimulatedCluster>) => {
      createPolicy(cluster, "on-change", { onRevisionChange: true, verify: "None" })
      const policyPod = () => cluster.list(podType, ns).find((p) => (p.metadata as { name?: string }).name?.includes("on-change"))
      await waitFor("the policy's pod", () => policyPod() !== undefined)
      const upload = (policyPod()!.spec as BackupPod["spec"]).initContainers.find((c) => c.name === "backup-upload")!
      expect(upload.command).toEqual(
        expect.arrayContaining(["--part-size", "32Mi", "--parts-in-flight", "2", "--deadline", "1200s", "--bandwidth-limit", "30Mi", "--cluster-id", "c0ffee"]),
      )
      child.kill("SIGTERM")
    }
    const flags = [
      ...["--settle", "0s", "--cluster-id", "c0ffee", "--upload-part-size", "32Mi", "--upload-parts-in-flight", "2", "--upload-deadline", "20m"],
      ...["--upload-bandwidth-limit", "30Mi"],
    ]
    const operator = await runOperator(8, flags, during)
    expect(operator.status, operator.stderr).toBe(0)
  }, 120_000)

  it("a --cluster-id no store prefix can hold is a usage error, with or without a store", async () => {
    const { code, output } = await run(["operator", "--kubeconfig", join(dir, "absent"), "--cluster-id", "a/b"])
    expect(code, output).toBe(2)
    expect(output).toContain("flag --cluster-id")
  }, 60_000)

  it("passes its own proxy variables (the cluster-wide proxy's) to backup-upload; a proxy password goes by Secret reference, not into cluster-backup-pod", async () => {
    const proxyEnv = { HTTPS_PROXY: "http://backup:pr0xy-Pa55word@proxy.corp:3128", no_proxy: ".svc,10.0.0.0/16" }
    const during = async (child: RunningCli, cluster: ReturnType<typeof makeSimulatedCluster>) => {
      await waitFor("a render", () => configMapData(cluster, "cluster-backup-pod") !== undefined)
      const data = configMapData(cluster, "cluster-backup-pod")!["backup-pod.yaml"]!
      expect(data).not.toContain("pr0xy-Pa55word")
      const pod = YAML.parse(data) as BackupPod
      expect(backupPodYaml(pod)).toBe(
        renderBackupPodYaml(revisionsOfBackupPod(pod)!, {
          activeDeadlineSeconds: 9000,
          store: { claimName: "backups", clusterId: "c0ffee", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 1800 },
          proxyEnv,
        }),
      )
      expect(pod.spec.initContainers.at(-1)!.env).toEqual([
        { name: "HTTPS_PROXY", valueFrom: { secretKeyRef: { name: "cluster-backup-proxy", key: "HTTPS_PROXY" } } },
        { name: "no_proxy", value: ".svc,10.0.0.0/16" },
        { name: "CLUSTER_BACKUP_VOLUME_SIZE_LIMITS", value: '{"/backup":21474836480,"/tmp":67108864}' },
      ])
      child.kill("SIGTERM")
    }
    const operator = await runOperator(7, ["--settle", "0s", "--store-pvc", "backups", "--cluster-id", "c0ffee", "--upload-deadline", "30m"], during, [], {
      ...proxyEnv,
      HTTP_PROXY: undefined,
      http_proxy: undefined,
      https_proxy: undefined,
      NO_PROXY: undefined,
    })
    expect(operator.status).toBe(0)
    expect(operator.output).not.toContain("pr0xy-Pa55word")
  }, 120_000)

  it("waits --backoff-initial after a failed sync (jittered by up to half), not the default second", async () => {
    let delay: number | undefined
    await runOperator(
      7,
      ["--backoff-initial", "40s", "--backoff-max", "40s"],
      async (child) => {
        await waitFor("a failed sync", () => /sync failed \([^)]*\), retrying in \d+ ms/.test(child.stderr()))
        delay = Number(/sync failed \([^)]*\), retrying in (\d+) ms/.exec(child.stderr())![1])
        child.kill("SIGTERM")
      },
      [],
      {},
      // Every sync fails: the operator may not read its ConfigMaps.
      (cluster) => cluster.faults.inject(Fault.forbidden(), { verb: "get", resource: "configmaps" }),
    )
    expect(delay).toBeGreaterThanOrEqual(20_000)
    expect(delay).toBeLessThanOrEqual(40_000)
  }, 120_000)

  it("takes short lease timings for tests and small clusters: the Lease says the duration given", async () => {
    await runOperator(6, ["--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s"], async (child, cluster) => {
      const writes = () => cluster.requests.filter((r) => r.resource === "leases" && (r.verb === "update" || r.verb === "create")).length
      await waitFor("the Lease", () => cluster.get(leaseType, ns, "cluster-backup-operator") !== undefined)
      expect((cluster.get(leaseType, ns, "cluster-backup-operator")!.spec as { leaseDurationSeconds?: number }).leaseDurationSeconds).toBe(4)
      await waitFor("renewals every second", () => writes() >= 3)
      child.kill("SIGTERM")
    })
  }, 120_000)
})
