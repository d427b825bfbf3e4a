/**
 * `backup-manifest.json`, written beside a backup's two files: which revisions were requested and
 * which the snapshot itself records, the etcd revision, the sha256 of both files and of every
 * file inside the tarball, and the verdict on whether snapshot and resources belong together.
 *
 * Encoded as canonical pretty JSON. Since format 2 the document ends with `manifestSha256`, the
 * sha256 of its own canonical encoding without that key: the two backup files are protected by
 * the digests the manifest records, and the manifest by this one, so a damaged byte anywhere in a
 * backup is found (it is a checksum against damage, not a signature: whoever can edit the file
 * can recompute it). Decoding accepts exactly the bytes the writer produces (canonical form, no
 * byte order mark), checks the shape, the digest, and that the manifest does not contradict
 * itself. Format 1 (no digest) is still read.
 */
import { createHash } from "node:crypto"
import { Result, Schema } from "effect"
import { backupFileNames, BackupTimestamp } from "./archive-names.ts"
import { classifyEntry, expectedResources, ResourceKind } from "./archive-layout.ts"
import { canonicalJson } from "./canonical-json.ts"
import { defaultOperands, OperandName, operandNames, type OperandTable } from "./operands.ts"
import { operandCrReference, Revision, RevisionSet } from "./revisions.ts"
import { Rfc3339Utc } from "./rfc3339.ts"
import { firstKeyedProblem, formatKeyPath } from "./schema-errors.ts"
import { failureText } from "./failure-text.ts"
import { DecryptionRecord } from "./bundle-decryption.ts"
import { CertificateRecord } from "./certificate-checks.ts"
import { KeyCounts } from "./key-counts.ts"

/** The format this version writes; 1 (before `manifestSha256`) is still read. */
export const manifestFormatVersion = 2

/** The most a manifest may take: far above any real one (a few hundred KiB for thousands of files), far below a memory problem. */
export const maxManifestBytes = 64 * 1024 * 1024

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
export const Sha256Hex = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))

/** The suffix of an age-encrypted object in a store. */
export const encryptedSuffix = ".age"

/**
 * The age-encrypted form of a file, as backup-upload stored it: the object's name (`<name>.age`),
 * the ciphertext's size and sha256, and the fingerprint of the recipients it was encrypted to
 * (`recipientsFingerprint`: public keys only, never an identity).
 */
export const EncryptedFile = Schema.Struct({
  name: Schema.NonEmptyString,
  size: NonNegativeInt,
  sha256: Sha256Hex,
  recipientsSha256: Sha256Hex,
})
export type EncryptedFile = typeof EncryptedFile.Type

/** One of the backup's two files: its plaintext's size and sha256, and where the store holds it encrypted, that form. */
export const FileDigest = Schema.Struct({
  name: Schema.NonEmptyString,
  size: NonNegativeInt,
  sha256: Sha256Hex,
  encrypted: Schema.optionalKey(EncryptedFile),
})
export type FileDigest = typeof FileDigest.Type

/** The object a store holds for a file: the ciphertext when it was encrypted, else the file itself. */
export const storedForm = (file: FileDigest): { readonly name: string; readonly size: number; readonly sha256: string } =>
  file.encrypted ?? { name: file.name, size: file.size, sha256: file.sha256 }

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

/** What the snapshot says about the cluster it came from (ClusterVersion `version`, the member's status). */
export const ClusterFacts = Schema.Struct({
  /** The OpenShift version: the latest completed update, else the desired one. */
  openshiftVersion: Schema.optionalKey(Schema.NonEmptyString),
  clusterId: Schema.optionalKey(Schema.NonEmptyString),
  etcdVersion: Schema.optionalKey(Schema.NonEmptyString),
  /** Why a fact is missing (no ClusterVersion at that revision, an unexpected shape). */
  problem: Schema.optionalKey(Schema.String),
})
export type ClusterFacts = typeof ClusterFacts.Type

