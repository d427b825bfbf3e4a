import { Effect, Layer } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { formatRevisionSet } from "../domain/revisions.ts"
import { formatBytes } from "../domain/byte-format.ts"
import type { BackupManifest } from "../domain/backup-manifest.ts"
import { counted } from "../domain/counted.ts"
import { listBackups, type ListedBackup } from "../programs/store/store-list.ts"
import type { StrayForm } from "../domain/store-layout.ts"
import { BackupStore } from "../services/store/backup-store.ts"
import { withLogging } from "./logging.ts"
import { trustedKeysFlag } from "./signature-flags.ts"
import { readTrustedKeys } from "../programs/backup-dir/manifest-authenticity.ts"
import { type BackupTrust, listedTrust } from "../programs/store/trusted-backups.ts"
import { openStoreFromFlags, storeFlags } from "./store-flags.ts"

/** With --trusted-key: whether a trusted key signed each complete backup's stored manifest, by id (`trusted-backups.ts`). */
export type TrustById = ReadonlyMap<string, BackupTrust>

/** One backup as `list --json` prints it. */
export const listedJson = (b: ListedBackup, trust?: TrustById) => {
  const t = trustOf(b, trust)
  return {
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
    /** None of its files is one backup-upload writes: another program's, or a backup's own work directory; never pruned. */
    foreign: b.completeness._tag === "Incomplete" && b.completeness.foreign === true,
    /** Its manifest is in an archive storage class (a lifecycle rule's): restore it to read the backup. */
    archived: b.completeness._tag === "Incomplete" && b.completeness.archivedManifest === true,
    /** The other forms of the files the manifest names, beside them (`encrypted` false: a plain copy, the file in the clear). */
    strayForms: strayFormsOf(b).map((o) => ({ file: o.file, size: o.size, encrypted: o.encrypted })),
    /** Per file, the fingerprint of the age recipients it is stored encrypted to (null: stored plain); null without a manifest. */
    encryption:
      b.manifest === undefined
        ? null
        : {
            snapshot: b.manifest.files.snapshot.encrypted?.recipientsSha256 ?? null,
            resources: b.manifest.files.resources.encrypted?.recipientsSha256 ?? null,
          },
    /** A complete backup's manifest has its signature stored beside it (checked only with --trusted-key: `trusted`). */
    signed: b.signed,
    /** With --trusted-key, a complete backup: whether one of the keys signed its stored manifest, and if not, why; else null. */
    trusted: t === undefined ? null : t.trusted,
    untrustedWhy: t === undefined || t.trusted ? null : t.why,
  }
}

const trustOf = (b: ListedBackup, trust: TrustById | undefined): BackupTrust | undefined =>
  b.completeness._tag === "Complete" ? trust?.get(b.completeness.id) : undefined

/** SIGNED: yes/no (a signature stored), or with --trusted-key trusted/untrusted. */
const signedColumn = (b: ListedBackup, trust: TrustById | undefined): string => {
  if (b.completeness._tag !== "Complete") return "-"
  const t = trustOf(b, trust)
  if (trust !== undefined) return t?.trusted === true ? "trusted" : "untrusted"
  return b.signed ? "yes" : "no"
}

const strayFormsOf = (b: ListedBackup): ReadonlyArray<StrayForm> => (b.completeness._tag === "Complete" ? b.completeness.strayForms : [])

/** A complete backup's STATE: with the other forms of its files beside them, which prune removes (a plain copy is the file in the clear). */
const completeState = (b: ListedBackup): string => {
  const strays = strayFormsOf(b)
  const plain = strays.filter((o) => !o.encrypted).length
  const encrypted = strays.length - plain
  const notes = [
    ...(plain > 0 ? [counted(plain, "plain copy", "plain copies")] : []),
    ...(encrypted > 0 ? [counted(encrypted, ".age copy", ".age copies")] : []),
  ]
  return notes.length === 0 ? "complete" : `complete, ${notes.join(", ")} beside`
}

