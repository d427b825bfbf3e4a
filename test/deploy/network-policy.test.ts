/**
 * openshift-etcd may hold a default-deny NetworkPolicy for all its pods: cluster-etcd-operator's
 * bindata/etcd/networkpolicy-default-deny.yaml (Ingress and Egress, podSelector {}), with egress allowed only
 * for its own guard, installer, pruner and backup pods (networkpolicy-allow.yaml, by their `app` label). The
 * operator and the backup pods must then be let out by policies of their own (API server, etcd, the store, DNS),
 * and Prometheus let in to the operator's metrics port. NetworkPolicies add up: a pod is allowed what any policy
 * selecting it allows.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { backupPodLabelValues } from "../../src/domain/backup-pod-names.ts"
import { policyNameLabel } from "../../src/domain/policy-pod.ts"
import { repoRoot } from "../support/tools.ts"

interface Selector {
  readonly matchLabels?: Readonly<Record<string, string>>
  readonly matchExpressions?: ReadonlyArray<{ readonly key: string; readonly operator: string; readonly values?: ReadonlyArray<string> }>
}
interface Rule {
  readonly ports?: ReadonlyArray<{ readonly port?: number | string; readonly protocol?: string }>
  readonly to?: ReadonlyArray<unknown>
  readonly from?: ReadonlyArray<unknown>
}
interface NetworkPolicy {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly spec: {
    readonly podSelector: Selector
    readonly policyTypes?: ReadonlyArray<string>
    readonly ingress?: ReadonlyArray<Rule>
    readonly egress?: ReadonlyArray<Rule>
  }
}

const deployDir = join(repoRoot, "deploy")
const kustomization = YAML.parse(readFileSync(join(deployDir, "kustomization.yaml"), "utf8")) as { resources: Array<string> }
// biome-ignore lint/suspicious/noExplicitAny: the manifests are walked ad hoc
const all = kustomization.resources.flatMap((f) => YAML.parseAllDocuments(readFileSync(join(deployDir, f), "utf8")).map((d) => d.toJS() as any))
const policies = all.filter((o): o is NetworkPolicy => o.kind === "NetworkPolicy" && o.metadata.namespace === "openshift-etcd")

const selects = (s: Selector, labels: Readonly<Record<string, string>>) =>
  Object.entries(s.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (s.matchExpressions ?? []).every((e) =>
    e.operator === "In"
      ? e.values?.includes(labels[e.key] ?? "\u0000") === true
      : e.operator === "Exists"
        ? e.key in labels
        : e.operator === "NotIn"
          ? !(e.values ?? []).includes(labels[e.key] ?? "\u0000")
          : !(e.key in labels),
  )

const selecting = (labels: Readonly<Record<string, string>>, type: "Ingress" | "Egress") =>
  policies.filter((p) => selects(p.spec.podSelector, labels) && (p.spec.policyTypes ?? ["Ingress"]).includes(type))

/** Some policy lets the pod reach any destination on any port. */
const egressAnywhere = (labels: Readonly<Record<string, string>>) =>
  selecting(labels, "Egress").some((p) => (p.spec.egress ?? []).some((r) => r.to === undefined && r.ports === undefined))

/** Some policy lets any source reach `port` (by number or name) of the pod. */
const ingressOn = (labels: Readonly<Record<string, string>>, ports: ReadonlyArray<number | string>) =>
  selecting(labels, "Ingress").some((p) =>
    (p.spec.ingress ?? []).some((r) => r.from === undefined && (r.ports === undefined || r.ports.some((x) => x.port !== undefined && ports.includes(x.port)))),
  )

const deployment = all.find((o) => o.kind === "Deployment")
const operatorLabels = deployment.spec.template.metadata.labels as Record<string, string>
const metricsPort = (deployment.spec.template.spec.containers[0].ports as Array<{ name: string; containerPort: number }>).find((p) => p.name === "metrics")!

describe("NetworkPolicies beside openshift-etcd's default deny", () => {
  it("let the operator reach the API server (any destination: its address differs between clusters)", () => {
    expect(egressAnywhere(operatorLabels)).toBe(true)
  })

  it("let the backup pods, manual and a policy's, reach etcd, the API server and the store", () => {
    expect(egressAnywhere(backupPodLabelValues)).toBe(true)
    expect(egressAnywhere({ ...backupPodLabelValues, [policyNameLabel]: "nightly" })).toBe(true)
  })

  it("let Prometheus scrape the operator's metrics port, and nothing else in", () => {
    expect(ingressOn(operatorLabels, [metricsPort.name, metricsPort.containerPort])).toBe(true)
    expect(ingressOn(operatorLabels, [9999])).toBe(false)
    expect(selecting(backupPodLabelValues, "Ingress")).toEqual([])
  })
})
