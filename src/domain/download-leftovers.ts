/**
 * What a killed download of a backup leaves beside the file it was writing. Downloading `<file>`
 * writes the store's copy before its check (`.download`, through `.download.part`), an encrypted
 * file's ciphertext (`.age`, fetched the same way) and its plaintext being decrypted (`.part`,
 * through `.part.part`); the manifest and its signature go through `.tmp-<pid>` (atomic-files.ts).
 * Only these names are a download's: a person's own `notes.age` or `copy.part` in the same
 * directory is not.
 */
import { manifestFileName, parseBackupFileName } from "./archive-names.ts"
import { signatureFileName } from "./manifest-signature-file.ts"

const leftoverSuffix = /^\.(?:age(?:\.download(?:\.part)?)?|download(?:\.part)?|part(?:\.part)?|tmp-\d+)$/

/** The names in `names` that a killed download of `file` left. */
export const downloadLeftovers = (names: ReadonlyArray<string>, file: string): ReadonlyArray<string> =>
  names.filter((n) => n.startsWith(`${file}.`) && leftoverSuffix.test(n.slice(file.length)))

/** A file a download writes: a backup's snapshot or tarball (any timestamp), its manifest or the manifest's signature. */
const isDownloadedFile = (name: string) => name === manifestFileName || name === signatureFileName || parseBackupFileName(name) !== undefined

/** Whether `name` is what a killed download of some backup's file left (the backup need not be the one fetched now). */
export const isDownloadLeftover = (name: string): boolean => {
  for (let dot = name.indexOf("."); dot > 0; dot = name.indexOf(".", dot + 1)) {
    if (leftoverSuffix.test(name.slice(dot)) && isDownloadedFile(name.slice(0, dot))) return true
  }
  return false
}
