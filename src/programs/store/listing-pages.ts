/** A store's listing under a key prefix, as a stream of its pages, each asked for once the one before is used. */
import { Effect, Option, Stream } from "effect"
import type { BackupStore, ObjectPage } from "../../services/store/backup-store.ts"
import type { StoreError } from "../../services/store/store-errors.ts"

export const listingPages = (store: BackupStore["Service"], keyPrefix: string): Stream.Stream<ObjectPage, StoreError> =>
  Stream.paginate(undefined as string | undefined, (next) =>
    store.listPage(keyPrefix, next).pipe(Effect.map((page) => [[page], Option.fromUndefinedOr(page.next)] as const)),
  )
