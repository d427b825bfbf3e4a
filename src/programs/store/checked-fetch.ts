/** One object of a backup fetched from a store and kept only when it is what the manifest records. */
import { Effect, FileSystem } from "effect"
import { BackupStore } from "../../services/store/backup-store.ts"
import { localIoFailed, StoreIntegrityFailed, warnLocalIoFailed } from "../../services/store/store-errors.ts"

/** Fetches `key` to `path` through `<path>.download`, kept only with the size and sha256 `want` gives. */
export const fetchChecked = (key: string, path: string, want: { readonly size: number; readonly sha256: string }) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const fs = yield* FileSystem.FileSystem
    const got = yield* store.getFile(key, `${path}.download`)
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
        store: store.location,
        key,
        check: got.size !== want.size ? "size" : "sha256",
        expected: got.size !== want.size ? String(want.size) : want.sha256,
        found: got.size !== want.size ? String(got.size) : got.sha256,
        message: `${key} in ${store.location} has ${got.size} bytes with sha256 ${got.sha256}; the manifest says ${want.size} bytes with ${want.sha256}: the stored copy is damaged, ${kept}`,
      })
    }
    yield* fs.rename(`${path}.download`, path).pipe(Effect.mapError((e) => localIoFailed(path, "rename into place", e)))
  })
