/**
 * `backup-manifest.json`, written beside a backup's two files: which revisions were requested and
 * which the snapshot itself records, the etcd revision, the sha256 of both files and of every
 * file inside the tarball, and the verdict on whether snapshot and resources belong together.
 * Encoded as canonical pretty JSON; decoding checks the shape and that the manifest does not
 * contradict itself.
 */
import { Result, Schema } from "effect"
import { backupFileNames, BackupTimestamp } from "./archive-names.ts"
import { classifyEntry, ResourceKind } from "./archive-layout.ts"
import { canonicalJson } from "./canonical-json.ts"
import { defaultOperands, OperandName, operandNames, type OperandTable } from "./operands.ts"
import { operandCrReference, Revision, RevisionSet } from "./revisions.ts"
import { Rfc3339Utc } from "./rfc3339.ts"
import { firstKeyedProblem, formatKeyPath } from "./schema-errors.ts"

export const manifestFormatVersion = 1

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
export const Sha256Hex = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))

/** One of the backup's two files. */
export const FileDigest = Schema.Struct({ name: Schema.NonEmptyString, size: NonNegativeInt, sha256: Sha256Hex })
export type FileDigest = typeof FileDigest.Type

/** A file inside the resources tarball. */
export const ManifestEntry = Schema.Struct({
  path: Schema.NonEmptyString,
  size: NonNegativeInt,
  mode: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0o7777 })),
  sha256: Sha256Hex,
})
export type ManifestEntry = typeof ManifestEntry.Type

/** Per operand, `status.latestAvailableRevision` of its CR as stored in the snapshot; `null` when the snapshot holds no such CR. */
export const SnapshotRevisions = Schema.Struct({
  etcd: Schema.NullOr(Revision),
  "kube-apiserver": Schema.NullOr(Revision),
  "kube-controller-manager": Schema.NullOr(Revision),
  "kube-scheduler": Schema.NullOr(Revision),
})
export type SnapshotRevisions = typeof SnapshotRevisions.Type

/** An optional resource absent from the revision, so absent from the tarball. */
export const SkippedResource = Schema.Struct({ operand: OperandName, kind: ResourceKind, name: Schema.NonEmptyString })
export type SkippedResource = typeof SkippedResource.Type

export const Verdict = Schema.Literals(["consistent", "dirty"])
export type Verdict = typeof Verdict.Type

export const BackupManifest = Schema.Struct({
  formatVersion: Schema.Literal(manifestFormatVersion),
  tool: Schema.Struct({ name: Schema.Literal("cluster-backup"), version: Schema.NonEmptyString }),
  timestamp: BackupTimestamp,
  createdAt: Rfc3339Utc,
  revisions: Schema.Struct({ requested: RevisionSet, inSnapshot: SnapshotRevisions }),
  etcd: Schema.Struct({ revision: NonNegativeInt, memberDbSize: Schema.optionalKey(NonNegativeInt) }),
  files: Schema.Struct({ snapshot: FileDigest, resources: FileDigest }),
  entries: Schema.Array(ManifestEntry),
  skippedOptional: Schema.Array(SkippedResource),
  verdict: Verdict,
  reasons: Schema.Array(Schema.String),
})
export type BackupManifest = typeof BackupManifest.Type

export interface PairingVerdict {
  readonly verdict: Verdict
  readonly reasons: ReadonlyArray<string>
}

/**
 * Whether the snapshot and the resources belong together: consistent iff, for every operand, the
 * CR inside the snapshot reports exactly the requested revision. Each mismatch or missing CR is
 * one reason.
 */
export const pairingVerdict = (
  requested: RevisionSet,
  inSnapshot: SnapshotRevisions,
  table: OperandTable = defaultOperands,
): PairingVerdict => {
  const reasons = operandNames.flatMap((operand) => {
    const found = inSnapshot[operand]
    const ref = operandCrReference(operand, table)
    if (found === null) {
      return [`${operand}: the snapshot holds no ${ref}, so it cannot show revision ${requested[operand]} (the resources' revision)`]
    }
    if (found !== requested[operand]) {
      return [`${operand}: the resources are revision ${requested[operand]} but ${ref} in the snapshot reports revision ${found}`]
    }
    return []
  })
  return { verdict: reasons.length === 0 ? "consistent" : "dirty", reasons }
}

