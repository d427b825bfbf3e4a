/**
 * The records this tool keeps of a host's part in a recovery, read against etcd's member directory now:
 * - the last restore's (`domain/restored-member-record.ts`): `stand-down` refuses the recovery host,
 *   and `restore` says when it is about to set aside a member an earlier restore put in place;
 * - the last stand-down's (`domain/stood-down-record.ts`): `restore` refuses a host stood down for a
 *   restore elsewhere that has not rejoined.
 */
import { posix } from "node:path"
import { Effect } from "effect"
import { type HostRecordRead, hostLayout } from "../../domain/host-layout.ts"
import { type DirectoryIdentity, recoveryHostFinding } from "../../domain/restored-member-record.ts"
import { readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import { DurableFiles } from "../../services/durable-files.ts"
import { readStoodDownRecord, type StoodDownFinding, stoodDownFinding } from "../../domain/stood-down-record.ts"

/** A record is a few hundred bytes; a bigger file there is not one. */
const maxRecordBytes = 64 * 1024

/**
 * The record at `record` (a host path) under `root`, judged against etcd's member directory now. A record
 * that cannot be read is passed on as unreadable, not absent (a kept-data directory that is no directory
 * holds none: the restore's checks name it); so is a record beside a member directory that cannot be inspected.
 */
const observe = <F>(root: string, record: string, judge: (read: HostRecordRead, member: DirectoryIdentity | undefined) => F) =>
  Effect.gen(function* () {
    const recordPath = posix.join(root, record)
    const read: HostRecordRead = yield* readOptionalBackupFileBytes(recordPath, maxRecordBytes).pipe(
      Effect.map((bytes) => bytes?.toString("utf8")),
      Effect.catchIf(
        (e) => e._tag === "BackupFileUnreadable" && e.code === "ENOTDIR",
        () => Effect.succeed(undefined),
      ),
      Effect.catch((e) => Effect.succeed({ unreadable: e.message })),
    )
    const member = yield* Effect.result(DurableFiles.use((files) => files.identity(posix.join(root, hostLayout.dataDir, "member"))))
    // Without a record there is nothing to judge the member against.
    const finding: F | { readonly _tag: "Unreadable"; readonly reason: string } =
      member._tag === "Success" || read === undefined
        ? judge(read, member._tag === "Success" ? member.success : undefined)
        : { _tag: "Unreadable", reason: `etcd's member directory cannot be inspected: ${member.failure.message}` }
    return { finding, recordPath }
  })

/** The last restore's record under `root`. */
export const observeRestoredMember = (root: string) => observe(root, hostLayout.restoredMemberRecord, recoveryHostFinding)

/** The last stand-down's record under `root`. */
export const observeStandDown = (root: string) =>
  observe(root, hostLayout.stoodDownRecord, (text, member): StoodDownFinding => stoodDownFinding(text, member !== undefined))

/** The last stand-down's record under `root`, whether or not etcd has a member again; undefined when none reads. */
export const readStandDownRecord = (root: string) =>
  readOptionalBackupFileBytes(posix.join(root, hostLayout.stoodDownRecord), maxRecordBytes).pipe(
    Effect.map((bytes) => readStoodDownRecord(bytes?.toString("utf8"))),
    Effect.orElseSucceed(() => undefined),
  )
