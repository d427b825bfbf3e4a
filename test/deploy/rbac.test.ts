/**
 * The deploy RBAC grants exactly what the programs do: the operator's and the backup pod's
 * programs run on the simulated cluster, every API request they make is recorded, and each
 * ServiceAccount's Roles must allow every one of them (names included) and nothing unused.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer, Result, Scope } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { operandList } from "../../src/domain/operands.ts"
import { backupResources } from "../../src/programs/backup/backup-resources.ts"
import { startController } from "../../src/programs/operator/controller.ts"
import { defaultReconcileConfig } from "../../src/programs/operator/reconcile.ts"
import { ControllerMetrics } from "../../src/services/controller-metrics.ts"
import * as SimulatedKube from "../../src/simulation/simulated-kube.ts"
import { openShiftFixture } from "../../src/simulation/openshift-fixtures.ts"
import { backupPolicyType, knownResourceTypes, kubeApiPermissions, podType, secretType } from "../../src/services/kube/resources.ts"
import { policyNameLabel } from "../../src/domain/policy-pod.ts"
import { mountWaitingPodStatus, simulatedBackupReport, uploadedBackup } from "../../src/simulation/simulated-kubelet.ts"
import { makeSimulatedCluster, type RequestRecord, type SimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"
import { renderedPod } from "../programs/operator/reconcile-harness.ts"
import { repoRoot } from "../support/tools.ts"
import { until } from "../support/eventually.ts"
import { scopedTempDir } from "../support/temp-dir.ts"

interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
}
interface Grant extends Rule {
  /** undefined: cluster-wide (ClusterRole through a ClusterRoleBinding). */
  readonly namespace: string | undefined
}

/** The fields of the RBAC manifests' objects this test reads. */
interface RbacDoc {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly subjects: ReadonlyArray<{ readonly kind: string; readonly name: string }>
  readonly roleRef: { readonly kind: string; readonly name: string }
  readonly rules: ReadonlyArray<Rule>
}

const docs = ["operator-rbac.yaml", "backup-pod-rbac.yaml"].flatMap((f) =>
  YAML.parseAllDocuments(readFileSync(join(repoRoot, "deploy", f), "utf8")).map((d) => d.toJS() as RbacDoc),
)

/** Every rule bound to a ServiceAccount, with the namespace it applies in. */
const grantsOf = (serviceAccount: string): ReadonlyArray<Grant> =>
  docs
    .filter(
      (b) => (b.kind === "RoleBinding" || b.kind === "ClusterRoleBinding") && b.subjects.some((s) => s.kind === "ServiceAccount" && s.name === serviceAccount),
    )
    .flatMap((b) => {
      const role = docs.find(
        (r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name && (r.kind === "ClusterRole" || r.metadata.namespace === b.metadata.namespace),
      )
      expect(role, `role of binding ${b.metadata.name}`).toBeDefined()
      const namespace = b.kind === "RoleBinding" ? b.metadata.namespace : undefined
      return role!.rules.map((r) => ({ ...r, namespace }))
    })

/** The API group of a resource as RBAC names it (`backuppolicies/status` is in its object's group). */
const groupOf = (resource: string) => knownResourceTypes.find((t) => t.resource === resource.split("/")[0])!.group
/** The object a request names: its path name, or a `metadata.name` field selector. */
const nameOf = (r: RequestRecord) => r.name ?? /^metadata\.name=(.+)$/.exec(r.fieldSelector ?? "")?.[1]

const allows = (g: Grant, r: RequestRecord) =>
  g.apiGroups.includes(groupOf(r.resource)) &&
  g.resources.includes(r.resource) &&
  g.verbs.includes(r.verb) &&
  (g.namespace === undefined || g.namespace === r.namespace) &&
  (g.resourceNames === undefined || (r.verb !== "create" && nameOf(r) !== undefined && g.resourceNames.includes(nameOf(r)!)))

const checkExact = (serviceAccount: string, requests: ReadonlyArray<RequestRecord>) => {
  const grants = grantsOf(serviceAccount)
  expect(grants.length).toBeGreaterThan(0)
  for (const r of requests) {
    expect(
      grants.some((g) => allows(g, r)),
      `${serviceAccount} may ${r.verb} ${r.resource} ${r.namespace ?? ""}/${nameOf(r) ?? ""}`,
    ).toBe(true)
  }
  for (const g of grants) {
    for (const resource of g.resources) {
      for (const verb of g.verbs) {
        const used = requests.some((r) => allows({ ...g, resources: [resource], verbs: [verb] }, r))
        expect(used, `${serviceAccount} is granted ${verb} ${resource} in ${g.namespace ?? "the cluster"} but never uses it`).toBe(true)
        expect(kubeApiPermissions.some((p) => p.resource === resource && p.verb === verb && p.apiGroup === groupOf(resource))).toBe(true)
      }
    }
  }
}

/**
 * A yearly policy whose run is overdue (last scheduled two years ago) and that keeps no succeeded pod: the operator creates
 * one pod (a catch-up), then deletes it once it succeeded; the next run is months away, so no second pod comes.
 */
const overduePolicy = (cluster: SimulatedCluster) => {
  const name = "yearly"
  Result.getOrThrow(
    cluster.create(backupPolicyType, {
      metadata: { name },
      spec: { schedule: "0 0 1 1 *", store: { pvc: { claimName: "backups" } }, successfulPodsHistoryLimit: 0 },
    }),
  )
  Result.getOrThrow(cluster.updateStatus(backupPolicyType, undefined, name, { lastScheduleTime: new Date(Date.now() - 2 * 366 * 86_400_000).toISOString() }))
  return name
}
const policyPods = (cluster: SimulatedCluster, policy: string) => cluster.list(podType, "openshift-etcd", `${policyNameLabel}=${policy}`)

/** The policy pod the operator created in `operatorRequests`, as stored. */
let createdPolicyPod: { readonly metadata: { readonly ownerReferences?: ReadonlyArray<Record<string, unknown>> } } | undefined

/** The operator's life on a cluster: lead, render, follow a bump, see a backup pod end, run a policy's backup, shut down. */
const operatorRequests = async (): Promise<ReadonlyArray<RequestRecord>> => {
  const cluster: SimulatedCluster = makeSimulatedCluster()
  const fixture = openShiftFixture({ seed: 9 })
  Result.getOrThrow(fixture.load(cluster))
  const policy = overduePolicy(cluster)
  // Behind a proxy with credentials: the operator checks the Secret its pods take them from.
  Result.getOrThrow(
    cluster.create(secretType, { metadata: { name: "cluster-backup-proxy", namespace: "openshift-etcd" }, data: { HTTPS_PROXY: "aHR0cDovL3U6cEBwOjMxMjg=" } }),
  )
  const before = cluster.requests.length
  await Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      yield* startController({
        reconcile: defaultReconcileConfig({ settleMs: 0, minIntervalMs: 0, identity: "a", podOptions: { proxyEnv: { HTTPS_PROXY: "http://u:p@proxy:3128" } } }),
        election: {
          namespace: "openshift-etcd",
          leaseName: "cluster-backup-operator",
          identity: "a",
          leaseDurationMs: 1000,
          renewDeadlineMs: 600,
          retryPeriodMs: 30,
        },
        resyncMs: 50,
        minBackoffMs: 20,
        maxBackoffMs: 100,
      }).pipe(
        Effect.provide(
          Layer.merge(
            SimulatedKube.inMemory(cluster),
            Layer.sync(ControllerMetrics, () => ControllerMetrics.make("openshift-etcd")),
          ),
        ),
        Scope.provide(scope),
      )
      yield* until("a render", () => renderedPod(cluster) !== undefined)
      Result.getOrThrow(fixture.bumpRevision(cluster, "etcd"))
      yield* Effect.sleep(200)
      const pod = Result.getOrThrow(cluster.create(podType, renderedPod(cluster)!))
      const manualPod = (pod.metadata as { name: string }).name
      // On its node for three minutes without a container started: the operator reads its Events for the Warning's words.
      Result.getOrThrow(cluster.updateStatus(podType, "openshift-etcd", manualPod, mountWaitingPodStatus(new Date(Date.now() - 180_000).toISOString())))
      yield* until("the pod's Events read", () => cluster.requests.some((r) => r.resource === "events" && r.verb === "list"))
      Result.getOrThrow(cluster.terminatePod("openshift-etcd", manualPod, { phase: "Succeeded" }))
      yield* until("the policy's pod", () => policyPods(cluster, policy).length === 1)
      const policyPod = policyPods(cluster, policy)[0]!
      createdPolicyPod = policyPod as typeof createdPolicyPod
      const podName = (policyPod.metadata as { name: string }).name
      Result.getOrThrow(cluster.terminatePod("openshift-etcd", podName, uploadedBackup(simulatedBackupReport(policyPod, new Date()))))
      yield* until("the policy's succeeded pod deleted (history limit 0)", () => policyPods(cluster, policy).length === 0)
      yield* Effect.sleep(200)
      yield* Scope.close(scope, Exit.void)
    }),
  )
  return cluster.requests.slice(before)
}

