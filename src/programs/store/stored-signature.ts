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
import { maxKeyOrSignatureBytes } from "../backup-dir/manifest-authenticity.ts"

/** The stored manifest is not signed by a trusted key: refused before anything is downloaded. */
export class StoredManifestUnauthenticated extends Schema.TaggedError<StoredManifestUnauthenticated>()("StoredManifestUnauthenticated", {
  store: Schema.String,
  id: Schema.String,
  /** The verdict's tag: Unsigned, UnknownKey, BadSignature or MalformedSignature. */
  verdict: Schema.String,
  message: Schema.String,
}) {}

/**
 * Fails unless `manifest` is signed by one of `trustedKeys` (`signature`: the stored signature
 * file's bytes, undefined when there is none); `refused` says what the refusal means for the run.
 */
const authenticate = (id: string, manifest: Uint8Array, signature: Uint8Array | undefined, trustedKeys: ReadonlyArray<TrustedKey>, refused: string) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const verdict = verifyManifestSignature(manifest, signature === undefined ? undefined : Buffer.from(signature).toString("utf8"), trustedKeys)
    const found = describeSignatureVerdict(verdict, trustedKeys)
    if (verdict._tag === "Verified") return found
    return yield* new StoredManifestUnauthenticated({
      store: store.location,
      id,
      verdict: verdict._tag,
      message: `backup ${id} in ${store.location} ${refused}: ${found}`,
    })
  })

/** The stored signature file of backup `id`, undefined when there is none. */
export const storedSignature = (prefix: string, id: string) =>
  BackupStore.use((store) => store.getBytes(objectKey(prefix, id, signatureFileName))).pipe(
    Effect.map((b): Uint8Array | undefined => b),
    Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
  )

/**
 * The stored signature of backup `id` for a check against trusted keys: at most `maxKeyOrSignatureBytes` read, and one
 * longer refused unread (`refused`: what the refusal means for the run), as no signature is that large.
 */
const checkedSignature = (prefix: string, id: string, refused: string) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const bytes = yield* store.getStart(objectKey(prefix, id, signatureFileName), maxKeyOrSignatureBytes + 1).pipe(
      Effect.map((b): Uint8Array | undefined => b),
      Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
    )
    if (bytes !== undefined && bytes.length > maxKeyOrSignatureBytes)
      return yield* new StoredManifestUnauthenticated({
        store: store.location,
        id,
        verdict: "MalformedSignature",
        message: `backup ${id} in ${store.location} ${refused}: its signature object is larger than any signature (over ${maxKeyOrSignatureBytes} bytes); it was not read`,
      })
    return bytes
  })

/** Fails unless the stored manifest of backup `id` is signed by one of `trustedKeys`; with none given, checks nothing. */
export const refuseUnauthenticatedManifest = Effect.fn("refuseUnauthenticatedManifest")(function* (
  prefix: string,
  id: string,
  trustedKeys: ReadonlyArray<TrustedKey>,
) {
  if (trustedKeys.length === 0) return
  const store = yield* BackupStore
  const manifest = yield* store.getBytes(objectKey(prefix, id, manifestFileName))
  const refused = "is refused before anything is downloaded"
  const signature = yield* checkedSignature(prefix, id, refused)
  const found = yield* authenticate(id, manifest, signature, trustedKeys, refused)
  yield* Effect.logInfo(`backup ${id} in ${store.location}: ${found}`)
})

const changedDuringDownload =
  "is refused: its manifest or signature changed during the download; no manifest written (the files downloaded are not a backup until a download ends with a trusted manifest)"

/**
 * The stored signature a download is about to write beside `manifest` (the bytes it read), undefined when there is none;
 * with `trustedKeys`, checked again (the store may have replaced them since the check before the download) and read no
 * further than any signature goes. On a refusal nothing of them is written, so the directory holds no backup.
 */
export const signatureToWrite = (prefix: string, id: string, manifest: Uint8Array, trustedKeys: ReadonlyArray<TrustedKey>) =>
  trustedKeys.length === 0
    ? storedSignature(prefix, id)
    : Effect.gen(function* () {
        const signature = yield* checkedSignature(prefix, id, changedDuringDownload)
        yield* authenticate(id, manifest, signature, trustedKeys, changedDuringDownload)
        return signature
      })
