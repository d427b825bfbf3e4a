import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { parse } from "yaml"
import { describe, expect, it } from "vitest"
import { defaultOperands, operandList, operandNames, type OperandName } from "../../src/domain/operands.ts"
import { openShiftFixture, revisionReadyAnnotation } from "../../src/simulation/openshift-fixtures.ts"
import { configMapType, operatorTypes, secretType } from "../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type Obj } from "../../src/simulation/simulated-cluster.ts"
import { loadCrdSchema, openApiProblems } from "../support/kube-openapi-validator.ts"
import { k8sValidationProblems } from "../support/k8s-validate.ts"

const crdDir = join(dirname(fileURLToPath(import.meta.url)), "crds")
const crds = readdirSync(crdDir)
  .filter((f) => f.endsWith(".crd.yaml"))
  .map((f) => loadCrdSchema(join(crdDir, f)))
const crdFor = (operand: OperandName) => {
  const crd = crds.find((c) => c.plural === defaultOperands[operand].plural && c.group === "operator.openshift.io")
  if (crd === undefined) throw new Error(`no CRD for ${operand}`)
  return crd
}

const meta = (obj: Obj) =>
  obj.metadata as { name: string; namespace?: string; ownerReferences?: Array<{ name: string; uid: string }>; annotations?: Record<string, string> }
const names = (objs: ReadonlyArray<Obj>) => objs.map((o) => meta(o).name)
const decoded = (obj: Obj, key: string) => Buffer.from(String((obj.data as Record<string, string>)[key]), "base64").toString("utf8")

describe("OpenShift fixtures: operator CRs", () => {
  it("has a CRD for each of the four operator CRs", () => {
    expect(operandNames.map((o) => crdFor(o).kind)).toEqual(operandNames.map((o) => defaultOperands[o].kind))
  })

  it("the structural validator catches what the API server would reject or prune", () => {
    const { schema } = crdFor("etcd")
    const problems = openApiProblems(schema, {
      apiVersion: "operator.openshift.io/v1",
      kind: "Etcd",
      metadata: { name: "cluster" },
      spec: { managementState: "Sometimes", logLevel: "Loud", backendQuotaGiB: 99, surprise: true },
      status: {
        latestAvailableRevision: 2 ** 31,
        nodeStatuses: [{ currentRevision: 1 }, { nodeName: "a" }, { nodeName: "a" }],
        conditions: [{ type: "X", status: "Maybe", lastTransitionTime: "yesterday" }],
      },
    })
    const expected = [
      "$.spec.managementState",
      "$.spec.logLevel",
      "$.spec.backendQuotaGiB",
      "$.spec.surprise",
      "$.status.latestAvailableRevision",
      '$.status.nodeStatuses[0]: missing required field "nodeName"',
      "$.status.nodeStatuses: duplicate map entry",
      "$.status.conditions[0].status",
      "$.status.conditions[0].lastTransitionTime",
    ]
    for (const fragment of expected)
      expect(
        problems.some((p) => p.startsWith(fragment)),
        fragment,
      ).toBe(true)
    expect(openApiProblems(schema, { kind: "Etcd" })).toEqual(['$: missing required field "spec"'])
  })

  test.prop([fc.integer({ min: 1, max: 1000 }), fc.constantFrom("complete" as const, "pending" as const)], { numRuns: 15 })(
    "every CR, as stored by the cluster and after a revision bump, validates against its CRD",
    (seed, rollout) => {
      const fixture = openShiftFixture({ seed })
      const cluster = makeSimulatedCluster({ seed })
      Result.getOrThrow(fixture.load(cluster))
      for (const operand of operandNames) {
        const { schema } = crdFor(operand)
        expect(openApiProblems(schema, fixture.state.operators[operandNames.indexOf(operand)])).toEqual([])
        Result.getOrThrow(fixture.bumpRevision(cluster, operand, rollout))
        const stored = cluster.get(operatorTypes[operand], undefined, "cluster")
        expect(openApiProblems(schema, stored)).toEqual([])
        // A CRD rule (CEL, not evaluated by the validator): at most one node targets a revision.
        const nodes = (stored!.status as { nodeStatuses: Array<{ targetRevision?: number }> }).nodeStatuses
        expect(nodes.filter((n) => (n.targetRevision ?? 0) !== 0).length).toBeLessThanOrEqual(1)
      }
    },
  )

  it("describes the CR the way the operator does: Managed, latestAvailableRevision, three nodes, conditions", () => {
    const fixture = openShiftFixture({ revisions: { "kube-apiserver": 7 } })
    const cr = fixture.operatorCr("kube-apiserver", 7, "pending")
    expect(cr).toMatchObject({
      apiVersion: "operator.openshift.io/v1",
      kind: "KubeAPIServer",
      metadata: { name: "cluster" },
      spec: { managementState: "Managed" },
      status: {
        latestAvailableRevision: 7,
        nodeStatuses: [
          { nodeName: "master-0", currentRevision: 6, targetRevision: 7 },
          { nodeName: "master-1", currentRevision: 6 },
          { nodeName: "master-2", currentRevision: 6 },
        ],
      },
    })
    const conditions = (cr.status as { conditions: Array<{ type: string; status: string }> }).conditions
    expect(conditions.find((c) => c.type === "NodeInstallerProgressing")?.status).toBe("True")
    expect(fixture.operatorCr("kube-apiserver", 7, "complete").status).toMatchObject({
      nodeStatuses: [{ currentRevision: 7 }, { currentRevision: 7 }, { currentRevision: 7 }],
    })
  })
})

