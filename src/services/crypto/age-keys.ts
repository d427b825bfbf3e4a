/**
 * age X25519 keys: recipients (`age1...`, public, may be shown) and identities
 * (`AGE-SECRET-KEY-1...`, secret: held only as `Redacted`, so no log, error or `toString` shows
 * them), and the X25519 stanza that wraps a file key for a recipient.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from "node:crypto"
import { Redacted, Result } from "effect"
import type { AgeStanza } from "../../domain/age-header.ts"
import { decodeCanonicalBase64, encodeBase64 } from "../../domain/age-header.ts"
import { decodeBech32, encodeBech32 } from "../../domain/bech32.ts"

const recipientHrp = "age"
const identityHrp = "age-secret-key-"
const x25519Info = "age-encryption.org/v1/X25519"
// DER framing of a raw X25519 key (RFC 8410): Node takes keys in PKCS#8 / SPKI.
const pkcs8Prefix = Buffer.from("302e020100300506032b656e04220420", "hex")
const spkiPrefix = Buffer.from("302a300506032b656e032100", "hex")

export interface AgeRecipient {
  /** The `age1...` string. */
  readonly text: string
  readonly publicKey: Uint8Array
}

export interface AgeIdentity {
  /** Where it came from (`<path> line <n>`), for messages. */
  readonly source: string
  /** Its recipient (public), so a message can say which key it is without showing it. */
  readonly recipient: string
  readonly privateKey: Redacted.Redacted<KeyObject>
}

const publicKeyObject = (raw: Uint8Array): KeyObject => createPublicKey({ key: Buffer.concat([spkiPrefix, raw]), format: "der", type: "spki" })
const rawPublicKey = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ format: "der", type: "spki" }).subarray(spkiPrefix.length))

/**
 * How a message shows a line given as a recipient: quoted when it looks like one (a recipient is
 * public), otherwise not at all, since a line of a recipients file that is not a recipient may be a
 * private key put there by mistake, and messages reach logs.
 */
const shownAsRecipient = (text: string) => (/^age1[0-9a-z]*$/.test(text) ? `"${text}"` : "the line (not shown: it may be a secret)")

/** Parses an `age1...` recipient; the problem otherwise. */
export const parseRecipient = (text: string): Result.Result<AgeRecipient, string> => {
  if (text.toUpperCase().startsWith("AGE-SECRET-KEY-"))
    return Result.fail(
      "is an age identity (a private key; not shown), not a recipient: put its recipient there instead (age-keygen -y FILE prints it), and keep the identity out of anything the pod or its logs see",
    )
  const supported = `cluster-backup encrypts to age X25519 recipients only (age1..., as age-keygen makes them; age-keygen -y FILE prints an identity's)`
  const ssh = /^(ssh-ed25519|ssh-rsa) /.exec(text)
  if (ssh !== null) return Result.fail(`is an SSH public key (${ssh[1]}), which age -R reads but ${supported}`)
  const shown = shownAsRecipient(text)
  const decoded = decodeBech32(text)
  if (Result.isFailure(decoded)) return Result.fail(`${shown} is not an age X25519 recipient (age1...): it ${decoded.failure}`)
  const { hrp, data } = decoded.success
  // age1<name>1...: a plugin's recipient (age-plugin-<name>), or age's post-quantum one (age1pq1...).
  if (hrp.startsWith("age1") && text === text.toLowerCase())
    return Result.fail(`${shown} is an age plugin or post-quantum recipient (${hrp}1...), not an X25519 one: ${supported}`)
  if (hrp !== recipientHrp || text !== text.toLowerCase())
    return Result.fail(`${shown} is not an age X25519 recipient: it must start with "age1" in lower case`)
  if (data.length !== 32) return Result.fail(`${shown} is not an age X25519 recipient: it holds ${data.length} bytes, not 32`)
  if (isLowOrder(data))
    return Result.fail(`${shown} is not a usable age X25519 recipient: it is a low-order point, which no key agreement can use (age refuses it too)`)
  return Result.succeed({ text, publicKey: data })
}