/** The backup pod's API use: backup-resources for each operand. */
const backupPodRequests = async (): Promise<ReadonlyArray<RequestRecord>> => {
  const { cluster, fixture } = loadedCluster()
  const before = cluster.requests.length
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* scopedTempDir("rbac")
        for (const operand of operandList()) {
          yield* backupResources({ backupDir: dir, operand: operand.name, revision: fixture.revisions[operand.name] })
        }
      }),
    ).pipe(Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), NodeServices.layer))),
  )
  return cluster.requests.slice(before)
}

describe("deploy RBAC", () => {
  let operator: ReadonlyArray<RequestRecord> = []
  let backupPod: ReadonlyArray<RequestRecord> = []
  beforeAll(async () => {
    operator = await operatorRequests()
    backupPod = await backupPodRequests()
  })

  it("the operator's account allows every request the operator makes, by name where RBAC can, and nothing it does not use", () => {
    expect(operator.length).toBeGreaterThan(10)
    checkExact("cluster-backup-operator", operator)
  })

  // OpenShift runs the OwnerReferencesPermissionEnforcement admission plugin: an ownerReference with blockOwnerDeletion
  // is refused (Forbidden) unless its creator may update the owner's `finalizers` subresource.
  it("the operator's pods set blockOwnerDeletion on an owner only where its account may update that owner's finalizers", () => {
    const refs = createdPolicyPod?.metadata.ownerReferences ?? []
    expect(refs.length).toBeGreaterThan(0)
    const grants = grantsOf("cluster-backup-operator")
    for (const ref of refs.filter((r) => r.blockOwnerDeletion === true)) {
      const type = knownResourceTypes.find((t) => t.kind === ref.kind)!
      const finalizers = `${type.resource}/finalizers`
      expect(
        grants.some((g) => g.apiGroups.includes(type.group) && g.resources.includes(finalizers) && g.verbs.includes("update") && g.namespace === undefined),
        `blockOwnerDeletion on ${ref.kind} ${String(ref.name)} needs update on ${finalizers}`,
      ).toBe(true)
    }
  })

  it("the backup pod's account allows exactly its reads of revisioned ConfigMaps and Secrets", () => {
    expect(new Set(backupPod.map((r) => `${r.verb} ${r.resource}`))).toEqual(new Set(["get configmaps", "get secrets"]))
    checkExact("cluster-backup", backupPod)
  })
})
