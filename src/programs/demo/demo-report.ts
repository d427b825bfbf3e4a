/** The demo's printed account: stage headings and the closing summary table (pure text). */
import type { RecoverySummary } from "./demo-recovery-stage.ts"
import { formatRevisionSet, type RevisionSet } from "../../domain/revisions.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import type { PolicySummary } from "./demo-policy-stages.ts"

export interface DemoSummary {
  readonly backupDir: string
  readonly kept: boolean
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number }>
  readonly revisions: RevisionSet
  readonly etcdRevision: number
  readonly pairing: { readonly verdict: string; readonly reasons: ReadonlyArray<string> }
  /** The OpenShift version the snapshot records (ClusterVersion), if any. */
  readonly openshiftVersion: string | undefined
  /** The backup's decryption check of the snapshot's encrypted values against the bundled encryption-config. */
  readonly decryption: { readonly verdict: string; readonly message: string } | undefined
  readonly verified: boolean
  readonly backupStatus: string
  readonly secondRender: { readonly revisions: RevisionSet; readonly change: string } | undefined
  readonly policy: PolicySummary
  readonly recovery: RecoverySummary
  readonly timings: ReadonlyArray<{ readonly stage: string; readonly ms: number }>
}

/** `==> 3/9 etcd` */
export const stageHeading = (index: number, total: number, title: string): string => `\n==> ${index}/${total} ${title}`

/** Columns padded to their widest cell, a rule under the header. */
export const formatTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

const ms = (n: number) => (n < 1000 ? `${Math.round(n)}ms` : `${(n / 1000).toFixed(1)}s`)

const policyRows = (p: PolicySummary): ReadonlyArray<readonly [string, string]> => [
  ...p.listings.map(
    (listing, i) => [`policy backup ${i + 1}: in Swift`, listing.map((b) => `${b.id}${b.verified ? ` (verified ${b.verifyMode})` : ""}`).join(", ")] as const,
  ),
  [`retention keepLast ${p.policy.keepLast}`, p.pruned.length === 0 ? "pruned nothing" : `pruned ${p.pruned.join(", ")}`],
  [
    "backup-now (a person's request)",
    `${p.requested.id}${p.requested.verifyMode === undefined ? "" : ` (verified ${p.requested.verifyMode})`}; pruned ${p.requested.pruned.join(", ") || "nothing"}`,
  ],
  ["policy status", `${p.healthy ? "healthy" : "UNHEALTHY"}: ${p.conditions}`],
  ["ClusterBackupLastBackupFailed", p.alertFiring ? "FIRING" : "not firing"],
]

export const formatSummary = (s: DemoSummary): string => {
  const facts = formatTable(
    ["what", "result"],
    [
      ["backup directory", `${s.backupDir}${s.kept ? " (kept)" : " (removed; --keep keeps it)"}`],
      ...s.files.map((f) => [`  ${f.name}`, formatBytes(f.bytes)] as const),
      ["revisions backed up", formatRevisionSet(s.revisions)],
      ["etcd revision of the snapshot", String(s.etcdRevision)],
      ["revision pairing", s.pairing.verdict + (s.pairing.reasons.length > 0 ? `: ${s.pairing.reasons.join("; ")}` : "")],
      ["OpenShift version in the snapshot", s.openshiftVersion ?? "unknown"],
      ["encryption at rest", s.decryption === undefined ? "not checked" : `${s.decryption.verdict}: ${s.decryption.message}`],
      ["verify --test-restore", s.verified ? "passed" : "FAILED"],
      ["backup-status", s.backupStatus],
      ["after a new revision", s.secondRender === undefined ? "no new render" : `re-rendered for ${s.secondRender.change}`],
      ...policyRows(s.policy),
      ["restore on a host tree", s.recovery.restored.replace(/^Restore (restore-\S+) complete: (\d+ steps ran)\..*$/, "$1: $2, old data kept")],
      ["redeploy", `${s.recovery.rolledOut.length} operands on a new revision on every node (reason recovery-${s.recovery.restoreId})`],
    ],
  )
  const total = s.timings.reduce((a, t) => a + t.ms, 0)
  const timings = formatTable(["stage", "time"], [...s.timings.map((t) => [t.stage, ms(t.ms)] as const), ["total", ms(total)]])
  return `\n${facts}\n\n${timings}\n`
}
