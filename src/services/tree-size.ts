/**
 * The sum of a measure (domain/tree-measure.ts) over a path and everything under it, walked with
 * `lstat` (links are not followed), through whatever reads the file system: node's directly, the
 * DurableFiles service or effect's FileSystem. The callers choose what a missing or unreadable
 * entry means through the `lstat` and `readDirectory` they pass.
 */
import { lstat, readdir } from "node:fs/promises"
import { join } from "node:path"
import type { BigIntStats, Stats } from "node:fs"
import { Effect, type FileSystem } from "effect"
import type { TreeEntry, TreeMeasure } from "../domain/tree-measure.ts"

export interface TreeReader<E, R> {
  /** undefined when nothing is there. */
  readonly lstat: (path: string) => Effect.Effect<TreeEntry | undefined, E, R>
  readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<string>, E, R>
}

export interface TreeSizeOptions {
  /** Count a file with several hard links in the tree once (what it takes on disk), or at each name (what copying the names writes). */
  readonly hardLinks: "once" | "each"
}

export const treeSize = <E, R>(root: string, reader: TreeReader<E, R>, measure: TreeMeasure, options: TreeSizeOptions): Effect.Effect<number, E, R> => {
  const seen = new Set<string>()
  const walk = (path: string): Effect.Effect<number, E, R> =>
    Effect.gen(function* () {
      const entry = yield* reader.lstat(path)
      if (entry === undefined) return 0
      if (options.hardLinks === "once" && entry.identity !== undefined) {
        if (seen.has(entry.identity)) return 0
        seen.add(entry.identity)
      }
      let total = measure(entry)
      if (entry.kind === "Directory") for (const name of yield* reader.readDirectory(path)) total += yield* walk(join(path, name))
      return total
    })
  return walk(root)
}

export const treeEntryOfStats = (s: Stats | BigIntStats): TreeEntry => ({
  kind: s.isFile() ? "File" : s.isDirectory() ? "Directory" : "Other",
  size: Number(s.size),
  blocks: Number(s.blocks),
  identity: `${s.dev}:${s.ino}`,
})

export const treeEntryOfInfo = (info: FileSystem.File.Info): TreeEntry => ({
  kind: info.type === "File" ? "File" : info.type === "Directory" ? "Directory" : "Other",
  size: Number(info.size),
  blocks: info.blocks._tag === "Some" ? Number(info.blocks.value) : 0,
  identity: info.ino._tag === "Some" ? `${info.dev}:${info.ino.value}` : undefined,
})

const isMissing = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT"

/**
 * node's file system, read directly (for services that stand below DurableFiles). A path removed
 * while the tree is walked was not there to count; any other failure is `failed`'s.
 */
export const nodeTreeReader = <E>(failed: (path: string, e: unknown) => E): TreeReader<E, never> => ({
  lstat: (path) =>
    Effect.tryPromise({
      try: () => lstat(path, { bigint: true }).then(treeEntryOfStats, (e) => (isMissing(e) ? undefined : Promise.reject(e))),
      catch: (e) => failed(path, e),
    }),
  readDirectory: (path) => Effect.tryPromise({ try: () => readdir(path).catch((e) => (isMissing(e) ? [] : Promise.reject(e))), catch: (e) => failed(path, e) }),
})
