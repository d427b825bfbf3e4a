/**
 * The signature of a stored backup's manifest, checked against --trusted-key before anything is
 * downloaded: the manifest and its signature are small, the snapshot may be gigabytes. This is an
 * early refusal only: verify's own `manifest-signature` check still judges the bytes written to
 * the work directory, which the download checked against the manifest read first.
 */
import { Effect, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { objectKey } from "../../domain/store-layout.ts"
import { describeSignatureVerdict, type TrustedKey, verifyManifestSignature } from "../../services/crypto/manifest-signature.ts"
import { BackupStore } from "../../services/store/backup-store.ts"

/** The stored manifest is not signed by a trusted key: refused before anything is downloaded. */
export class StoredManifestUnauthenticated extends Schema.TaggedError<StoredManifestUnauthenticated>()("StoredManifestUnauthenticated", {
  store: Schema.String,
  id: Schema.String,
  /** The verdict's tag: Unsigned, UnknownKey, BadSignature or MalformedSignature. */
  verdict: Schema.String,
  message: Schema.String,
}) {}

/** Fails unless the stored manifest of backup `id` is signed by one of `trustedKeys`; with none given, checks nothing. */
export const refuseUnauthenticatedManifest = Effect.fn("refuseUnauthenticatedManifest")(function* (
  prefix: string,
  id: string,
  trustedKeys: ReadonlyArray<TrustedKey>,
) {
  if (trustedKeys.length === 0) return
  const store = yield* BackupStore
  const manifest = yield* store.getBytes(objectKey(prefix, id, manifestFileName))
  const signature = yield* store.getBytes(objectKey(prefix, id, signatureFileName)).pipe(
    Effect.map((b): string | undefined => Buffer.from(b).toString("utf8")),
    Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
  )
  const verdict = verifyManifestSignature(manifest, signature, trustedKeys)
  const found = describeSignatureVerdict(verdict, trustedKeys)
  if (verdict._tag === "Verified") return yield* Effect.logInfo(`backup ${id} in ${store.location}: ${found}`)
  return yield* new StoredManifestUnauthenticated({
    store: store.location,
    id,
    verdict: verdict._tag,
    message: `backup ${id} in ${store.location} is refused before anything is downloaded: ${found}`,
  })
})
