/**
 * The backup id a command was given, with `latest` resolved to the store's newest complete backup
 * (domain/latest-backup.ts) from its listing, the choice and what was passed over logged. With
 * trusted keys, the backup's stored manifest must be signed by one of them, checked here before
 * anything is downloaded: an id given is refused (stored-signature.ts), and for `latest` an unsigned
 * backup is passed over (trusted-backups.ts, by the listing's sizes: a signature too large to read is
 * passed over unread), since a store someone else can write to could otherwise hold back every
 * `latest` with one unsigned backup, newer than the real ones.
 */
import { Clock, Effect, Schema } from "effect"
import { latestBackupId, rankLatest } from "../../domain/latest-backup.ts"
import { listingPrefix } from "../../domain/store-layout.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { listBackups } from "./store-list.ts"
import { listedTrust } from "./trusted-backups.ts"
import { refuseUnauthenticatedManifest } from "./stored-signature.ts"

export class NoCompleteBackup extends Schema.TaggedError<NoCompleteBackup>()("NoCompleteBackup", {
  store: Schema.String,
  message: Schema.String,
}) {}

export const resolveBackupId = Effect.fn("resolveBackupId")(function* (prefix: string, id: string, trustedKeys: ReadonlyArray<TrustedKey> = []) {
  if (id !== latestBackupId) {
    yield* refuseUnauthenticatedManifest(prefix, id, trustedKeys)
    return id
  }
  const store = yield* BackupStore
  const listed = yield* listBackups(prefix)
  const ranking = rankLatest(
    listed.map((b) => ({ id: b.completeness.id, complete: b.completeness._tag === "Complete", manifestTimestamp: b.manifest?.timestamp })),
    yield* Clock.currentTimeMillis,
  )
  for (const p of ranking.passedOver) yield* Effect.logWarning(`latest: passing over backup ${p.id}: ${p.reason}`)
  const where = `${store.location} under ${listingPrefix(prefix) === "" ? "its root" : listingPrefix(prefix)}`
  let unsigned = 0
  for (const candidate of ranking.fit) {
    if (trustedKeys.length > 0) {
      // By the listing's manifest and signature sizes: an object written into the store to fail this (a signature too large to read) is passed over.
      const trust = (yield* listedTrust(
        prefix,
        listed.filter((b) => b.completeness.id === candidate),
        trustedKeys,
      )).get(candidate)
      if (trust?.trusted !== true) {
        yield* Effect.logWarning(`latest: passing over backup ${candidate}: ${trust?.why ?? "its manifest was not read"}, and trusted keys were given`)
        unsigned++
        continue
      }
      yield* Effect.logInfo(`backup ${candidate} in ${store.location}: the manifest is signed by trusted key ${trust.keyId}`)
    }
    yield* Effect.logInfo(`latest: backup ${candidate}, the newest complete${trustedKeys.length === 0 ? "" : " and trusted"} one in ${where}`)
    return candidate
  }
  const passed = ranking.passedOver.length + unsigned
  return yield* new NoCompleteBackup({
    store: store.location,
    message: `there is no complete backup${trustedKeys.length === 0 ? "" : " signed by a trusted key"} in ${where} to take as latest${passed === 0 ? "" : ` (${passed} passed over, logged above)`}: see list`,
  })
})
