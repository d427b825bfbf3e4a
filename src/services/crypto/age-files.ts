/**
 * age encryption and decryption from file to file. The output is written to `<out>.part` (0600),
 * fsynced, renamed into place and its directory fsynced only once the whole input was read and,
 * when decrypting, every chunk authenticated: a failure or interruption leaves no output file
 * (the `.part` is removed), so no unauthenticated or partial plaintext is ever under its name.
 * Both sides are hashed on the way, for the manifest (plaintext and ciphertext sha256).
 */
import { createHash } from "node:crypto"
import { constants } from "node:fs"
import { open, rename, unlink } from "node:fs/promises"
import { dirname } from "node:path"
import { Effect } from "effect"
import { BackupFileRefused, type BackupFileFailure, BackupFileUnreadable, openBackupFile } from "../backup-file.ts"
import { fsyncDirectory } from "../file-steps.ts"
import { describeFileSystemFailure } from "../file-system-error.ts"
import { decryptAge } from "./age-decrypt.ts"
import { encryptAge } from "./age-encrypt.ts"
import { type AgeDecryptError, AgeFileWriteFailed, type AgeRecipientInvalid, isAgeStreamError } from "./age-errors.ts"
import type { IdentitySet } from "./age-identity-files.ts"
import type { AgeRecipient } from "./age-keys.ts"

export interface FileDigest {
  readonly size: number
  readonly sha256: string
}

export interface CryptFileResult {
  readonly plaintext: FileDigest
  readonly ciphertext: FileDigest
}

/** Thrown inside to tell a write failure from a read failure. */
class WriteFailure {
  readonly operation: string
  readonly path: string
  readonly cause: unknown
  constructor(operation: string, path: string, cause: unknown) {
    this.operation = operation
    this.path = path
    this.cause = cause
  }
}

const hashing = () => {
  const hash = createHash("sha256")
  let size = 0
  return {
    update: (bytes: Uint8Array) => {
      hash.update(bytes)
      size += bytes.length
    },
    digest: (): FileDigest => ({ size, sha256: hash.digest("hex") }),
  }
}

async function* tapped(source: AsyncIterable<Uint8Array>, tap: (bytes: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const bytes of source) {
    tap(bytes)
    yield bytes
  }
}

/**
 * Reads and writes of 1 MiB, the next read already running while a piece is processed: on a
 * busy machine every wake-up of the process costs a scheduling delay, so few, overlapped I/O
 * calls keep pace; 4 MiB measured the same CPU and ~25 MiB more peak RSS (bench/AGE.md).
 */
const ioBytes = 1024 * 1024
const writeBatchBytes = ioBytes

/**
 * The bytes of `path` (a regular file, checked as every backup file is) in pieces of `ioBytes`
 * read into three buffers in turn, the next read running while a piece is consumed. A piece is
 * valid until the consumer asks for the next-but-one: the encryptor and decryptor copy or seal
 * what they keep before asking for more. Reused buffers because fresh multi-MiB ones cost a
 * page fault per page (system time the age CLI does not spend).
 */
async function* readReusing(path: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const { handle, size } = await openBackupFile(path)
  try {
    const buffers = [Buffer.allocUnsafe(ioBytes), Buffer.allocUnsafe(ioBytes), Buffer.allocUnsafe(ioBytes)]
    let turn = 0
    let total = 0
    const readInto = (buffer: Buffer) => handle.read(buffer, 0, buffer.length, null)
    let pending = readInto(buffers[0]!)
    for (;;) {
      signal.throwIfAborted()
      const { bytesRead, buffer } = await pending
      if (bytesRead === 0) return
      total += bytesRead
      if (total > size)
        throw new BackupFileRefused({
          path,
          reason: "changed",
          found: `grew beyond the ${size} bytes it had when opened`,
          message: `${path} grew beyond the ${size} bytes it had when opened, while it was being read; make sure nothing writes to it, then run again`,
        })
      turn = (turn + 1) % buffers.length
      pending = readInto(buffers[turn]!)
      // Should the consumer stop first, this read's failure has no one to report to.
      pending.catch(() => undefined)
      yield buffer.subarray(0, bytesRead)
    }
  } finally {
    await handle.close()
  }
}

