/**
 * The PrometheusRule's alerts evaluated by Prometheus's own engine (promtool, from Debian's
 * prometheus package, installed by scripts/setup.sh): `promtool check rules` on its groups, then
 * `promtool test rules` on the series the operator exports (src/domain/backup-policy-metrics.ts's
 * names, with the job and pod labels a scrape adds) for each situation the alerts are meant to
 * tell apart, with the annotations as Prometheus renders them.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { repoRoot } from "../support/tools.ts"
import { tempDir } from "../support/temp-dir.ts"

const local = join(repoRoot, ".tools", "prometheus", "bin", "promtool")
const promtool = existsSync(local) ? local : "promtool"

interface Rule {
  readonly alert: string
  readonly annotations: Record<string, string>
}
const groups = (YAML.parse(readFileSync(join(repoRoot, "deploy", "prometheus-rule.yaml"), "utf8")) as { spec: { groups: Array<{ rules: Array<Rule> }> } }).spec
  .groups
const rules = new Map(groups.flatMap((g) => g.rules).map((r) => [r.alert, r] as const))

let dir: string
beforeAll(() => {
  dir = tempDir("alert-rules-promtool")
  writeFileSync(join(dir, "rules.yaml"), YAML.stringify({ groups }))
})

const run = (...args: Array<string>) => spawnSync(promtool, args, { cwd: dir, encoding: "utf8" })

/** One policy's series, as the operator exports them (one sample a minute for `minutes`); absent values are not exported. */
interface PolicySeries {
  readonly policy: string
  readonly verify?: "None" | "Full" | "TestRestore"
  readonly suspended?: boolean
  /** Metric name without `cluster_backup_policy_` -> its promtool expanding notation ('0x300', '1x10 0x30'). */
  readonly values: Record<string, string>
}

const series = (s: PolicySeries, minutes: number) => [
  {
    series: `cluster_backup_policy_info{policy="${s.policy}",verify="${s.verify ?? "None"}",store="s3",suspended="${s.suspended === true}",job="cluster-backup-operator",pod="op-1"}`,
    values: `1x${minutes}`,
  },
  ...Object.entries(s.values).map(([name, values]) => ({
    series: `cluster_backup_policy_${name}{policy="${s.policy}",job="cluster-backup-operator",pod="op-1"}`,
    values,
  })),
]

/** An alert as Prometheus fires it: the rule's labels, and its annotations with the policy and the value rendered. */
const firing = (alert: string, policy: string, severity: string, value?: string) => ({
  exp_labels: { policy, severity },
  exp_annotations: Object.fromEntries(
    Object.entries(rules.get(alert)!.annotations).map(([k, v]) => [
      k,
      v
        .replaceAll("{{ $labels.policy }}", policy)
        .replace(/\{\{ \$value \| \w+ \}\}/g, value ?? "")
        .trim(),
    ]),
  ),
})

interface Check {
  readonly at: string
  readonly alert: string
  readonly expected: ReadonlyArray<{ readonly exp_labels: Record<string, string>; readonly exp_annotations: Record<string, string> }>
}

