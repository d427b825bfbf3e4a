/**
 * backup-upload's report for the operator (backup-pod-report.ts): what was stored, how it was
 * verified and what the prune removed, written to --report-file (the container's termination log)
 * once the upload and the prune are over.
 */
import { Effect, Result, Schema } from "effect"
import { BackupPodReport, encodeBackupPodReport } from "../../domain/backup-pod-report.ts"
import { PodReportNotWritten, writeTerminationReport } from "../backup-dir/termination-report-file.ts"
import type { UploadReport } from "./store-upload.ts"
import type { PruneOutcome } from "./upload-then-prune.ts"

/** The report of a stored backup; `pruned` only when a prune ran and succeeded. */
export const podReportOf = (upload: UploadReport, prune: PruneOutcome) => {
  const m = upload.manifest
  return {
    id: upload.id,
    location: upload.location,
    time: m.createdAt,
    revisions: { ...m.revisions.requested },
    etcdRevision: m.etcd.revision,
    snapshotBytes: m.files.snapshot.size,
    resourcesBytes: m.files.resources.size,
    totalBytes: m.files.snapshot.size + m.files.resources.size,
    bytesUploaded: upload.files.reduce((n, f) => n + f.size, 0),
    verdict: m.verdict,
    verified: upload.verified !== undefined,
    verifyMode: upload.verified ?? "None",
    ...(prune._tag === "Pruned" ? { pruned: prune.report.retention.remove.length + (prune.removedBeforeUpload ?? 0) } : {}),
  }
}

const decodeReport = Schema.decodeUnknownResult(BackupPodReport)

/** Writes the report to `path`; a report the Schema refuses (it would not fit the termination message) is an error, not a cut one. */
export const writePodReport = Effect.fn("writePodReport")(function* (path: string, upload: UploadReport, prune: PruneOutcome) {
  const report = decodeReport(podReportOf(upload, prune))
  if (Result.isFailure(report)) {
    return yield* new PodReportNotWritten({
      path,
      code: undefined,
      message: `backup ${upload.id} is stored at ${upload.location}, but its report cannot be written to ${path}: ${report.failure.message}`,
    })
  }
  yield* writeTerminationReport(path, encodeBackupPodReport(report.success), `backup ${upload.id} is stored at ${upload.location}`)
})
