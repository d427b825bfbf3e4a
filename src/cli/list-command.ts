import { Effect, Layer } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { formatRevisionSet } from "../domain/revisions.ts"
import { formatBytes } from "../domain/byte-format.ts"
import { listBackups, type ListedBackup } from "../programs/store/store-list.ts"
import { BackupStore } from "../services/store/backup-store.ts"
import { withLogging } from "./logging.ts"
import { openStoreFromFlags, storeFlags } from "./store-flags.ts"

/** One backup as `list --json` prints it. */
export const listedJson = (b: ListedBackup) => ({
  id: b.completeness.id,
  complete: b.completeness._tag === "Complete",
  createdAt: b.manifest?.createdAt ?? null,
  revisions: b.manifest?.revisions.requested ?? null,
  etcdRevision: b.manifest?.etcd.revision ?? null,
  bytes: b.completeness.bytes,
  files: b.manifest === undefined ? null : { snapshot: b.manifest.files.snapshot.size, resources: b.manifest.files.resources.size },
  verdict: b.manifest?.verdict ?? null,
  verified: b.verified !== undefined,
  verifyMode: b.verified ?? null,
  openshiftVersion: b.manifest?.cluster?.openshiftVersion ?? null,
  clusterId: b.manifest?.cluster?.clusterId ?? null,
  reasons: b.completeness._tag === "Incomplete" ? b.completeness.reasons : [],
})

const verifiedColumn = { Full: "full", TestRestore: "test-restore", no: "no" } as const

/** The table `list` prints: one line per backup, oldest first. */
export const listTable = (backups: ReadonlyArray<ListedBackup>): string => {
  const rows = [
    ["ID", "STATE", "VERIFIED", "CREATED", "VERDICT", "OPENSHIFT", "ETCD-REV", "REVISIONS", "SIZE"],
    ...backups.map((b) => [
      b.completeness.id,
      b.completeness._tag === "Complete" ? "complete" : `incomplete: ${b.completeness.reasons.join("; ")}`,
      verifiedColumn[b.verified ?? "no"],
      b.manifest?.createdAt ?? "-",
      b.manifest?.verdict ?? "-",
      b.manifest?.cluster?.openshiftVersion ?? "-",
      b.manifest === undefined ? "-" : String(b.manifest.etcd.revision),
      b.manifest === undefined ? "-" : formatRevisionSet(b.manifest.revisions.requested),
      formatBytes(b.completeness.bytes),
    ]),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (i === 1 ? Math.min(r[i]!.length, 12) : r[i]!.length))))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n")
}

export const listCommand = Command.make(
  "list",
  {
    store: Argument.String("store").pipe(Argument.withDescription("s3://bucket[/prefix] or a directory")),
    json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("One JSON array on stdout")),
    ...storeFlags,
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const { store, prefix } = yield* openStoreFromFlags(flags.store, flags, { command: "list", name: "store", kind: "argument" })
        const backups = yield* listBackups(prefix).pipe(Effect.provide(Layer.succeed(BackupStore, BackupStore.of(store))))
        yield* Effect.sync(() => process.stdout.write(flags.json ? `${JSON.stringify(backups.map(listedJson), null, 2)}\n` : `${listTable(backups)}\n`))
      }),
    ),
).pipe(
  Command.withDescription(
    "List the backups in a store, oldest first: complete ones (the manifest is there and describes the objects beside it) with what their manifest says, and incomplete ones with the reasons (an upload in progress or one that failed). VERIFIED says how verify passed the backup before its upload (full, test-restore; its verification.json), or no.",
  ),
)