/** Runs `promtool test rules` on the policies' series and the checks; returns its exit status and output. */
const evaluate = (
  name: string,
  policies: ReadonlyArray<PolicySeries>,
  minutes: number,
  checks: ReadonlyArray<Check>,
  other: ReadonlyArray<{ readonly series: string; readonly values: string }> = [],
) => {
  const file = `${name}.test.yaml`
  const test = {
    rule_files: ["rules.yaml"],
    evaluation_interval: "1m",
    tests: [
      {
        interval: "1m",
        input_series: [...policies.flatMap((p) => series(p, minutes)), ...other],
        alert_rule_test: checks.map((c) => ({ eval_time: c.at, alertname: c.alert, exp_alerts: c.expected })),
      },
    ],
  }
  writeFileSync(join(dir, file), YAML.stringify(test))
  const result = run("test", "rules", file)
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

const expectPasses = (result: ReturnType<typeof evaluate>) => expect(result.status, result.output).toBe(0)

describe("the alert rules under promtool", () => {
  it("promtool finds every rule valid", () => {
    const result = run("check", "rules", "rules.yaml")
    expect(result.status, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain(`SUCCESS: ${rules.size} rules found`)
  })

  it("ClusterBackupNoRecentBackup: an hourly schedule without a success for 2 h fires after its 10 min; a suspended one does not", () => {
    const hourly = { created_timestamp_seconds: "0x200", last_success_timestamp_seconds: "0x200", schedule_interval_seconds: "3600x200" }
    const result = evaluate(
      "no-recent-schedule",
      [
        { policy: "hourly", values: hourly },
        { policy: "paused", suspended: true, values: hourly },
      ],
      200,
      [
        { at: "125m", alert: "ClusterBackupNoRecentBackup", expected: [] },
        { at: "131m", alert: "ClusterBackupNoRecentBackup", expected: [firing("ClusterBackupNoRecentBackup", "hourly", "critical", "2h 11m 0s")] },
      ],
    )
    expectPasses(result)
  })

  it("ClusterBackupNoRecentBackup: revisions settled 10 min in and not backed up fire past twice minInterval + 1 h; a revision-only policy whose backup holds the current revisions never does", () => {
    const revisionOnly = { created_timestamp_seconds: "0x2000", last_success_timestamp_seconds: "0x2000", min_interval_seconds: "3600x2000" }
    const result = evaluate(
      "no-recent-revisions",
      [
        { policy: "pending", values: { ...revisionOnly, revision_change_pending_since_timestamp_seconds: "600x2000" } },
        { policy: "current", values: revisionOnly },
      ],
      2000,
      [
        // 600 s + 2 x 3600 s + 3600 s = 190 min; strictly later, then 10 min pending.
        { at: "199m", alert: "ClusterBackupNoRecentBackup", expected: [] },
        { at: "202m", alert: "ClusterBackupNoRecentBackup", expected: [firing("ClusterBackupNoRecentBackup", "pending", "critical", "3h 12m 0s")] },
        { at: "30h", alert: "ClusterBackupNoRecentBackup", expected: [firing("ClusterBackupNoRecentBackup", "pending", "critical", "1d 5h 50m 0s")] },
      ],
    )
    expectPasses(result)
  })

  it("ClusterBackupLastBackupFailed: a failure after the newest success fires at once, also for a policy that never succeeded; a success after it clears it", () => {
    const result = evaluate(
      "last-failed",
      [
        {
          policy: "failing",
          values: { created_timestamp_seconds: "0x30", last_success_timestamp_seconds: "100x30", last_failure_timestamp_seconds: "200x30" },
        },
        { policy: "never", values: { created_timestamp_seconds: "0x30", last_failure_timestamp_seconds: "50x30" } },
        {
          policy: "recovered",
          values: { created_timestamp_seconds: "0x30", last_success_timestamp_seconds: "200x30", last_failure_timestamp_seconds: "100x30" },
        },
      ],
      30,
      [
        {
          at: "1m",
          alert: "ClusterBackupLastBackupFailed",
          expected: [firing("ClusterBackupLastBackupFailed", "failing", "warning"), firing("ClusterBackupLastBackupFailed", "never", "warning")],
        },
      ],
    )
    expectPasses(result)
  })

  it("ClusterBackupVerifiedBackupTooOld: a daily policy's verified backup is too old past 72 h; a weekly one's only past two weeks; a policy that does not verify never", () => {
    const verifiedAtZero = (interval: number) => ({
      created_timestamp_seconds: "0x4500",
      newest_verified_backup_timestamp_seconds: "0x4500",
      schedule_interval_seconds: `${interval}x4500`,
    })
    const result = evaluate(
      "verified-too-old",
      [
        { policy: "daily", verify: "Full", values: verifiedAtZero(86_400) },
        { policy: "weekly", verify: "Full", values: verifiedAtZero(604_800) },
        { policy: "unverified", verify: "None", values: verifiedAtZero(86_400) },
      ],
      4500,
      [
        { at: "72h5m", alert: "ClusterBackupVerifiedBackupTooOld", expected: [] },
        {
          at: "72h11m",
          alert: "ClusterBackupVerifiedBackupTooOld",
          expected: [firing("ClusterBackupVerifiedBackupTooOld", "daily", "warning", "3d 0h 11m 0s")],
        },
      ],
    )
    expectPasses(result)
  })

  it("ClusterBackupStoreUnreachable: a store unreachable for 15 min fires; one that came back clears", () => {
    const result = evaluate(
      "store-unreachable",
      [
        { policy: "down", values: { store_reachable: "1x10 0x30" } },
        { policy: "flapping", values: { store_reachable: "1x10 0x10 1x20" } },
      ],
      40,
      [
        { at: "24m", alert: "ClusterBackupStoreUnreachable", expected: [] },
        { at: "27m", alert: "ClusterBackupStoreUnreachable", expected: [firing("ClusterBackupStoreUnreachable", "down", "warning")] },
      ],
    )
    expectPasses(result)
  })

  it("ClusterBackupVolumeBelowQuota: pods short of a backup at etcd's quota for 15 min fire with what they lack; a volume raised in time, or one that holds it, does not", () => {
    const result = evaluate(
      "volume-below-quota",
      [
        { policy: "short", values: { volume_shortfall_bytes: "1073741824x40" } },
        { policy: "raised", values: { volume_shortfall_bytes: "1073741824x10 0x30" } },
        { policy: "fits", values: { volume_shortfall_bytes: "0x40" } },
      ],
      40,
      [
        { at: "14m", alert: "ClusterBackupVolumeBelowQuota", expected: [] },
        { at: "16m", alert: "ClusterBackupVolumeBelowQuota", expected: [firing("ClusterBackupVolumeBelowQuota", "short", "warning", "1Gi")] },
      ],
    )
    expectPasses(result)
  })

  it("ClusterBackupPodNotStarting: a pod that cannot start for 5 min fires; one that started in time, or none running, does not", () => {
    const result = evaluate(
      "pod-not-starting",
      [
        { policy: "stuck", values: { backup_pod_not_starting: "0x10 1x30" } },
        { policy: "started", values: { backup_pod_not_starting: "0x10 1x3 0x27" } },
        { policy: "idle", values: { backup_pod_not_starting: "0x40" } },
      ],
      40,
      [
        { at: "14m", alert: "ClusterBackupPodNotStarting", expected: [] },
        { at: "16m", alert: "ClusterBackupPodNotStarting", expected: [firing("ClusterBackupPodNotStarting", "stuck", "warning")] },
      ],
    )
    expectPasses(result)
  })

  it("ClusterBackupOperatorDown: fires once no replica has led for 15 min (none leading, none scraped, the leader gone); a standby beside a leader, or a handover, does not", () => {
    const leader = (pod: string, values: string) => ({ series: `cluster_backup_leader{job="cluster-backup-operator-metrics",pod="${pod}"}`, values })
    const down = [{ exp_labels: { severity: "warning" }, exp_annotations: firing("ClusterBackupOperatorDown", "", "warning").exp_annotations }]
    const check = (name: string, other: ReadonlyArray<ReturnType<typeof leader>>, quietAt: string, firesAt?: string) =>
      expectPasses(
        evaluate(
          name,
          [],
          60,
          [
            { at: quietAt, alert: "ClusterBackupOperatorDown", expected: [] },
            ...(firesAt === undefined ? [] : [{ at: firesAt, alert: "ClusterBackupOperatorDown", expected: down }]),
          ],
          other,
        ),
      )
    check("operator-leading", [leader("op-1", "1x60"), leader("op-2", "0x60")], "50m")
    check("operator-handover", [leader("op-1", "1x10 0x50"), leader("op-2", "0x12 1x48")], "50m")
    check("operator-none-leading", [leader("op-1", "0x60"), leader("op-2", "0x60")], "14m", "16m")
    check("operator-not-scraped", [], "14m", "16m")
    // The leader's last sample at 10 min is read for 5 more (Prometheus's lookback), then 15 min pending.
    check("operator-leader-gone", [leader("op-1", "1x10"), leader("op-2", "0x60")], "29m", "31m")
  })

  it("a wrong expectation fails (so the checks above can fail): the hourly policy is not alerted after 1 h", () => {
    const hourly = { created_timestamp_seconds: "0x100", last_success_timestamp_seconds: "0x100", schedule_interval_seconds: "3600x100" }
    const result = evaluate("control", [{ policy: "hourly", values: hourly }], 100, [
      { at: "70m", alert: "ClusterBackupNoRecentBackup", expected: [firing("ClusterBackupNoRecentBackup", "hourly", "critical", "1h 10m 0s")] },
    ])
    expect(result.status).toBe(1)
    expect(result.output).toContain("FAILED")
  })
})
