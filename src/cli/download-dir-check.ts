/**
 * Where a store's backup may be downloaded (`download STORE ID DIR`, `verify`/`restore STORE --backup-id ID --work-dir
 * DIR`): not inside the directory store it comes from (under its prefix, where its backups are). In the backup's own directory of the store, an encrypted backup's
 * plaintext would be written beside its `.age` objects, which the download then removes as its ciphertext: the stored
 * backup left incomplete (pruned after the grace period) and holding the plaintext. Anywhere else inside, the store
 * would hold a copy it does not own. Refused as a usage error (exit 2) before anything runs, judged on real paths.
 */
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path"
import { Effect, FileSystem, Option, Result } from "effect"
import { CliError } from "effect/cli"
import { parseStoreLocation, storePrefix } from "../domain/store-location.ts"

/** A path with symbolic links resolved as far as it exists (the rest, still to be created, appended). */
export const realPathSoFar = (fs: FileSystem.FileSystem, path: string): Effect.Effect<string> =>
  fs
    .realPath(path)
    .pipe(
      Effect.catch(() => (dirname(path) === path ? Effect.succeed(path) : realPathSoFar(fs, dirname(path)).pipe(Effect.map((p) => join(p, basename(path)))))),
    )

/**
 * Fails with a usage error naming `option` when `dir` is inside the directory store `store`, under the prefix its backups
 * are kept (an s3:// store has no such place; a directory beside the prefix holds none of its backups).
 */
export const downloadDirOutsideStore = (
  command: string,
  store: string,
  flags: { readonly prefix: Option.Option<string>; readonly clusterId: Option.Option<string> },
  dir: string,
  option: { readonly name: string; readonly kind: "flag" | "argument" },
) =>
  Effect.gen(function* () {
    const location = parseStoreLocation(store)
    if (Result.isFailure(location) || location.success._tag !== "Directory") return
    const prefix = storePrefix(location.success, Option.getOrUndefined(flags.prefix), Option.getOrUndefined(flags.clusterId))
    // A store or prefix that cannot be used is the store's own opening to report.
    if (Result.isFailure(prefix)) return
    const fs = yield* FileSystem.FileSystem
    const realStore = yield* fs.realPath(resolve(location.success.path)).pipe(Effect.option)
    if (Option.isNone(realStore)) return
    const inside = relative(join(realStore.value, prefix.success), yield* realPathSoFar(fs, resolve(dir)))
    if (inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return
    return yield* new CliError.ShowHelp({
      commandPath: ["cluster-backup", command],
      errors: [
        new CliError.InvalidValue({
          option: option.name,
          value: dir,
          expected: `a directory outside the directory store ${store}${prefix.success === "" ? "" : ` (its prefix ${prefix.success})`} (downloaded into the store, an encrypted backup's plaintext would replace its .age objects there)`,
          kind: option.kind,
        }),
      ],
    })
  })
