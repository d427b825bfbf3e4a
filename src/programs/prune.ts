/**
 * Retention on a directory of backups: finds them (timestamped file groups side by side, as
 * OpenShift's backup directory holds them, or one backup per subdirectory, as `oc cp` copies
 * them), decides with `decideRetention`, and deletes what the policy lets go (or only reports,
 * with `dryRun`). `.part` leftovers of interrupted runs count as incomplete backups.
 */
import { Clock, Effect, FileSystem, Path, Schema } from "effect"
import { manifestFileName, parseBackupFileName, parseBackupTimestamp, type BackupTimestamp } from "../domain/archive-names.ts"
import { decideRetention, hasRule, type BackupUnit, type RetentionDecision, type RetentionPolicy } from "../domain/retention.ts"

export class PruneFailed extends Schema.TaggedError<PruneFailed>()("PruneFailed", {
  path: Schema.String,
  message: Schema.String,
}) {}

interface Found {
  readonly unit: BackupUnit
  /** What deleting the backup removes. */
  readonly paths: ReadonlyArray<string>
}

interface Group {
  snapshot: boolean
  resources: boolean
  partial: boolean
  bytes: number
  paths: Array<string>
}

const fsError = (path: string) => (e: { readonly message: string }) => new PruneFailed({ path, message: `${path}: ${e.message}` })

/** Groups the backup files of one directory by timestamp. */
const groupFiles = Effect.fnUntraced(function* (dir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const groups = new Map<BackupTimestamp, Group>()
  for (const name of (yield* fs.readDirectory(dir).pipe(Effect.mapError(fsError(dir)))).sort()) {
    const partial = name.endsWith(".part")
    const parsed = parseBackupFileName(partial ? name.slice(0, -".part".length) : name)
    if (parsed === undefined) continue
    const file = path.join(dir, name)
    const info = yield* fs.stat(file).pipe(Effect.mapError(fsError(file)))
    if (info.type !== "File") continue
    const g = groups.get(parsed.timestamp) ?? { snapshot: false, resources: false, partial: false, bytes: 0, paths: [] }
    if (partial) g.partial = true
    else if (parsed.kind === "snapshot") g.snapshot = true
    else g.resources = true
    g.bytes += Number(info.size)
    g.paths.push(file)
    groups.set(parsed.timestamp, g)
  }
  return groups
})

/** Every backup in `dir`: loose file groups and subdirectories holding one backup. */
export const findBackups = Effect.fn("findBackups")(function* (dir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const found: Array<Found> = []
  const unit = (id: string, ts: BackupTimestamp, g: Group, complete: boolean): BackupUnit => ({
    id,
    timestamp: ts,
    at: parseBackupTimestamp(ts).getTime(),
    bytes: g.bytes,
    complete: complete && g.snapshot && g.resources && !g.partial,
  })
  for (const [ts, g] of yield* groupFiles(dir)) found.push({ unit: unit(ts, ts, g, true), paths: g.paths })
  for (const name of (yield* fs.readDirectory(dir).pipe(Effect.mapError(fsError(dir)))).sort()) {
    const sub = path.join(dir, name)
    const info = yield* fs.stat(sub).pipe(Effect.mapError(fsError(sub)))
    if (info.type !== "Directory" || name.startsWith(".")) continue
    const groups = [...(yield* groupFiles(sub))]
    // Only a directory holding exactly one backup is one; anything else is not ours to delete.
    if (groups.length !== 1) continue
    const [ts, g] = groups[0]!
    const hasManifest = yield* fs.exists(path.join(sub, manifestFileName)).pipe(Effect.mapError(fsError(sub)))
    found.push({ unit: unit(name, ts, g, hasManifest), paths: [sub] })
  }
  return found
})

export interface PruneOptions {
  readonly dir: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
}

export const prune = Effect.fn("prune")(function* (options: PruneOptions) {
  if (!hasRule(options.policy)) {
    return yield* new PruneFailed({
      path: options.dir,
      message: "no retention rule given: use --keep-last, --keep-daily, --keep-weekly, --keep-monthly, --max-age or --max-total-size",
    })
  }
  const fs = yield* FileSystem.FileSystem
  const found = yield* findBackups(options.dir)
  const decision: RetentionDecision = decideRetention(found.map((f) => f.unit), options.policy, yield* Clock.currentTimeMillis)
  for (const k of decision.keep) yield* Effect.logInfo(`keep ${k.unit.id}: ${k.reason}`)
  for (const r of decision.remove) {
    yield* Effect.logInfo(`${options.dryRun ? "would remove" : "remove"} ${r.unit.id}: ${r.reason}`)
    if (options.dryRun) continue
    for (const p of found.find((f) => f.unit.id === r.unit.id)!.paths) {
      yield* fs.remove(p, { recursive: true }).pipe(Effect.mapError(fsError(p)))
    }
  }
  return decision
})
