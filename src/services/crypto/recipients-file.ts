/**
 * age recipients files, as `age -R` reads them: one `age1...` recipient per line, `#` comments
 * and blank lines ignored. Recipients are public keys, so a message may quote one. The set read
 * is fingerprinted (domain/recipients-fingerprint.ts) for the manifest.
 */
import { Effect, Result } from "effect"
import { recipientsFingerprint } from "../../domain/recipients-fingerprint.ts"
import { type MountedFileUnusable, readMountedFile } from "../mounted-file.ts"
import { AgeRecipientInvalid } from "./age-errors.ts"
import { type AgeRecipient, parseRecipient } from "./age-keys.ts"

/** A recipients file is a few lines per recipient; anything larger is not one. */
const maxRecipientsFileBytes = 1024 * 1024

export interface RecipientSet {
  /** The file it was read from, for messages. */
  readonly path: string
  readonly recipients: ReadonlyArray<AgeRecipient>
  /** `recipientsFingerprint` of the set. */
  readonly fingerprint: string
}

/** The recipients in a recipients file's text; the first bad line (by number, quoted only when it looks like a recipient) otherwise. */
export const parseRecipientsFile = (path: string, text: string): Result.Result<RecipientSet, AgeRecipientInvalid> => {
  const recipients: Array<AgeRecipient> = []
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const parsed = parseRecipient(line)
    if (Result.isFailure(parsed)) {
      return Result.fail(
        new AgeRecipientInvalid({
          source: `${path} line ${i + 1}`,
          message: `${path} line ${i + 1}: ${parsed.failure}; a recipients file holds one age1... recipient per line (age-keygen -y prints an identity's) and # comments`,
        }),
      )
    }
    recipients.push(parsed.success)
  }
  if (recipients.length === 0) {
    return Result.fail(
      new AgeRecipientInvalid({ source: path, message: `${path} holds no age1... recipient: nothing could open the backup; give at least one recipient` }),
    )
  }
  return Result.succeed({ path, recipients, fingerprint: recipientsFingerprint(recipients.map((r) => r.text)) })
}

/** Reads a recipients file (links followed: a Secret volume presents its keys through them; only a regular file). */
export const readRecipientsFile = (path: string): Effect.Effect<RecipientSet, AgeRecipientInvalid | MountedFileUnusable> =>
  readMountedFile(path, maxRecipientsFileBytes, "read the recipients file").pipe(
    Effect.flatMap(({ bytes }) => Effect.fromResult(parseRecipientsFile(path, new TextDecoder().decode(bytes)))),
  )