/** Parses an `AGE-SECRET-KEY-1...` identity; the problem otherwise, never quoting the text. */
export const parseIdentity = (text: string, source: string): Result.Result<AgeIdentity, string> => {
  const decoded = decodeBech32(text)
  if (Result.isFailure(decoded)) return Result.fail(`is not an age X25519 identity (AGE-SECRET-KEY-1...): it ${decoded.failure}`)
  const { hrp, data } = decoded.success
  if (hrp !== identityHrp || text !== text.toUpperCase())
    return Result.fail(`is not an age X25519 identity: it must start with "AGE-SECRET-KEY-1" in upper case (plugin and SSH identities are not supported)`)
  if (data.length !== 32) return Result.fail(`is not an age X25519 identity: it holds ${data.length} bytes, not 32`)
  const privateKey = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, data]), format: "der", type: "pkcs8" })
  const recipient = encodeBech32(recipientHrp, rawPublicKey(createPublicKey(privateKey)))
  return Result.succeed({ source, recipient, privateKey: Redacted.make(privateKey) })
}

/** A new identity (as `age-keygen` writes it) and its recipient. */
export const generateIdentity = (): { readonly identity: Redacted.Redacted<string>; readonly recipient: string } => {
  const { privateKey, publicKey } = generateKeyPairSync("x25519")
  const raw = privateKey.export({ format: "der", type: "pkcs8" }).subarray(pkcs8Prefix.length)
  return { identity: Redacted.make(encodeBech32(identityHrp, raw).toUpperCase()), recipient: encodeBech32(recipientHrp, rawPublicKey(publicKey)) }
}

const zeroNonce = Buffer.alloc(12)

/** A fixed private key, to tell whether a public key gives a shared secret at all. */
const probeKey = generateKeyPairSync("x25519").privateKey

/** Whether a public key is a low-order point: any key agreement with it gives the all-zero secret, which OpenSSL refuses. */
const isLowOrder = (raw: Uint8Array): boolean => {
  try {
    return diffieHellman({ privateKey: probeKey, publicKey: publicKeyObject(raw) }).every((b) => b === 0)
  } catch {
    return true
  }
}

const wrapKey = (shared: Uint8Array, share: Uint8Array, recipient: Uint8Array): Buffer =>
  Buffer.from(hkdfSync("sha256", shared, Buffer.concat([share, recipient]), x25519Info, 32))

/** The X25519 stanza that gives `fileKey` to `recipient`, with a fresh ephemeral key. */
export const wrapFileKey = (fileKey: Uint8Array, recipient: AgeRecipient): AgeStanza => {
  const ephemeral = generateKeyPairSync("x25519")
  const share = rawPublicKey(ephemeral.publicKey)
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: publicKeyObject(recipient.publicKey) })
  const cipher = createCipheriv("chacha20-poly1305", wrapKey(shared, share, recipient.publicKey), zeroNonce, { authTagLength: 16 })
  const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()])
  return { type: "X25519", args: [encodeBase64(share)], body }
}

/** An X25519 stanza's share, checked as the spec requires of every one (even those no identity opens). */
export const x25519Share = (stanza: AgeStanza): Result.Result<Uint8Array, string> => {
  if (stanza.args.length !== 1) return Result.fail(`an X25519 stanza has ${stanza.args.length} arguments, not 1`)
  const share = decodeCanonicalBase64(stanza.args[0]!)
  if (share === undefined || share.length !== 32) return Result.fail("an X25519 stanza's share is not 32 bytes of canonical base64")
  if (stanza.body.length !== 32) return Result.fail(`an X25519 stanza's body is ${stanza.body.length} bytes, not 32 (a 16-byte file key and its tag)`)
  return Result.succeed(share)
}

/**
 * The file key `identity` finds in an X25519 stanza (already checked by `x25519Share`):
 * `undefined` when the stanza is for another recipient; a failure when the share is a
 * low-order point (an all-zero shared secret, which the spec forbids).
 */
export const unwrapFileKey = (stanza: AgeStanza, share: Uint8Array, identity: AgeIdentity): Result.Result<Uint8Array | undefined, string> => {
  const privateKey = Redacted.value(identity.privateKey)
  let shared: Buffer
  try {
    shared = diffieHellman({ privateKey, publicKey: publicKeyObject(share) })
  } catch {
    // OpenSSL refuses to derive an all-zero secret.
    return Result.fail("an X25519 stanza's share is a low-order point")
  }
  if (shared.every((b) => b === 0)) return Result.fail("an X25519 stanza's share is a low-order point")
  const decipher = createDecipheriv("chacha20-poly1305", wrapKey(shared, share, rawPublicKey(createPublicKey(privateKey))), zeroNonce, { authTagLength: 16 })
  decipher.setAuthTag(stanza.body.subarray(16))
  try {
    const fileKey = decipher.update(stanza.body.subarray(0, 16))
    decipher.final()
    return Result.succeed(new Uint8Array(fileKey))
  } catch {
    return Result.succeed(undefined)
  }
}