describe("OpenShift fixtures: revisions", () => {
  it("is deterministic: same options, same objects", () => {
    expect(JSON.stringify(openShiftFixture({ seed: 7 }).state)).toBe(JSON.stringify(openShiftFixture({ seed: 7 }).state))
    expect(JSON.stringify(openShiftFixture({ seed: 7 }).state)).not.toBe(JSON.stringify(openShiftFixture({ seed: 8 }).state))
  })

  test.prop([fc.integer({ min: 1, max: 1000 })], { numRuns: 10 })(
    "each revision has a ready revision-status and every required resource; optional ones come and stay",
    (seed) => {
      const fixture = openShiftFixture({ seed })
      for (const operand of operandList()) {
        const latest = fixture.revisions[operand.name]
        for (let revision = 1; revision <= latest; revision++) {
          const { configMaps, secrets } = fixture.revisionObjects(operand.name, revision)
          const status = configMaps[0]!
          expect(meta(status)).toMatchObject({
            name: `revision-status-${revision}`,
            namespace: operand.namespace,
            annotations: { [revisionReadyAnnotation]: "true" },
          })
          expect((status.data as Record<string, string>).revision).toBe(String(revision))
          for (const [kind, table, objects] of [
            ["cm", operand.configMaps, configMaps.slice(1)],
            ["secret", operand.secrets, secrets],
          ] as const) {
            const expected = table.filter((r) => fixture.present(operand.name, r.name, r.optional, revision)).map((r) => `${r.name}-${revision}`)
            expect(names(objects), `${operand.name} ${kind} ${revision}`).toEqual(expected)
            for (const r of table.filter((r) => !r.optional)) expect(expected).toContain(`${r.name}-${revision}`)
            for (const r of table.filter((r) => r.optional)) {
              if (fixture.present(operand.name, r.name, true, revision)) expect(fixture.present(operand.name, r.name, true, revision + 1)).toBe(true)
            }
            for (const obj of objects) expect(meta(obj).ownerReferences?.[0]?.name).toBe(`revision-status-${revision}`)
          }
        }
      }
    },
  )

  it("mixes present and absent optional resources across seeds, and honours all/none", () => {
    const optional = operandList().flatMap((o) => [...o.configMaps, ...o.secrets].filter((r) => r.optional).map((r) => [o.name, r.name] as const))
    const presence = Array.from({ length: 20 }, (_, seed) => {
      const fixture = openShiftFixture({ seed })
      return optional.map(([operand, name]) => fixture.present(operand, name, true, fixture.revisions[operand]))
    }).flat()
    expect(presence).toContain(true)
    expect(presence).toContain(false)
    const all = openShiftFixture({ optionalResources: "all" })
    const none = openShiftFixture({ optionalResources: "none" })
    expect(optional.every(([o, n]) => all.present(o, n, true, 1))).toBe(true)
    expect(optional.some(([o, n]) => none.present(o, n, true, 99))).toBe(false)
  })

  it("holds realistic keys: pod manifests, configs, kubeconfigs, CA bundles, TLS pairs, the encryption config, a script, binary data", () => {
    const fixture = openShiftFixture({
      optionalResources: "all",
      revisions: { etcd: 2, "kube-apiserver": 3, "kube-controller-manager": 2, "kube-scheduler": 2 },
    })
    const etcd = fixture.revisionObjects("etcd", 2)
    const kas = fixture.revisionObjects("kube-apiserver", 3)
    const byName = (objs: ReadonlyArray<Obj>, name: string) => objs.find((o) => meta(o).name === name)!
    const etcdPod = byName(etcd.configMaps, "etcd-pod-2").data as Record<string, string>
    expect(Object.keys(etcdPod).sort()).toEqual(["etcd-prestart.sh", "forceRedeploymentReason", "pod.yaml", "version"])
    for (const operand of operandList()) {
      const revision = fixture.revisions[operand.name]
      const pod = byName(fixture.revisionObjects(operand.name, revision).configMaps, `${operand.podConfigMap}-${revision}`)
      const manifest = parse((pod.data as Record<string, string>)["pod.yaml"]!) as Obj
      expect(k8sValidationProblems(manifest), operand.name).toEqual([])
      expect(manifest).toMatchObject({ kind: "Pod", metadata: { namespace: operand.namespace, labels: { revision: String(revision) } } })
      expect(JSON.stringify(manifest)).toContain(`/etc/kubernetes/static-pod-resources/${operand.podConfigMap}-${revision}`)
    }
    expect((byName(kas.configMaps, "config-3").data as Record<string, string>)["config.yaml"]).toContain("KubeAPIServerConfig")
    expect((byName(kas.configMaps, "kube-apiserver-cert-syncer-kubeconfig-3").data as Record<string, string>).kubeconfig).toContain("kind: Config")
    expect((byName(kas.configMaps, "etcd-serving-ca-3").data as Record<string, string>)["ca-bundle.crt"]).toMatch(/^-----BEGIN CERTIFICATE-----\n/)
    const binary = (byName(kas.configMaps, "kubelet-serving-ca-3").binaryData as Record<string, string>)["ca-bundle.der"]!
    expect(Buffer.from(binary, "base64").length).toBe(900)
    const client = byName(kas.secrets, "etcd-client-3")
    expect(client.type).toBe("kubernetes.io/tls")
    expect(decoded(client, "tls.crt")).toContain("BEGIN CERTIFICATE")
    expect(decoded(client, "tls.key")).toContain("BEGIN RSA PRIVATE KEY")
    expect(decoded(byName(kas.secrets, "encryption-config-3"), "encryption-config")).toContain("kind: EncryptionConfiguration")
    expect(decoded(byName(kas.secrets, "localhost-recovery-client-token-3"), "token")).toMatch(/^eyJ/)
    for (const obj of [...etcd.configMaps, ...kas.configMaps, ...etcd.secrets, ...kas.secrets]) {
      expect(
        k8sValidationProblems({
          ...obj,
          metadata: { ...meta(obj), ownerReferences: meta(obj).ownerReferences?.map((r) => ({ ...r, uid: "00000000-0000-4000-8000-000000000000" })) },
        }),
        meta(obj).name,
      ).toEqual([])
    }
  })

  it("loads into the cluster with owner uids resolved, sources unsuffixed and etcd's client credentials", () => {
    const fixture = openShiftFixture({ seed: 3 })
    const cluster = makeSimulatedCluster()
    Result.getOrThrow(fixture.load(cluster))
    const etcd = fixture.revisions.etcd
    const status = cluster.get(configMapType, "openshift-etcd", `revision-status-${etcd}`)!
    const pod = cluster.get(configMapType, "openshift-etcd", `etcd-pod-${etcd}`)!
    expect(meta(pod).ownerReferences?.[0]?.uid).toBe((status.metadata as { uid: string }).uid)
    expect(cluster.get(configMapType, "openshift-etcd", "etcd-pod")?.data).toEqual(pod.data)
    expect(Object.keys(cluster.get(secretType, "openshift-etcd", "etcd-client")?.data as object).sort()).toEqual(["tls.crt", "tls.key"])
    expect(Object.keys(cluster.get(configMapType, "openshift-etcd", "etcd-ca-bundle")?.data as object)).toEqual(["ca-bundle.crt"])
    expect(cluster.list(configMapType, "openshift-etcd").length + cluster.list(secretType, "openshift-etcd").length).toBeGreaterThan(10)
  })

  it("keepRevisions prunes older revisions", () => {
    const fixture = openShiftFixture({ revisions: { etcd: 6 }, keepRevisions: 2 })
    const cluster = makeSimulatedCluster()
    Result.getOrThrow(fixture.load(cluster))
    const statuses = cluster
      .list(configMapType, "openshift-etcd")
      .map((o) => meta(o).name)
      .filter((n) => n.startsWith("revision-status-"))
    expect(statuses).toEqual(["revision-status-5", "revision-status-6"])
  })

  it("bumps a revision like the revision controller: new objects, refreshed sources, CR status", () => {
    const fixture = openShiftFixture({ revisions: { "kube-scheduler": 4 } })
    const cluster = makeSimulatedCluster()
    Result.getOrThrow(fixture.load(cluster))
    expect(Result.getOrThrow(fixture.bumpRevision(cluster, "kube-scheduler", "pending"))).toBe(5)
    const ns = defaultOperands["kube-scheduler"].namespace
    expect(cluster.get(configMapType, ns, "revision-status-5")).toBeDefined()
    expect(cluster.get(configMapType, ns, "kube-scheduler-pod-5")?.data).toEqual(
      fixture.revisionObjects("kube-scheduler", 5).configMaps.find((o) => meta(o).name === "kube-scheduler-pod-5")?.data,
    )
    expect(cluster.get(configMapType, ns, "kube-scheduler-pod")?.data).toEqual(cluster.get(configMapType, ns, "kube-scheduler-pod-5")?.data)
    const cr = cluster.get(operatorTypes["kube-scheduler"], undefined, "cluster")!
    expect(cr.status).toMatchObject({
      latestAvailableRevision: 5,
      nodeStatuses: [{ currentRevision: 4, targetRevision: 5 }, { currentRevision: 4 }, { currentRevision: 4 }],
    })
    Result.getOrThrow(fixture.completeRollout(cluster, "kube-scheduler"))
    expect(cluster.get(operatorTypes["kube-scheduler"], undefined, "cluster")?.status).toMatchObject({
      latestAvailableRevision: 5,
      nodeStatuses: [{ currentRevision: 5 }, { currentRevision: 5 }, { currentRevision: 5 }],
    })
    // A bumped revision holds exactly what a fixture generated at that revision holds.
    const direct = openShiftFixture({ revisions: { "kube-scheduler": 5 } })
    expect(direct.revisionObjects("kube-scheduler", 5)).toEqual(fixture.revisionObjects("kube-scheduler", 5))
    expect(Result.isFailure(fixture.bumpRevision(makeSimulatedCluster(), "etcd"))).toBe(true)
  })
})
