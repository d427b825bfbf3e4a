/**
 * What the record of the last restore on a host says of the etcd member in place there
 * (`domain/restored-member-record.ts`): read by `stand-down`, which refuses the recovery host, and by
 * `restore`, which says when it is about to set aside a member an earlier restore put in place.
 */
import { posix } from "node:path"
import { Effect } from "effect"
import { hostLayout } from "../../domain/restore-plan.ts"
import { type RecoveryHostFinding, recoveryHostFinding } from "../../domain/restored-member-record.ts"
import { readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import { DurableFiles } from "../../services/durable-files.ts"

/** A record is a few hundred bytes; a bigger file there is not one. */
const maxRecordBytes = 64 * 1024

/** The record under `root` against etcd's member directory now. A record that cannot be read is unreadable, not absent. */
export const observeRestoredMember = (root: string) =>
  Effect.gen(function* () {
    const recordPath = posix.join(root, hostLayout.restoredMemberRecord)
    const bytes = yield* Effect.result(readOptionalBackupFileBytes(recordPath, maxRecordBytes))
    const member = yield* Effect.result(DurableFiles.use((files) => files.identity(posix.join(root, hostLayout.dataDir, "member"))))
    const finding: RecoveryHostFinding =
      bytes._tag === "Failure"
        ? { _tag: "Unreadable", reason: bytes.failure.message }
        : member._tag === "Failure"
          ? { _tag: "Unreadable", reason: `etcd's member directory cannot be inspected: ${member.failure.message}` }
          : recoveryHostFinding(bytes.success?.toString("utf8"), member.success)
    return { finding, recordPath }
  })
