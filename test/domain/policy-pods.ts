/** Pods of a BackupPolicy as the operator reads them, finished as a test says (shared by the policy domain tests). */
import { fc } from "@fast-check/vitest"
import { encodeBackupPodReport, type BackupPodReport } from "../../src/domain/backup-pod-report.ts"
import { backupCreateContainerName, backupUploadContainerName } from "../../src/domain/backup-pod-names.ts"
import { policyLabelValue } from "../../src/domain/policy-pod.ts"
import { attemptAnnotation, type PolicyPodView } from "../../src/domain/policy-runs.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"

export const hour = 3_600_000
export const t0 = Date.UTC(2026, 11, 2, 10, 30)
export const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }

export type Pod = PolicyPodView & { readonly policy: string }

export const report = (id: string, bytes: number, time: number): BackupPodReport => ({
  id,
  location: `pvc://backups/${id}`,
  time: formatRfc3339Utc(time),
  revisions: { ...revisions },
  etcdRevision: 1000,
  snapshotBytes: bytes,
  resourcesBytes: 100,
  totalBytes: bytes + 100,
  bytesUploaded: bytes + 100,
  verdict: "consistent",
  verified: true,
  verifyMode: "Full",
})

export type RunKind = "running" | "complete" | "complete-no-report" | "upload-failed" | "deadline"

const terminated = (exitCode: number, finishedAt: number, message?: string) => ({
  exitCode,
  finishedAt: formatRfc3339Utc(finishedAt),
  ...(message === undefined ? {} : { message }),
})

/** A pod of `policy` created at `createdAt` whose run went as `kind`. */
export const podOf = (policy: string, index: number, createdAt: number, kind: RunKind, attempt?: number): Pod => {
  const name = `backup-${policy}-${index}`
  const done = createdAt + 60_000
  const initContainers =
    kind === "running" || kind === "deadline"
      ? [{ name: backupCreateContainerName, terminated: terminated(0, done) }, { name: backupUploadContainerName }]
      : [
          { name: backupCreateContainerName, terminated: terminated(0, done) },
          {
            name: backupUploadContainerName,
            terminated:
              kind === "upload-failed"
                ? terminated(1, done, "store unreachable")
                : terminated(0, done, kind === "complete" ? encodeBackupPodReport(report(`id-${index}`, 1000 + index, createdAt + 30_000)) : undefined),
          },
        ]
  return {
    name,
    createdAt,
    revisions,
    phase: kind === "running" ? "Running" : kind === "deadline" ? "Failed" : kind.startsWith("complete") ? "Succeeded" : "Failed",
    reason: kind === "deadline" ? "DeadlineExceeded" : undefined,
    message: undefined,
    initContainers,
    annotations: {
      "backup.openshift.io/revisions": "etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6",
      ...(attempt === undefined ? {} : { [attemptAnnotation]: String(attempt) }),
    },
    deleting: false,
    policy: policyLabelValue(policy),
  }
}

export const kindArb = fc.constantFrom<RunKind>("running", "complete", "complete-no-report", "upload-failed", "deadline")
/** A policy's pods: at most one still running (the operator's own rule), the rest finished, at distinct times. */
export const podsArb = (policy: string) =>
  fc.array(fc.tuple(kindArb, fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined })), { maxLength: 8 }).map((runs) => {
    let runningSeen = false
    return runs.map(([kind, attempt], i) => {
      const k = kind === "running" && (runningSeen || i !== runs.length - 1) ? "complete" : kind
      runningSeen ||= k === "running"
      return podOf(policy, i, t0 - (runs.length - i) * 2 * hour, k, attempt)
    })
  })
