/**
 * `<backup-dir>/.cluster-backup/resources-<operand>.json`: what `backup-resources` wrote for one
 * operand's revision (every file with its size, mode and sha256, and the optional resources the
 * revision does not have). `backup-create` requires the four records for the requested revisions
 * and checks the tarball's content against them.
 */
import { Effect, FileSystem, Path, Result, Schema } from "effect"
import { classifyEntry, podDirectory } from "../../domain/archive-layout.ts"
import { ManifestEntry, SkippedResource } from "../../domain/backup-manifest.ts"
import { defaultOperands, OperandName, operandNames, type OperandTable } from "../../domain/operands.ts"
import { Revision, type RevisionSet } from "../../domain/revisions.ts"
import { firstKeyedProblem, formatKeyPath } from "../../domain/schema-errors.ts"
import { ensurePrivateDirectory, fileError, readRecordText, writeFileAtomic, type BackupFileError } from "../../services/atomic-files.ts"
import { resourcesRecordPath } from "../backup-dir/staging-area.ts"

export const ResourcesRecord = Schema.Struct({
  operand: OperandName,
  revision: Revision,
  /** The namespace the revision was read from. */
  namespace: Schema.String,
  /** `static-pod-resources/<pod>-<N>`, relative to the staging directory. */
  directory: Schema.String,
  /** Every file written, sorted by path; paths relative to the staging directory. */
  files: Schema.Array(ManifestEntry),
  /** Optional resources absent from the revision (so absent from the tree). */
  skippedOptional: Schema.Array(SkippedResource),
})
export type ResourcesRecord = typeof ResourcesRecord.Type

export class ResourcesRecordInvalid extends Schema.TaggedError<ResourcesRecordInvalid>()("ResourcesRecordInvalid", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** What a record must satisfy beyond its shape: only files of its operand's layout, sorted, with the layout's modes. */
export const resourcesRecordProblem = (record: ResourcesRecord, table: OperandTable = defaultOperands): string | undefined => {
  const expectedDir = podDirectory(record.operand, record.revision, table)
  if (record.directory !== expectedDir) return `directory is "${record.directory}", expected "${expectedDir}"`
  // Only this operand's revision matters for classification; the others are never matched.
  const revisions = Object.fromEntries(operandNames.map((n) => [n, record.revision])) as RevisionSet
  let previous: string | undefined
  for (const [i, file] of record.files.entries()) {
    const key = formatKeyPath(["files", i, "path"])
    const layout = classifyEntry(file.path, revisions, table)
    if (Result.isFailure(layout)) return `${key} is outside the layout: ${layout.failure.reason}`
    const c = layout.success
    if ((c.kind !== "resource-file" && c.kind !== "pod-manifest") || c.operand !== record.operand) {
      return `${key} "${file.path}" is not a file of ${expectedDir}`
    }
    if (file.mode !== c.mode) return `${formatKeyPath(["files", i, "mode"])} is 0${file.mode.toString(8)}, the layout gives 0${c.mode.toString(8)}`
    if (previous !== undefined && file.path <= previous) return `${key} "${file.path}" is out of order or repeated`
    previous = file.path
  }
  const operand = table[record.operand]
  for (const [i, skipped] of record.skippedOptional.entries()) {
    const listed = (skipped.kind === "configmap" ? operand.configMaps : operand.secrets).find((r) => r.name === skipped.name)
    if (skipped.operand !== record.operand || listed === undefined || !listed.optional) {
      return `${formatKeyPath(["skippedOptional", i])} names ${skipped.kind} ${skipped.name} of ${skipped.operand}, not an optional resource of ${record.operand}`
    }
  }
  return undefined
}

const RecordJson = Schema.fromJsonString(ResourcesRecord)
const encodeRecord = Schema.encodeEffect(RecordJson)
const decodeRecord = Schema.decodeUnknownResult(RecordJson)

/** Writes the record atomically (temp, fsync, rename), mode 0600; returns its path. */
export const writeResourcesRecord = Effect.fnUntraced(function* (backupDir: string, record: ResourcesRecord, table: OperandTable = defaultOperands) {
  const path = yield* Path.Path
  const file = resourcesRecordPath(path, backupDir, record.operand)
  yield* ensurePrivateDirectory(path.dirname(file))
  const problem = resourcesRecordProblem(record, table)
  if (problem !== undefined) {
    return yield* new ResourcesRecordInvalid({ path: file, message: `refusing to write an inconsistent resources record: ${problem}` })
  }
  const json = yield* encodeRecord(record).pipe(
    Effect.mapError((e) => new ResourcesRecordInvalid({ path: file, message: `refusing to write an invalid resources record: ${e.message}` })),
  )
  yield* writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify(JSON.parse(json), null, 2)}\n`))
  return file
})

/** Decodes a record's text: JSON, the shape, and `resourcesRecordProblem`. */
export const decodeResourcesRecord = (
  text: string,
  file: string,
  table: OperandTable = defaultOperands,
): Result.Result<ResourcesRecord, ResourcesRecordInvalid> => {
  const invalid = (problem: string) =>
    Result.fail(new ResourcesRecordInvalid({ path: file, message: `${file} is not a valid resources record (run backup-resources again): ${problem}` }))
  const decoded = decodeRecord(text)
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return invalid(key === "" ? message : `${key} ${message}`)
  }
  const problem = resourcesRecordProblem(decoded.success, table)
  return problem === undefined ? Result.succeed(decoded.success) : invalid(problem)
}

/** The record of `operand` in `backupDir`, or `undefined` when there is none. */
export const readResourcesRecord = Effect.fnUntraced(function* (
  backupDir: string,
  operand: OperandName,
  table: OperandTable = defaultOperands,
): Effect.fn.Return<ResourcesRecord | undefined, ResourcesRecordInvalid | BackupFileError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = resourcesRecordPath(path, backupDir, operand)
  if (!(yield* fs.exists(file).pipe(Effect.mapError(fileError("check", file))))) return undefined
  const text = yield* readRecordText(
    file,
    "the resources record",
    (e) => new ResourcesRecordInvalid({ path: file, message: `${e.message}: not a resources record (run backup-resources for ${operand} again)` }),
  )
  return yield* Effect.fromResult(decodeResourcesRecord(text, file, table))
})
