/**
 * age identity files, as `age-keygen` writes them: `AGE-SECRET-KEY-1...` lines, `#` comments and
 * blank lines. Several may be given; each must be private to its owner (no permission bit for
 * group or others) unless the caller overrides, as ssh does for private keys. A line that is not
 * an identity is named by its number, never quoted.
 */
import { Effect, Result } from "effect"
import { readMountedFile } from "../mounted-file.ts"
import { AgeIdentityFileExposed, type AgeIdentityFileError, AgeIdentityFileInvalid, AgeIdentityFileUnreadable } from "./age-errors.ts"
import { type AgeIdentity, parseIdentity } from "./age-keys.ts"

/** An identity file is a few lines; anything larger is not one. */
const maxIdentityFileBytes = 64 * 1024

/** Whether permission bits let the group or others do anything with the file. */
export const identityFileExposed = (mode: number): boolean => (mode & 0o077) !== 0

export interface IdentitySet {
  /** The files read, in the order given. */
  readonly files: ReadonlyArray<string>
  readonly identities: ReadonlyArray<AgeIdentity>
}

/**
 * How an age-encrypted file starts, plain or armored: what `age -i` takes for a passphrase-protected identity file
 * (`age-keygen | age -p`) and asks the passphrase of, as age's own parser tells it (by these first bytes).
 */
const encryptedFileStarts = ["age-encryption", "-----BEGIN AGE"]

/** How an SSH private key file starts (ssh-keygen's own format, and its older PEM one), which `age -i` takes but this tool does not. */
const sshPrivateKeyStarts = ["-----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----"]

const secretKeyMarks = ["AGE-SECRET-KEY-", "age-secret-key-"]

/** Whether a file holds what looks like an age secret key: only then is it exposed when others can read it. Bytes are searched in place, not copied. */
const holdsSecretKey = (data: string | Uint8Array): boolean => {
  const searched = typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return secretKeyMarks.some((mark) => searched.includes(mark))
}

/** The identities in an identity file's text. */
export const parseIdentityFile = (path: string, text: string): Result.Result<ReadonlyArray<AgeIdentity>, AgeIdentityFileInvalid> => {
  if (sshPrivateKeyStarts.some((start) => text.trimStart().startsWith(start))) {
    return Result.fail(
      new AgeIdentityFileInvalid({
        path,
        line: 1,
        message: `${path} is an SSH private key, which cluster-backup does not take as an identity (only age's own X25519 keys): give an identity file made by age-keygen (age-keygen -o key.txt), whose public key (age1...) is in the backups' --recipients-file`,
      }),
    )
  }
  if (encryptedFileStarts.some((start) => text.startsWith(start))) {
    return Result.fail(
      new AgeIdentityFileInvalid({
        path,
        line: 0,
        message: `${path} is age-encrypted (a passphrase-protected identity file, as age -p writes, or an encrypted backup file), not an identity file: cluster-backup cannot ask for a passphrase; decrypt it to a private file first (umask 077; age -d -o key.txt ${path}) and give that`,
      }),
    )
  }
  const lines = text.split("\n").map((raw) => (raw.endsWith("\r") ? raw.slice(0, -1) : raw))
  if (!holdsSecretKey(text) && lines.some((line) => line.trim().startsWith("age1"))) {
    return Result.fail(
      new AgeIdentityFileInvalid({
        path,
        line: 0,
        message: `${path} holds age recipients (public keys, age1...), not identities: give the identity file (AGE-SECRET-KEY-1..., as age-keygen -o wrote it) of one of those recipients`,
      }),
    )
  }
  const identities: Array<AgeIdentity> = []
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "" || line.startsWith("#")) continue
    const parsed = parseIdentity(line, `${path} line ${i + 1}`)
    if (Result.isFailure(parsed)) {
      return Result.fail(
        new AgeIdentityFileInvalid({
          path,
          line: i + 1,
          message: `${path} line ${i + 1} ${parsed.failure}; an identity file holds AGE-SECRET-KEY-1... lines (as age-keygen writes them) and # comments`,
        }),
      )
    }
    identities.push(parsed.success)
  }
  if (identities.length === 0) {
    return Result.fail(new AgeIdentityFileInvalid({ path, line: 0, message: `${path} holds no AGE-SECRET-KEY-1... identity; give the file age-keygen wrote` }))
  }
  return Result.succeed(identities)
}

const readIdentityFile = (path: string, allowExposed: boolean): Effect.Effect<ReadonlyArray<AgeIdentity>, AgeIdentityFileError> =>
  // Links are followed: a Kubernetes Secret volume presents its files through them.
  readMountedFile(path, maxIdentityFileBytes, "read the identity file").pipe(
    Effect.mapError((e) =>
      e.reason === "Unreadable"
        ? new AgeIdentityFileUnreadable({ code: e.code, path, operation: e.operation, message: e.message })
        : new AgeIdentityFileInvalid({
            path,
            line: 0,
            message:
              e.reason === "NotRegular" ? `${path} is not a regular file; give the identity file age-keygen wrote` : `${e.message}: not an identity file`,
          }),
    ),
    Effect.flatMap(({ bytes, mode }): Effect.Effect<ReadonlyArray<AgeIdentity>, AgeIdentityFileError> => {
      // A file with no secret in it (a recipients file given by mistake) is refused for what it holds, not its mode.
      if (!allowExposed && identityFileExposed(mode) && holdsSecretKey(bytes)) {
        bytes.fill(0)
        const octal = mode.toString(8).padStart(3, "0")
        return Effect.fail(
          new AgeIdentityFileExposed({
            path,
            mode: octal,
            message: `${path} can be read by users other than its owner (mode ${octal}); make it private (chmod 600 ${path}; in a Secret volume, defaultMode: 0400), or pass the override flag if this is intended`,
          }),
        )
      }
      const text = Buffer.from(bytes).toString("utf8")
      bytes.fill(0)
      return Effect.fromResult(parseIdentityFile(path, text))
    }),
  )

/**
 * Reads every identity file (`--identity`, several allowed), refusing one readable by group or
 * others unless `allowExposed`. Fails at the first file that cannot be used, naming it.
 */
export const readIdentityFiles = (
  paths: ReadonlyArray<string>,
  options: { readonly allowExposed: boolean },
): Effect.Effect<IdentitySet, AgeIdentityFileError> =>
  Effect.map(
    Effect.forEach(paths, (path) => readIdentityFile(path, options.allowExposed)),
    (lists) => ({ files: [...paths], identities: lists.flat() }),
  )
