/**
 * age recipients files, as `age -R` reads them: one `age1...` recipient per line, `#` comments
 * and blank lines ignored. Recipients are public keys, so a message may quote one. The set read
 * is fingerprinted (domain/recipients-fingerprint.ts) for the manifest.
 */
import { constants } from "node:fs"
import { open } from "node:fs/promises"
import { Effect, Result, Schema } from "effect"
import { recipientsFingerprint } from "../../domain/recipients-fingerprint.ts"
import { describeFileSystemFailure, FileSystemFailureFields } from "../file-system-error.ts"
import { AgeRecipientInvalid } from "./age-errors.ts"
import { type AgeRecipient, parseRecipient } from "./age-keys.ts"

/** A recipients file is a few lines per recipient; anything larger is not one. */
const maxRecipientsFileBytes = 1024 * 1024

/** A recipients file could not be read. */
export class RecipientsFileUnreadable extends Schema.TaggedError<RecipientsFileUnreadable>()("RecipientsFileUnreadable", FileSystemFailureFields) {}

export interface RecipientSet {
  /** The file it was read from, for messages. */
  readonly path: string
  readonly recipients: ReadonlyArray<AgeRecipient>
  /** `recipientsFingerprint` of the set. */
  readonly fingerprint: string
}

/** The recipients in a recipients file's text; the first bad line (by number, quoted: it is public) otherwise. */
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
export const readRecipientsFile = (path: string): Effect.Effect<RecipientSet, AgeRecipientInvalid | RecipientsFileUnreadable> =>
  Effect.tryPromise({
    try: async () => {
      // O_NONBLOCK: a FIFO in its place must not hang the open.
      const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
      try {
        const info = await handle.stat()
        if (!info.isFile()) throw new AgeRecipientInvalid({ source: path, message: `${path} is not a regular file; give a recipients file (age1... lines)` })
        if (info.size > maxRecipientsFileBytes)
          throw new AgeRecipientInvalid({ source: path, message: `${path} is ${info.size} bytes, too large to be a recipients file` })
        const buffer = Buffer.alloc(maxRecipientsFileBytes + 1)
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
        return buffer.subarray(0, bytesRead).toString("utf8")
      } finally {
        await handle.close()
      }
    },
    catch: (e) => (e instanceof AgeRecipientInvalid ? e : new RecipientsFileUnreadable(describeFileSystemFailure("read the recipients file", path, e))),
  }).pipe(Effect.flatMap((text) => Effect.fromResult(parseRecipientsFile(path, text))))
