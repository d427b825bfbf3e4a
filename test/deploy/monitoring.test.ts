import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parser } from "@prometheus-io/lezer-promql"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { policyMetricList } from "../../src/domain/backup-policy-metrics.ts"
import { leaderMetricName } from "../../src/services/controller-metrics.ts"
import { customResourceProblems } from "../support/manifest-validate.ts"
import { repoRoot } from "../support/tools.ts"

interface Rule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
  readonly labels: Record<string, string>
  readonly annotations: Record<string, string>
}
// biome-ignore lint/suspicious/noExplicitAny: the assertions walk the parsed manifests ad hoc
type Obj = Record<string, any>

const load = (file: string) => YAML.parseAllDocuments(readFileSync(join(repoRoot, "deploy", file), "utf8")).map((d) => d.toJS() as Obj)
const [rule] = load("prometheus-rule.yaml")
const rules = (rule!.spec.groups as Array<{ rules: Array<Rule> }>).flatMap((g) => g.rules)
const [service, monitor, prometheusRole, prometheusBinding] = load("service-monitor.yaml")
/**
 * The namespaces OpenShift's platform Prometheus reads ServiceMonitors and PrometheusRules from are those labelled
 * openshift.io/cluster-monitoring=true: cluster-etcd-operator's manifests label openshift-etcd-operator
 * (manifests/0000_20_etcd-operator_00_namespace.yaml) and not openshift-etcd (bindata/etcd/ns.yaml).
 */
const monitoredNamespaces = ["openshift-etcd-operator"]
const [deployment] = load("deployment.yaml")

/** The metric names and label names an expression uses; and how many syntax errors the PromQL parser found. */
const parse = (expr: string) => {
  const metrics = new Set<string>()
  const labels = new Set<string>()
  let errors = 0
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors++
      if (node.name === "Identifier") metrics.add(expr.slice(node.from, node.to))
      if (node.name === "LabelName") labels.add(expr.slice(node.from, node.to))
    },
  })
  return { metrics, labels, errors }
}

describe("PrometheusRule", () => {
  it("alerts on no recent backup, a failed last backup, an old verified backup, an unreachable store, a volume short of etcd's quota, a backup pod that cannot start, and no operator leading", () => {
    expect(rules.map((r) => r.alert)).toEqual([
      "ClusterBackupNoRecentBackup",
      "ClusterBackupLastBackupFailed",
      "ClusterBackupVerifiedBackupTooOld",
      "ClusterBackupStoreUnreachable",
      "ClusterBackupVolumeBelowQuota",
      "ClusterBackupPodNotStarting",
      "ClusterBackupOperatorDown",
    ])
  })

  it.each(rules.map((r) => [r.alert, r] as const))(
    "%s: its expression parses and reads only the operator's policy and leader metrics and their labels",
    (_, r) => {
      const { metrics, labels, errors } = parse(r.expr)
      expect(errors).toBe(0)
      expect(metrics.size).toBeGreaterThan(0)
      const defined = new Map([...policyMetricList.map((m) => [m.name, m.labels] as const), [leaderMetricName, []] as const])
      for (const m of metrics) expect(defined.has(m), m).toBe(true)
      const usable = new Set([...metrics].flatMap((m) => defined.get(m) ?? []))
      for (const l of labels) expect(usable.has(l), l).toBe(true)
    },
  )

  it.each(rules.map((r) => [r.alert, r] as const))("%s has a severity, a summary, a description and a runbook line", (_, r) => {
    expect(["critical", "warning", "info"]).toContain(r.labels.severity)
    for (const key of ["summary", "description", "runbook"]) expect(r.annotations[key]?.trim(), key).toBeTruthy()
    if (r.alert !== "ClusterBackupOperatorDown") expect(r.annotations.summary).toContain("{{ $labels.policy }}")
  })

  it("ClusterBackupNoRecentBackup follows each policy's triggers: twice a schedule's interval, or changed revisions waiting past twice minInterval; no fixed 25 h", () => {
    const r = rules.find((x) => x.alert === "ClusterBackupNoRecentBackup")!
    const { metrics } = parse(r.expr)
    for (const m of [
      "cluster_backup_policy_schedule_interval_seconds",
      "cluster_backup_policy_revision_change_pending_since_timestamp_seconds",
      "cluster_backup_policy_min_interval_seconds",
    ])
      expect(metrics.has(m), m).toBe(true)
    expect(r.expr).not.toMatch(/25 \* 3600/)
  })

  // A weekly policy's newest verified backup is up to a week old: a fixed 72 h alerted four days of every week.
  it("ClusterBackupVerifiedBackupTooOld waits twice a schedule's interval where that is longer than 72 h", () => {
    const expr = rules.find((x) => x.alert === "ClusterBackupVerifiedBackupTooOld")!.expr.replace(/\s+/g, " ")
    expect(parse(expr).metrics.has("cluster_backup_policy_schedule_interval_seconds")).toBe(true)
    expect(expr).toContain("> on (policy) clamp_min(2 * max by (policy) (cluster_backup_policy_schedule_interval_seconds), 72 * 3600)")
  })

  it("lives in a namespace the platform Prometheus reads rules from", () => {
    expect(monitoredNamespaces).toContain(rule!.metadata.namespace)
  })

  it("the parser finds a broken expression (so the check above can fail)", () => {
    expect(parse("max by (policy) (cluster_backup_policy_store_reachable == ").errors).toBeGreaterThan(0)
  })

  it("the PrometheusRule schema refuses a rule without an expression", () => {
    const broken = { ...rule, spec: { groups: [{ name: "g", rules: [{ alert: "A" }] }] } }
    expect(customResourceProblems(broken)?.join("\n")).toContain('missing required field "expr"')
  })
})

