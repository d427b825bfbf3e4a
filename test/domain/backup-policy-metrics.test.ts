import { describe, expect, it } from "vitest"
import { policyMetricList } from "../../src/domain/backup-policy-metrics.ts"

describe("policy metrics", () => {
  it("are uniquely named Prometheus metrics, each labelled by policy; counters end in _total, gauges do not", () => {
    const names = policyMetricList.map((m) => m.name)
    expect(new Set(names).size).toBe(names.length)
    for (const m of policyMetricList) {
      expect(m.name).toMatch(/^cluster_backup_policy_[a-z_]+$/)
      expect(m.labels).toContain("policy")
      expect(m.name.endsWith("_total")).toBe(m.type === "counter")
      expect(m.help.length).toBeGreaterThan(10)
    }
  })
})
