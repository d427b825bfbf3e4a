/**
 * Local directories that must not be a directory store's own places (under its prefix, where its backups are), judged
 * on real paths and refused as usage errors (exit 2) before anything runs:
 * - where a store's backup is downloaded (`download STORE ID DIR`, `verify`/`restore STORE --backup-id ID --work-dir
 *   DIR`): in the backup's own directory of the store, an encrypted backup's plaintext would be written beside its
 *   `.age` objects, which the download then removes as its ciphertext: the stored backup left incomplete (pruned after
 *   the grace period) and holding the plaintext. Anywhere else inside, the store would hold a copy it does not own;
 * - the backup directory `backup-upload` uploads (`--backup-dir`): `<store>/<prefix>/<name>` is where the store keeps
 *   backup `<name>`, so the upload would write its objects over the files it reads, and remove the file's other form
 *   (the plaintext, when it encrypts) and its ciphertext as its own.
 */
import { basename, dirname, join, resolve } from "node:path"
import { Effect, FileSystem, Option, Result } from "effect"
import { CliError } from "effect/cli"
import { pathInside } from "../domain/path-inside.ts"
import { parseStoreLocation, storePrefix } from "../domain/store-location.ts"

/** A path with symbolic links resolved as far as it exists (the rest, still to be created, appended). */
export const realPathSoFar = (fs: FileSystem.FileSystem, path: string): Effect.Effect<string> =>
  fs
    .realPath(path)
    .pipe(
      Effect.catch(() => (dirname(path) === path ? Effect.succeed(path) : realPathSoFar(fs, dirname(path)).pipe(Effect.map((p) => join(p, basename(path)))))),
    )

interface PrefixFlags {
  readonly prefix: Option.Option<string>
  readonly clusterId: Option.Option<string>
}

/**
 * Where `dir` is under the prefix of the directory store `store` (its segments; none for the prefix itself), with the
 * prefix; `undefined` when it is outside, or the store is an s3:// one (a store or prefix that cannot be used is the
 * store's own opening to report).
 */
const placeInDirectoryStore = (store: string, flags: PrefixFlags, dir: string) =>
  Effect.gen(function* () {
    const location = parseStoreLocation(store)
    if (Result.isFailure(location) || location.success._tag !== "Directory") return undefined
    const prefix = storePrefix(location.success, Option.getOrUndefined(flags.prefix), Option.getOrUndefined(flags.clusterId))
    if (Result.isFailure(prefix)) return undefined
    const fs = yield* FileSystem.FileSystem
    const realStore = yield* fs.realPath(resolve(location.success.path)).pipe(Effect.option)
    if (Option.isNone(realStore)) return undefined
    const inside = pathInside(join(realStore.value, prefix.success), yield* realPathSoFar(fs, resolve(dir)))
    if (inside === undefined) return undefined
    return { segments: inside === "" ? [] : inside.split("/"), prefix: prefix.success }
  })

const usageError = (command: string, option: { readonly name: string; readonly kind: "flag" | "argument" }, value: string, expected: string) =>
  new CliError.ShowHelp({
    commandPath: ["cluster-backup", command],
    errors: [new CliError.InvalidValue({ option: option.name, value, expected, kind: option.kind })],
  })

const describeStore = (store: string, prefix: string) => `the directory store ${store}${prefix === "" ? "" : ` (its prefix ${prefix})`}`

/** Fails with a usage error naming `option` when the download directory `dir` is inside the directory store `store`. */
export const downloadDirOutsideStore = (
  command: string,
  store: string,
  flags: PrefixFlags,
  dir: string,
  option: { readonly name: string; readonly kind: "flag" | "argument" },
) =>
  Effect.gen(function* () {
    const place = yield* placeInDirectoryStore(store, flags, dir)
    if (place === undefined) return
    return yield* usageError(
      command,
      option,
      dir,
      `a directory outside ${describeStore(store, place.prefix)} (downloaded into the store, an encrypted backup's plaintext would replace its .age objects there)`,
    )
  })

/**
 * Fails with a usage error naming --backup-dir when `dir` is a backup's place in the directory store `store`
 * (`<prefix>/<name>`), and naming --store when the store lies in `dir`: the upload would copy the backup into its own
 * directory, doubling it on its volume (a pod's emptyDir over its limit is evicted).
 */
export const backupDirApartFromStore = (store: string, flags: PrefixFlags, dir: string) =>
  Effect.gen(function* () {
    const location = parseStoreLocation(store)
    if (Result.isSuccess(location) && location.success._tag === "Directory") {
      const fs = yield* FileSystem.FileSystem
      const realDir = yield* realPathSoFar(fs, resolve(dir))
      if (pathInside(realDir, yield* realPathSoFar(fs, resolve(location.success.path))) !== undefined)
        return yield* usageError(
          "backup-upload",
          { name: "store", kind: "flag" },
          store,
          `a store outside the backup directory ${dir} (inside it, the upload would copy the backup into its own directory)`,
        )
    }
    const place = yield* placeInDirectoryStore(store, flags, dir)
    if (place?.segments.length !== 1) return
    return yield* usageError(
      "backup-upload",
      { name: "backup-dir", kind: "flag" },
      dir,
      `the directory backup-create wrote, not ${describeStore(store, place.prefix)}'s place for backup ${place.segments[0]} (uploaded from there, the store's objects would be written over the files read, and removed as this upload's own)`,
    )
  })