/** Writes `chunks` to `<path>.part` and renames it to `path`; the `.part` is removed on any failure. */
const writeThroughPart = async (path: string, chunks: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void> => {
  const part = `${path}.part`
  const handle = await open(part, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600).catch((e) => {
    throw new WriteFailure("create", part, e)
  })
  let closed = false
  try {
    // Pieces (64 KiB chunks and 16-byte tags) go out in batches of about 1 MiB with one
    // writev, one batch in flight while the next is computed.
    let writing: Promise<unknown> = Promise.resolve()
    let batch: Array<Uint8Array> = []
    let batchBytes = 0
    const flush = async () => {
      await writing
      const buffers = batch
      batch = []
      batchBytes = 0
      writing = handle.writev(buffers).catch((e) => {
        throw new WriteFailure("write", part, e)
      })
    }
    for await (const bytes of chunks) {
      signal.throwIfAborted()
      batch.push(bytes)
      batchBytes += bytes.length
      if (batchBytes >= writeBatchBytes || batch.length >= 1000) await flush()
    }
    if (batch.length > 0) await flush()
    await writing
    await handle.sync().catch((e) => {
      throw new WriteFailure("sync", part, e)
    })
    closed = true
    await handle.close()
    await rename(part, path).catch((e) => {
      throw new WriteFailure("rename into place", path, e)
    })
  } catch (e) {
    if (!closed) await handle.close().catch(() => undefined)
    await unlink(part).catch(() => undefined)
    throw e
  }
  await fsyncDirectory(dirname(path)).catch((e) => {
    throw new WriteFailure("sync the directory of", path, e)
  })
}

type CryptFileError = BackupFileFailure | AgeFileWriteFailed

const mapFailure =
  (input: string) =>
  (e: unknown): CryptFileError | AgeDecryptError | AgeRecipientInvalid => {
    if (isAgeStreamError(e) || e instanceof BackupFileRefused) return e
    if (e instanceof WriteFailure) return new AgeFileWriteFailed(describeFileSystemFailure(e.operation, e.path, e.cause))
    return new BackupFileUnreadable(describeFileSystemFailure("read", input, e))
  }

/** Encrypts the file `input` to `output` (through `<output>.part`) for `recipients`. */
export const encryptFile = (
  input: string,
  output: string,
  recipients: ReadonlyArray<AgeRecipient>,
): Effect.Effect<CryptFileResult, CryptFileError | AgeRecipientInvalid> =>
  Effect.tryPromise({
    try: async (signal) => {
      const plain = hashing()
      const sealed = hashing()
      await writeThroughPart(output, tapped(encryptAge(tapped(readReusing(input, signal), plain.update), recipients, input), sealed.update), signal)
      return { plaintext: plain.digest(), ciphertext: sealed.digest() }
    },
    catch: mapFailure(input),
  }) as Effect.Effect<CryptFileResult, CryptFileError | AgeRecipientInvalid>

/**
 * Decrypts the age file `input` to `output` (through `<output>.part`) with the first of
 * `identities` that opens it. `output` appears only once every chunk authenticated.
 */
export const decryptFile = (input: string, output: string, identities: IdentitySet): Effect.Effect<CryptFileResult, CryptFileError | AgeDecryptError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const plain = hashing()
      const sealed = hashing()
      const options = { source: input, identities: identities.identities, identityFiles: identities.files }
      await writeThroughPart(output, tapped(decryptAge(tapped(readReusing(input, signal), sealed.update), options), plain.update), signal)
      return { plaintext: plain.digest(), ciphertext: sealed.digest() }
    },
    catch: mapFailure(input),
  }) as Effect.Effect<CryptFileResult, CryptFileError | AgeDecryptError>
