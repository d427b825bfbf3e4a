/**
 * What `verify` and `restore` share on their command line: the backup argument (a directory, or
 * with --backup-id a store), --timestamp and --etcdutl (the backup those choose: `backupSource`, store-source.ts).
 */
import { Option } from "effect"
import { Argument, Flag } from "effect/cli"
import { BackupTimestamp, isBackupTimestamp } from "../domain/archive-names.ts"
import { checkedWith, nonEmpty } from "./flag-checks.ts"

/** The backup directory (`where` says where it must be, if anywhere), or with --backup-id a store. */
export const backupArgument = (where: string) =>
  Argument.String("dir").pipe(
    nonEmpty("directory"),
    Argument.withDescription(`The backup directory${where}, or with --backup-id a store (s3://bucket[/prefix] or a directory store)`),
  )

export const timestampFlag = Flag.String("timestamp").pipe(
  checkedWith((text) =>
    isBackupTimestamp(text) ? undefined : "a backup's timestamp YYYY-MM-DD_HHMMSS (UTC) naming a real second, as in snapshot_2026-01-02_030405.db",
  ),
  Flag.withSchema(BackupTimestamp),
  Flag.optional,
  Flag.withMetavar("YYYY-MM-DD_HHMMSS"),
  Flag.withDescription("The backup to use (default: the newest in the directory)"),
)

/** The etcdutl binary, as the options of `Etcdutl.live`. */
export const etcdutlFlag = Flag.String("etcdutl").pipe(
  Flag.optional,
  Flag.map(Option.match({ onNone: () => ({}), onSome: (binary: string) => ({ binary }) })),
  Flag.withMetavar("PATH"),
  Flag.withDescription("The etcdutl binary (etcd 3.5 or newer; default: the project's .tools copy, else etcdutl on PATH)"),
)
