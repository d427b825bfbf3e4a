/**
 * Which recipients' set a backup file was encrypted to, without naming the recipients: the
 * sha256 of the set's recipient strings (public `age1...` keys), each on its own line, sorted and
 * without repeats. The same set gives the same fingerprint whatever the order or the comments of
 * the recipients file, so a manifest says which set (and so which identities) opens a file;
 * it never involves a private key.
 */
import { createHash } from "node:crypto"

/** The fingerprint of a recipients' set (lowercase hex sha256). */
export const recipientsFingerprint = (recipients: ReadonlyArray<string>): string =>
  createHash("sha256")
    .update(
      [...new Set(recipients)]
        .sort()
        .map((r) => `${r}\n`)
        .join(""),
      "utf8",
    )
    .digest("hex")
