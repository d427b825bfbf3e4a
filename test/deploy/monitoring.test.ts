import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parser } from "@prometheus-io/lezer-promql"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { policyMetricList } from "../../src/domain/backup-policy-metrics.ts"
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
const [service, monitor] = load("service-monitor.yaml")
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
  it("alerts on no recent backup, a failed last backup, an old verified backup and an unreachable store", () => {
    expect(rules.map((r) => r.alert)).toEqual([
      "ClusterBackupNoRecentBackup",
      "ClusterBackupLastBackupFailed",
      "ClusterBackupVerifiedBackupTooOld",
      "ClusterBackupStoreUnreachable",
    ])
  })

  it.each(rules.map((r) => [r.alert, r] as const))("%s: its expression parses and reads only the policy metrics and their labels", (_, r) => {
    const { metrics, labels, errors } = parse(r.expr)
    expect(errors).toBe(0)
    expect(metrics.size).toBeGreaterThan(0)
    const defined = new Map(policyMetricList.map((m) => [m.name, m.labels] as const))
    for (const m of metrics) expect(defined.has(m), m).toBe(true)
    const usable = new Set([...metrics].flatMap((m) => defined.get(m) ?? []))
    for (const l of labels) expect(usable.has(l), l).toBe(true)
  })

  it.each(rules.map((r) => [r.alert, r] as const))("%s has a severity, a summary, a description and a runbook line", (_, r) => {
    expect(["critical", "warning", "info"]).toContain(r.labels.severity)
    for (const key of ["summary", "description", "runbook"]) expect(r.annotations[key]?.trim(), key).toBeTruthy()
    expect(r.annotations.summary).toContain("{{ $labels.policy }}")
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

  it("the ServiceMonitor schema refuses an unknown endpoint field", () => {
    const broken = { ...monitor, spec: { ...monitor!.spec, endpoints: [{ port: "metrics", pathh: "/metrics" }] } }
    expect(customResourceProblems(broken)?.join("\n")).toContain("unknown field")
  })
})
