/**
 * Where the backups are when a directory given to verify, restore, prune or backup-upload holds none: one level too high, a parent of several
 * backups or a directory store's root (`cluster-backup/<cluster-id>/<id>/`). Said with the refusal, so the person at
 * the terminal does not conclude there is no backup.
 */
import { Effect, FileSystem, Path } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { shortList } from "../../domain/short-list.ts"

/** A directory store's backups lie three levels below its root. */
const maxDepth = 3
/** Directories looked into at most: a hint, not a walk of a whole file system. */
const maxDirs = 200

/** The directories below `dir` (relative, sorted) that hold a backup manifest; nothing when it cannot be read. */
export const backupDirsBelow = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const found: Array<string> = []
    const queue: Array<{ readonly rel: string; readonly depth: number }> = [{ rel: "", depth: 0 }]
    let looked = 0
    while (queue.length > 0 && looked < maxDirs) {
      const { rel, depth } = queue.shift()!
      looked++
      const names = yield* fs.readDirectory(path.join(dir, rel)).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
      if (depth > 0 && names.includes(manifestFileName)) found.push(rel)
      if (depth === maxDepth) continue
      for (const name of [...names].sort()) {
        if (name.startsWith(".")) continue
        const info = yield* fs.stat(path.join(dir, rel, name)).pipe(Effect.option)
        if (info._tag === "Some" && info.value.type === "Directory") queue.push({ rel: rel === "" ? name : `${rel}/${name}`, depth: depth + 1 })
      }
    }
    return found.sort()
  })

/** The refusal's addition naming them (five at most) and what to do, or nothing. */
export const backupsBelowHint = (dirs: ReadonlyArray<string>, advice = "give one of those directories"): string =>
  dirs.length === 0 ? "" : `; backups lie below it, in ${shortList(dirs.map((d) => `${d}/`))}: ${advice}`
