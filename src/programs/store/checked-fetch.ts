/** One file of a backup fetched (from a store, or off a backup pod) and kept only when it is what the manifest records. */
import { Effect, FileSystem } from "effect"
import { BackupStore } from "../../services/store/backup-store.ts"
import { localIoFailed, StoreIntegrityFailed, warnLocalIoFailed } from "../../services/store/store-errors.ts"

/**
 * Fetches `source.key` to `path` through `<path>.download` (`fetch` writes there, through its own `.part`), kept only
 * with the size and sha256 `want` gives.
 */
export const keepChecked = <E, R>(
  fetch: (to: string) => Effect.Effect<{ readonly size: number; readonly sha256: string }, E, R>,
  /** Where the file is, for the failure: `copy` names what is damaged ("the stored copy"). */
  source: { readonly location: string; readonly key: string; readonly copy: string },
  path: string,
  want: { readonly size: number; readonly sha256: string },
) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const { location, key, copy } = source
    const got = yield* fetch(`${path}.download`)
    if (got.sha256 !== want.sha256 || got.size !== want.size) {
      // The damaged copy is the failure; a copy that cannot be removed is named in it (and, with its
      // errno, in a warning). It is harmless to the next run: a `.download` is never used as it is.
      const leftBehind = yield* fs.remove(`${path}.download`, { force: true }).pipe(
        Effect.as(undefined),
        Effect.catch((e) => {
          const failure = localIoFailed(`${path}.download`, "remove", e)
          return warnLocalIoFailed(failure, "the damaged download is left there: remove it by hand").pipe(Effect.as(failure))
        }),
      )
      const kept =
        leftBehind === undefined ? "nothing kept" : `its download ${leftBehind.path} could not be removed (${leftBehind.code ?? "no errno"}): remove it by hand`
      return yield* new StoreIntegrityFailed({
        store: location,
        key,
        check: got.size !== want.size ? "size" : "sha256",
        expected: got.size !== want.size ? String(want.size) : want.sha256,
        found: got.size !== want.size ? String(got.size) : got.sha256,
        message: `${key} in ${location} has ${got.size} bytes with sha256 ${got.sha256}; the manifest says ${want.size} bytes with ${want.sha256}: ${copy} is damaged, ${kept}`,
      })
    }
    yield* fs.rename(`${path}.download`, path).pipe(Effect.mapError((e) => localIoFailed(path, "rename into place", e)))
  })

/** Fetches `key` from the store to `path` through `<path>.download`, kept only with the size and sha256 `want` gives. */
export const fetchChecked = (key: string, path: string, want: { readonly size: number; readonly sha256: string }) =>
  Effect.flatMap(BackupStore, (store) => keepChecked((to) => store.getFile(key, to), { location: store.location, key, copy: "the stored copy" }, path, want))