/** A `backup-manifest.json` that cannot be trusted; `key` is the offending JSON key path (`files.snapshot.sha256`). */
export class BackupManifestInvalid extends Schema.TaggedError<BackupManifestInvalid>()("BackupManifestInvalid", {
  key: Schema.String,
  message: Schema.String,
}) {}

/** The order keys are written in: summary first, the long entry list last. */
const keyOrder = [
  "formatVersion", "tool", "timestamp", "createdAt", "verdict", "reasons", "revisions", "requested", "inSnapshot",
  ...operandNames, "revision", "memberDbSize", "files", "snapshot", "resources", "skippedOptional", "entries",
  "operand", "kind", "name", "version", "path", "size", "mode", "sha256",
]

/** Canonical pretty JSON: fixed key order, 2-space indent, trailing newline. Same manifest, same bytes. */
export const encodeBackupManifest = (manifest: BackupManifest): string => canonicalJson(manifest, keyOrder)

/** What a decoded manifest must also satisfy: no claim that contradicts another. */
const contradiction = (m: BackupManifest, table: OperandTable): { key: string; problem: string } | undefined => {
  const pairing = pairingVerdict(m.revisions.requested, m.revisions.inSnapshot, table)
  if (pairing.verdict === "dirty" && m.verdict === "consistent") {
    return { key: "verdict", problem: `is "consistent" but the revisions do not pair: ${pairing.reasons.join("; ")}` }
  }
  if (m.verdict === "dirty" && m.reasons.length === 0) return { key: "reasons", problem: `is empty but the verdict is "dirty"; say why` }
  const names = backupFileNames(m.timestamp, m.verdict === "dirty")
  for (const file of ["snapshot", "resources"] as const) {
    if (m.files[file].name !== names[file]) {
      return { key: `files.${file}.name`, problem: `is "${m.files[file].name}" but timestamp ${m.timestamp} and verdict ${m.verdict} name it "${names[file]}"` }
    }
  }
  let previous: string | undefined
  for (const [i, entry] of m.entries.entries()) {
    const key = formatKeyPath(["entries", i, "path"])
    const layout = classifyEntry(entry.path, m.revisions.requested, table)
    if (Result.isFailure(layout)) return { key, problem: `is not a file of the backup layout: ${layout.failure.reason}` }
    const c = layout.success
    if (c.kind !== "resource-file" && c.kind !== "pod-manifest") return { key, problem: `"${entry.path}" is a directory, not a file` }
    if (entry.path.startsWith("./") || entry.path.endsWith("/")) return { key, problem: `"${entry.path}" is not in normal form` }
    if (entry.mode !== c.mode) {
      return { key: formatKeyPath(["entries", i, "mode"]), problem: `is 0${entry.mode.toString(8)} but the layout gives "${entry.path}" mode 0${c.mode.toString(8)}` }
    }
    if (previous !== undefined && entry.path <= previous) return { key, problem: `"${entry.path}" is out of order or repeated (entries are sorted by path)` }
    previous = entry.path
  }
  return undefined
}

const decodeShape = Schema.decodeUnknownResult(BackupManifest, { onExcessProperty: "error" })

/** Reads `backup-manifest.json` text: JSON, the `BackupManifest` shape, and no self-contradiction. */
export const decodeBackupManifest = (
  text: string,
  table: OperandTable = defaultOperands,
): Result.Result<BackupManifest, BackupManifestInvalid> => {
  const invalid = (key: string, problem: string) =>
    Result.fail(new BackupManifestInvalid({ key, message: `backup manifest: ${key === "" ? "the document" : key} ${problem}` }))
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return invalid("", `is not JSON (${e instanceof Error ? e.message : String(e)})`)
  }
  const decoded = decodeShape(json)
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return invalid(key, message)
  }
  const wrong = contradiction(decoded.success, table)
  return wrong === undefined ? Result.succeed(decoded.success) : invalid(wrong.key, wrong.problem)
}