/**
 * How verify passed the backup in its pod (`verify --report-out`, before the upload): recorded by backup-upload in the
 * manifest it stores, so the record is as authentic as the manifest (signed when the upload signs). The mode, and the
 * ids of the checks that passed (or warned), in verify's order.
 */
export const ManifestVerification = Schema.Struct({
  mode: Schema.Literals(["Full", "TestRestore"]),
  checks: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(1)),
})
export type ManifestVerification = typeof ManifestVerification.Type

export const BackupManifest = Schema.Struct({
  formatVersion: Schema.Literals([1, manifestFormatVersion]),
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
  /** Since cluster-backup records the bundle's proof (format 2, optional): versions, key counts, decryption. */
  cluster: Schema.optionalKey(ClusterFacts),
  /** Keys per resource prefix at the snapshot's etcd revision. */
  keyCounts: Schema.optionalKey(KeyCounts),
  decryption: Schema.optionalKey(DecryptionRecord),
  /** Every certificate of the tarball judged at backup time (soonest expiry, each WARN/FAIL source). */
  certificates: Schema.optionalKey(CertificateRecord),
  /** Added by backup-upload to the manifest it stores when verify passed the backup in the pod. */
  verification: Schema.optionalKey(ManifestVerification),
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
export const pairingVerdict = (requested: RevisionSet, inSnapshot: SnapshotRevisions, table: OperandTable = defaultOperands): PairingVerdict => {
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

/** The order keys are written in: summary first, the long entry list last, the document's own digest at the end. */
const keyOrder = [
  "formatVersion",
  "tool",
  "timestamp",
  "createdAt",
  "verdict",
  "reasons",
  "revisions",
  "requested",
  "inSnapshot",
  ...operandNames,
  "revision",
  "memberDbSize",
  "files",
  "snapshot",
  "resources",
  "cluster",
  "openshiftVersion",
  "clusterId",
  "etcdVersion",
  "problem",
  "decryption",
  "message",
  "decrypted",
  "keys",
  "failures",
  "skipped",
  "certificates",
  "warnDays",
  "count",
  "soonestExpiry",
  "source",
  "subject",
  "notAfter",
  "problems",
  "verification",
  "checks",
  "keyCounts",
  "skippedOptional",
  "entries",
  "operand",
  "kind",
  "name",
  "version",
  "path",
  "size",
  "mode",
  "sha256",
  "encrypted",
  "recipientsSha256",
  "manifestSha256",
]

const sha256Hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

/** The manifest's own digest: sha256 of its canonical encoding without `manifestSha256`. */
export const manifestDigest = (manifest: BackupManifest): string => sha256Hex(canonicalJson(manifest, keyOrder))

/**
 * Canonical pretty JSON: fixed key order, 2-space indent, trailing newline, no byte order mark;
 * from format 2 on, `manifestSha256` last. Same manifest, same bytes.
 */
export const encodeBackupManifest = (manifest: BackupManifest): string =>
  canonicalJson(manifest.formatVersion === 1 ? manifest : { ...manifest, manifestSha256: manifestDigest(manifest) }, keyOrder)

/** What a decoded manifest must also satisfy: no claim that contradicts another. */
const contradiction = (m: BackupManifest, table: OperandTable): { key: string; problem: string } | undefined => {
  const pairing = pairingVerdict(m.revisions.requested, m.revisions.inSnapshot, table)
  if (pairing.verdict === "dirty" && m.verdict === "consistent") {
    return { key: "verdict", problem: `is "consistent" but the revisions do not pair: ${pairing.reasons.join("; ")}` }
  }
  if (m.verdict === "dirty" && m.reasons.length === 0) return { key: "reasons", problem: `is empty but the verdict is "dirty"; say why` }
  if (m.verdict === "consistent" && m.reasons.length > 0) {
    return {
      key: "reasons",
      problem: `gives ${m.reasons.length} reason${m.reasons.length === 1 ? "" : "s"} to doubt the pairing but the verdict is "consistent" (${JSON.stringify(m.reasons[0])})`,
    }
  }
  // The writer puts the reasons the revisions give first, in operand order.
  for (const [i, reason] of pairing.reasons.entries()) {
    if (m.reasons[i] !== reason) {
      return {
        key: formatKeyPath(["reasons", i]),
        problem: `is ${JSON.stringify(m.reasons[i] ?? null)} but the revisions give the reason ${JSON.stringify(reason)}`,
      }
    }
  }
  for (const [i, reason] of m.reasons.entries()) {
    if (reason.trim() === "") return { key: formatKeyPath(["reasons", i]), problem: "is empty" }
    if (m.reasons.indexOf(reason) !== i) return { key: formatKeyPath(["reasons", i]), problem: `repeats reason ${m.reasons.indexOf(reason)}` }
  }
  const names = backupFileNames(m.timestamp, m.verdict === "dirty")
  for (const file of ["snapshot", "resources"] as const) {
    if (m.files[file].name !== names[file]) {
      return { key: `files.${file}.name`, problem: `is "${m.files[file].name}" but timestamp ${m.timestamp} and verdict ${m.verdict} name it "${names[file]}"` }
    }
  }
  for (const file of ["snapshot", "resources"] as const) {
    const encrypted = m.files[file].encrypted
    if (encrypted !== undefined && encrypted.name !== `${m.files[file].name}${encryptedSuffix}`) {
      return {
        key: `files.${file}.encrypted.name`,
        problem: `is "${encrypted.name}" but the encrypted form of ${m.files[file].name} is named "${m.files[file].name}${encryptedSuffix}"`,
      }
    }
  }
  const listed = expectedResources(m.revisions.requested, table)
  const skipped = new Set<string>()
  const resourceId = (operand: string, kind: string, name: string) => `${operand}/${kind}/${name}`
  for (const [i, s] of m.skippedOptional.entries()) {
    const key = formatKeyPath(["skippedOptional", i])
    const known = listed.find((r) => r.operand === s.operand && r.kind === s.kind && r.name === s.name)
    // A name the table does not list may come from a replaced resource list (--operand-resources).
    if (known !== undefined && !known.optional) {
      return { key, problem: `names ${s.kind} ${s.name} of ${s.operand}, a required resource: only an optional one may be absent from a revision` }
    }
    const id = resourceId(s.operand, s.kind, s.name)
    if (skipped.has(id)) return { key, problem: `repeats ${s.kind} ${s.name} of ${s.operand}` }
    skipped.add(id)
  }
  let previous: string | undefined
  for (const [i, entry] of m.entries.entries()) {
    const key = formatKeyPath(["entries", i, "path"])
    const layout = classifyEntry(entry.path, m.revisions.requested, table)
    if (Result.isFailure(layout)) return { key, problem: `is not a file of the backup layout: ${layout.failure.reason}` }
    const c = layout.success
    if (c.kind !== "resource-file" && c.kind !== "pod-manifest") return { key, problem: `"${entry.path}" is a directory, not a file` }
    if (entry.path.startsWith("./") || entry.path.endsWith("/")) return { key, problem: `"${entry.path}" is not in normal form` }
    if (c.kind === "resource-file" && skipped.has(resourceId(c.operand, c.resourceKind, c.name))) {
      return { key, problem: `"${entry.path}" is a file of ${c.resourceKind} ${c.name} of ${c.operand}, which skippedOptional says is absent` }
    }
    if (entry.mode !== c.mode) {
      return {
        key: formatKeyPath(["entries", i, "mode"]),
        problem: `is 0${entry.mode.toString(8)} but the layout gives "${entry.path}" mode 0${c.mode.toString(8)}`,
      }
    }
    if (previous !== undefined && entry.path <= previous) return { key, problem: `"${entry.path}" is out of order or repeated (entries are sorted by path)` }
    previous = entry.path
  }
  return undefined
}

/** The document as written: the manifest and, from format 2 on, its own digest. */
const ManifestDocument = Schema.Struct({ ...BackupManifest.fields, manifestSha256: Schema.optionalKey(Sha256Hex) })
const decodeShape = Schema.decodeUnknownResult(ManifestDocument, { onExcessProperty: "error" })

/** Line and column (1-based) of the first character where `a` and `b` differ. */
const firstDifference = (a: string, b: string): string => {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  const before = a.slice(0, i).split("\n")
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`
}

const byteOrderMark = "\uFEFF"

/** The format and writer's version of a document of a format this version does not know yet (a later cluster-backup's). */
const newerFormat = (json: unknown): { readonly format: number; readonly tool: string | undefined } | undefined => {
  if (typeof json !== "object" || json === null || !("formatVersion" in json)) return undefined
  const format = json.formatVersion
  if (typeof format !== "number" || !Number.isSafeInteger(format) || format <= manifestFormatVersion) return undefined
  const tool = "tool" in json && typeof json.tool === "object" && json.tool !== null && "version" in json.tool ? json.tool.version : undefined
  return { format, tool: typeof tool === "string" ? tool : undefined }
}

/**
 * Reads `backup-manifest.json` text: exactly the bytes the writer produces (no byte order mark,
 * canonical form), the `BackupManifest` shape, its own digest (format 2), and no
 * self-contradiction. The first problem found is the error, its key naming where it is.
 */
export const decodeBackupManifest = (text: string, table: OperandTable = defaultOperands): Result.Result<BackupManifest, BackupManifestInvalid> => {
  const invalid = (key: string, problem: string) =>
    Result.fail(new BackupManifestInvalid({ key, message: `backup manifest: ${key === "" ? "the document" : key} ${problem}` }))
  if (text.startsWith(byteOrderMark)) {
    return invalid(
      "",
      "begins with a UTF-8 byte order mark: a JSON text must not (RFC 8259) and cluster-backup never writes one, so the file was converted or edited after the backup; use an unmodified copy of the backup",
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return invalid("", `is not JSON (${failureText(e)})`)
  }
  const future = newerFormat(json)
  if (future !== undefined) {
    return invalid(
      "formatVersion",
      `is ${future.format}, a format newer than this cluster-backup reads (1 to ${manifestFormatVersion}): the backup was written by a newer cluster-backup` +
        `${future.tool === undefined ? "" : ` (${JSON.stringify(future.tool)})`}; verify and restore it with that version or a newer one (if no newer version wrote it, the manifest was damaged: use an intact copy)`,
    )
  }
  const decoded = decodeShape(json)
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return invalid(key, message)
  }
  const { manifestSha256, ...manifest } = decoded.success
  if (manifest.formatVersion === 1 && manifestSha256 !== undefined) return invalid("manifestSha256", "is not a key of format 1")
  if (manifest.formatVersion !== 1 && manifestSha256 === undefined)
    return invalid("manifestSha256", `is missing: a format ${manifest.formatVersion} manifest carries its own sha256`)
  const wrong = contradiction(manifest, table)
  if (wrong !== undefined) return invalid(wrong.key, wrong.problem)
  if (manifestSha256 !== undefined && manifestSha256 !== manifestDigest(manifest)) {
    return invalid(
      "manifestSha256",
      `is ${manifestSha256} but the manifest's content hashes to ${manifestDigest(manifest)}: the manifest was damaged or edited after it was written; use an intact copy of the backup`,
    )
  }
  const canonical = encodeBackupManifest(manifest)
  if (canonical !== text) {
    return invalid(
      "",
      `is not byte for byte the canonical JSON cluster-backup writes (first difference at ${firstDifference(text, canonical)}): it was damaged or edited after it was written; use an intact copy of the backup`,
    )
  }
  return Result.succeed(manifest)
}