/** What `list` warns of on stderr: each backup with the other forms of its files beside them. */
export const strayFormWarnings = (backups: ReadonlyArray<ListedBackup>): ReadonlyArray<string> =>
  backups.flatMap((b) => {
    const strays = strayFormsOf(b)
    if (strays.length === 0) return []
    const plain = strays.filter((o) => !o.encrypted).map((o) => o.file)
    const encrypted = strays.filter((o) => o.encrypted).map((o) => o.file)
    return [
      `backup ${b.completeness.id} is complete, and beside it are ` +
        [
          ...(plain.length > 0 ? [`plain copies of files it stores encrypted (${plain.join(", ")}: in the clear)`] : []),
          ...(encrypted.length > 0 ? [`.age copies of files it stores plain (${encrypted.join(", ")})`] : []),
        ].join(" and ") +
        ": an earlier upload left them; prune removes them once older than --leftover-grace, or remove them by hand",
    ]
  })

const verifiedColumn = { Full: "full", TestRestore: "test-restore", no: "no" } as const

/** ENCRYPTED: age when the store holds both files encrypted, the one it holds encrypted, or no. */
const encryptedColumn = (m: BackupManifest | undefined): string => {
  if (m === undefined) return "-"
  const snapshot = m.files.snapshot.encrypted !== undefined
  const resources = m.files.resources.encrypted !== undefined
  return snapshot && resources ? "age" : snapshot ? "snapshot" : resources ? "resources" : "no"
}

/** The table `list` prints: one line per backup, oldest first. */
export const listTable = (backups: ReadonlyArray<ListedBackup>, trust?: TrustById): string => {
  const rows = [
    ["ID", "STATE", "VERIFIED", "ENCRYPTED", "SIGNED", "CREATED", "VERDICT", "OPENSHIFT", "ETCD-REV", "REVISIONS", "SIZE"],
    ...backups.map((b) => [
      b.completeness.id,
      b.completeness._tag === "Complete"
        ? completeState(b)
        : `${b.completeness.foreign === true ? "not a backup" : "incomplete"}: ${b.completeness.reasons.join("; ")}`,
      verifiedColumn[b.verified ?? "no"],
      encryptedColumn(b.manifest),
      signedColumn(b, trust),
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
    trustedKeys: trustedKeysFlag.pipe(
      Flag.withDescription(
        "An ed25519 public key (PEM, openssl pkey -pubout) trusted to sign backups; repeatable. SIGNED then says whether one of them signed each complete backup's stored manifest (trusted, untrusted: the warning says why; --json: trusted, untrustedWhy)",
      ),
    ),
    ...storeFlags,
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const { store, prefix } = yield* openStoreFromFlags(flags.store, flags, { command: "list", name: "store", kind: "argument" })
        const trustedKeys = yield* readTrustedKeys(flags.trustedKeys)
        const inStore = Layer.succeed(BackupStore, BackupStore.of(store))
        const backups = yield* listBackups(prefix).pipe(Effect.provide(inStore))
        for (const warning of strayFormWarnings(backups)) yield* Effect.logWarning(warning)
        const trust = trustedKeys.length === 0 ? undefined : yield* listedTrust(prefix, backups, trustedKeys).pipe(Effect.provide(inStore))
        for (const t of trust?.values() ?? []) if (!t.trusted) yield* Effect.logWarning(`backup ${t.id} is not trusted: ${t.why}`)
        yield* Effect.sync(() =>
          process.stdout.write(
            flags.json
              ? `${JSON.stringify(
                  backups.map((b) => listedJson(b, trust)),
                  null,
                  2,
                )}\n`
              : `${listTable(backups, trust)}\n`,
          ),
        )
      }),
    ),
).pipe(
  Command.withDescription(
    "List the backups in a store, oldest first: complete ones (the manifest is there and describes the objects beside it) with what their manifest says, and incomplete ones with the reasons (an upload in progress or one that failed); a directory none of whose files is one backup-upload writes shows as not a backup. VERIFIED says how verify passed the backup before its upload (full, test-restore; its verification.json), or no. ENCRYPTED: age when the store holds both files age-encrypted (--json: each file's recipients fingerprint), the one it holds so (snapshot, resources), or no. SIGNED: the manifest's signature is stored beside it (yes, no), or with --trusted-key whether one of those keys signed it (trusted, untrusted). A complete backup with the other form of a file beside the one its manifest names (a plain copy beside its .age: the file in the clear) says so in STATE, with a warning; prune removes them.",
  ),
)