describe("ServiceMonitor", () => {
  const container = deployment!.spec.template.spec.containers[0]
  it("scrapes /metrics on the operator's metrics port through a Service that selects the operator's pods", () => {
    expect(container.ports).toContainEqual(expect.objectContaining({ name: "metrics", containerPort: 8080 }))
    expect(container.command.join(" ")).toContain("--metrics-port 8080")
    expect(service!.spec.selector).toEqual(deployment!.spec.template.metadata.labels)
    expect(service!.spec.ports).toContainEqual(expect.objectContaining({ name: "metrics", targetPort: "metrics" }))
    expect(monitor!.spec.selector.matchLabels).toEqual(service!.metadata.labels)
    expect(monitor!.spec.namespaceSelector.matchNames).toEqual([service!.metadata.namespace])
    expect(monitor!.spec.endpoints).toEqual([expect.objectContaining({ port: "metrics", path: "/metrics" })])
  })

  it("lives in a namespace the platform Prometheus reads, and Prometheus may find the Service's endpoints in its namespace", () => {
    expect(monitoredNamespaces).toContain(monitor!.metadata.namespace)
    expect(prometheusBinding!.metadata.namespace).toBe(service!.metadata.namespace)
    expect(prometheusBinding!.subjects).toEqual([{ kind: "ServiceAccount", name: "prometheus-k8s", namespace: "openshift-monitoring" }])
    expect(prometheusBinding!.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: prometheusRole!.metadata.name })
    expect(prometheusRole!.metadata.namespace).toBe(service!.metadata.namespace)
    const granted = (prometheusRole!.rules as Array<{ apiGroups: Array<string>; resources: Array<string>; verbs: Array<string> }>).flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`))),
    )
    for (const need of [
      "list /services",
      "watch /services",
      "list /endpoints",
      "watch /endpoints",
      "list /pods",
      "list discovery.k8s.io/endpointslices",
      "watch discovery.k8s.io/endpointslices",
    ])
      expect(granted).toContain(need)
  })

  it("the ServiceMonitor schema refuses an unknown endpoint field", () => {
    const broken = { ...monitor, spec: { ...monitor!.spec, endpoints: [{ port: "metrics", pathh: "/metrics" }] } }
    expect(customResourceProblems(broken)?.join("\n")).toContain("unknown field")
  })
})
