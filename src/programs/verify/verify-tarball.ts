/**
 * What `verify` checks inside a resource tarball, once it was read to the end: exactly the four
 * operand directories at the manifest's revisions (every extra and every missing one named), every
 * entry inside them in the installer layout, and every file's size, mode and sha256 equal to the
 * manifest's entry. `backupLayout` is the strict layout a restore extracts with.
 */
import { Result } from "effect"
import { classifyEntry, podDirectory, staticPodResourcesDir } from "../../domain/archive-layout.ts"
import type { ManifestEntry } from "../../domain/backup-manifest.ts"
import { defaultOperands, operandList, type OperandTable } from "../../domain/operands.ts"
import { formatRevisionSet, type RevisionSet } from "../../domain/revisions.ts"
import type { ArchiveEntry, LayoutCheck } from "../../services/tarball/tarball.ts"
import { verdictOf, type VerifyCheck } from "./verify-report.ts"
import { isWithin } from "../../domain/path-inside.ts"
import { shortList } from "../../domain/short-list.ts"

/** Confines entries to `static-pod-resources/` only, so that every out-of-place operand directory can be named afterwards. */
export const resourcesConfinement: LayoutCheck = (path) =>
  isWithin(staticPodResourcesDir, path) ? Result.succeed(path) : Result.fail(`"${path}" is not under ${staticPodResourcesDir}/`)

/** The installer layout of `revisions`, each entry with the type the layout gives it (files as files, directories as directories). */
export const backupLayout =
  (revisions: RevisionSet, table: OperandTable = defaultOperands): LayoutCheck =>
  (path, kind) => {
    const classified = classifyEntry(kind === "directory" ? `${path}/` : path, revisions, table)
    if (Result.isFailure(classified)) return classified
    if (classified.success.directory !== (kind === "directory")) {
      return Result.fail(`"${path}" is a ${kind} where the layout has a ${classified.success.directory ? "directory" : "file"}`)
    }
    return classified
  }

/** `static-pod-resources/<x>` of an entry, or `undefined` for the top directory itself. */
const unitOf = (path: string): string | undefined => {
  const segments = path.split("/")
  return segments.length >= 2 ? `${segments[0]}/${segments[1]}` : undefined
}

export const expectedUnits = (revisions: RevisionSet, table: OperandTable = defaultOperands): ReadonlyArray<string> =>
  operandList(table).map((o) => podDirectory(o.name, revisions[o.name], table))

/** Exactly the four operand directories of the manifest's revisions: none extra, none missing. */
export const checkOperandDirectories = (entries: ReadonlyArray<ArchiveEntry>, revisions: RevisionSet, table: OperandTable = defaultOperands): VerifyCheck => {
  const expected = expectedUnits(revisions, table)
  const found = [...new Set(entries.flatMap((e) => unitOf(e.path) ?? []))].sort()
  const extra = found.filter((u) => !expected.includes(u))
  const missing = expected.filter((u) => !found.includes(u))
  const problems = [
    ...(extra.length === 0
      ? []
      : [`extra ${extra.length === 1 ? "directory" : "directories"} ${extra.join(", ")} (not an operand directory of ${formatRevisionSet(revisions)})`]),
    ...(missing.length === 0 ? [] : [`missing ${missing.length === 1 ? "directory" : "directories"} ${missing.join(", ")}`]),
  ]
  return verdictOf(
    problems.length === 0,
    "tarball-operands",
    "the tarball holds exactly the four operand directories at the manifest's revisions",
    expected.join(", "),
    problems.length === 0 ? found.join(", ") : problems.join("; "),
  )
}

/** Every entry inside the expected operand directories is a file or directory of the installer layout. */
export const checkLayout = (entries: ReadonlyArray<ArchiveEntry>, revisions: RevisionSet, table: OperandTable = defaultOperands): VerifyCheck => {
  const units = expectedUnits(revisions, table)
  const layout = backupLayout(revisions, table)
  const inUnits = entries.filter((e) => {
    const unit = unitOf(e.path)
    return unit !== undefined && units.includes(unit)
  })
  const problems = inUnits.flatMap((e) => {
    const r = layout(e.path, e.kind)
    if (Result.isSuccess(r)) return []
    const failure = r.failure
    const why =
      typeof failure === "string"
        ? failure
        : typeof failure === "object" && failure !== null && "message" in failure
          ? String(failure.message)
          : String(failure)
    return [why]
  })
  return verdictOf(
    problems.length === 0,
    "tarball-layout",
    "every entry of the operand directories is in the installer layout (configmaps/<name>/<key>, secrets/<name>/<key>, <pod>.yaml)",
    `${inUnits.length} entries in the layout`,
    problems.length === 0 ? `${inUnits.length} entries in the layout` : `${problems.length} outside it: ${shortList(problems, 3)}`,
  )
}

const mode = (m: number) => `0${m.toString(8)}`

/** Every file of the tarball equals the manifest's entry (size, mode, sha256), none missing, none extra. */
export const checkEntries = (entries: ReadonlyArray<ArchiveEntry>, manifestEntries: ReadonlyArray<ManifestEntry>): VerifyCheck => {
  const files = new Map(entries.flatMap((e) => (e.kind === "file" ? [[e.path, e] as const] : [])))
  const problems: Array<string> = []
  for (const want of manifestEntries) {
    const got = files.get(want.path)
    if (got === undefined) {
      problems.push(`${want.path} is missing`)
      continue
    }
    files.delete(want.path)
    if (got.size !== want.size) problems.push(`${want.path} has ${got.size} bytes, the manifest says ${want.size}`)
    else if (got.sha256 !== want.sha256) problems.push(`${want.path} has sha256 ${got.sha256}, the manifest says ${want.sha256}`)
    if (got.mode !== want.mode) problems.push(`${want.path} has mode ${mode(got.mode)}, the manifest says ${mode(want.mode)}`)
  }
  for (const extra of files.keys()) problems.push(`${extra} is not in the manifest`)
  return verdictOf(
    problems.length === 0,
    "tarball-entries",
    "every file in the tarball has the size, mode and sha256 the manifest records",
    `the manifest's ${manifestEntries.length} files`,
    problems.length === 0 ? `${manifestEntries.length} files, all equal` : `${problems.length} differences: ${shortList(problems)}`,
  )
}
