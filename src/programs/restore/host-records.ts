/**
 * The records this tool keeps of a host's part in a recovery, read against etcd's member directory now:
 * - the last restore's (`domain/restored-member-record.ts`): `stand-down` refuses the recovery host,
 *   and `restore` says when it is about to set aside a member an earlier restore put in place;
 * - the last stand-down's (`domain/stood-down-record.ts`): `restore` refuses a host stood down for a
 *   restore elsewhere that has not rejoined.
 */
import { posix } from "node:path"
import { Effect } from "effect"
import { hostLayout } from "../../domain/restore-plan.ts"
import { type DirectoryIdentity, recoveryHostFinding } from "../../domain/restored-member-record.ts"
import { readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import { DurableFiles } from "../../services/durable-files.ts"
import { type StoodDownFinding, stoodDownFinding } from "../../domain/stood-down-record.ts"

/** A record is a few hundred bytes; a bigger file there is not one. */
const maxRecordBytes = 64 * 1024

type Unreadable = { readonly _tag: "Unreadable"; readonly reason: string }

/**
 * The record at `record` (a host path) under `root`, judged against etcd's member directory now. A record that
 * cannot be read, or a member directory that cannot be inspected, is unreadable, not absent.
 */
const observe = <F>(root: string, record: string, judge: (text: string | undefined, member: DirectoryIdentity | undefined) => F) =>
  Effect.gen(function* () {
    const recordPath = posix.join(root, record)
    const bytes = yield* Effect.result(readOptionalBackupFileBytes(recordPath, maxRecordBytes))
    const member = yield* Effect.result(DurableFiles.use((files) => files.identity(posix.join(root, hostLayout.dataDir, "member"))))
    const finding: F | Unreadable =
      bytes._tag === "Failure"
        ? { _tag: "Unreadable", reason: bytes.failure.message }
        : member._tag === "Failure"
          ? { _tag: "Unreadable", reason: `etcd's member directory cannot be inspected: ${member.failure.message}` }
          : judge(bytes.success?.toString("utf8"), member.success)
    return { finding, recordPath }
  })

/** The last restore's record under `root`. */
export const observeRestoredMember = (root: string) => observe(root, hostLayout.restoredMemberRecord, recoveryHostFinding)

/** The last stand-down's record under `root`. */
export const observeStandDown = (root: string) =>
  observe(root, hostLayout.stoodDownRecord, (text, member): StoodDownFinding => stoodDownFinding(text, member !== undefined))
