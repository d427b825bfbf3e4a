/**
 * age encryption and decryption from file to file. The output is written to `<out>.part` (0600),
 * fsynced, renamed into place and its directory fsynced only once the whole input was read and,
 * when decrypting, every chunk authenticated: a failure or interruption leaves no output file
 * (the `.part` is removed), so no unauthenticated or partial plaintext is ever under its name.
 * The plaintext is hashed on the way, for the manifest; the hashing and the chunks' seal run on
 * worker threads (age-file-pipeline.ts).
 */
import { rename, unlink } from "node:fs/promises"
import { dirname } from "node:path"
import { Effect } from "effect"
import { BackupFileRefused, type BackupFileFailure, BackupFileUnreadable, openBackupFile } from "../backup-file.ts"
import { backgroundWriteback } from "../background-writeback.ts"
import { fsyncDirectory } from "../file-steps.ts"
import { createFreshFile } from "../fresh-file.ts"
import { describeFileSystemFailure } from "../file-system-error.ts"
import { openHeader } from "./age-decrypt.ts"
import { startAgeFile } from "./age-encrypt.ts"
import { payloadBytes, payloadNonceBytes } from "../../domain/age-payload-layout.ts"
import { type AgeDecryptError, AgeFileWriteFailed, type AgeRecipientInvalid, isAgeStreamError } from "./age-errors.ts"
import { AgeFileWorkerFailed } from "./age-file-worker.ts"
import {
  type FileDigest,
  type InputFile,
  type OutputFile,
  type OutputRing,
  type PipelineOptions,
  type PipelineResult,
  readFully,
  runPipeline,
  WriteFailure,
} from "./age-file-pipeline.ts"
import type { IdentitySet } from "./age-identity-files.ts"
import type { AgeRecipient } from "./age-keys.ts"

export type { FileDigest } from "./age-file-pipeline.ts"

/**
 * The plaintext's size and sha256, and the ciphertext's size. The ciphertext is not hashed: its
 * chunks are authenticated, and a store hashes what it uploads or downloads.
 */
export interface CryptFileResult {
  readonly plaintext: FileDigest
  readonly ciphertextBytes: number
}

/** `encryptForReader`'s: the plaintext's sha256 only when it was asked to hash it. */
export interface ReaderEncryptResult {
  readonly plaintext: { readonly size: number; readonly sha256: string | undefined }
  readonly ciphertextBytes: number
}

/** The plaintext's digest from a pipeline that hashed it. */
const digestOf = (size: number, sha256: string | undefined): FileDigest => {
  if (sha256 === undefined) throw new Error("the age pipeline was asked to hash the plaintext and gave no sha256")
  return { size, sha256 }
}

/**
 * Runs `fill` on `<path>.part` and renames it to `path`; the `.part` is removed on any failure.
 * `fill` reports how far it wrote, and what it wrote is flushed to disk as it goes.
 */
const throughPart = async <T>(path: string, fill: (part: OutputFile, written: (end: number) => void) => Promise<T>): Promise<T> => {
  const part = `${path}.part`
  const handle = await createFreshFile(part, 0o600).catch((e: unknown) => {
    throw new WriteFailure("create", part, e)
  })
  const writeback = backgroundWriteback(handle)
  const synced = async (step: () => Promise<void>) =>
    step().catch((e) => {
      throw new WriteFailure("sync", part, e)
    })
  let closed = false
  let result: T
  try {
    result = await fill({ path: part, handle }, writeback.written)
    await synced(writeback.settle)
    await synced(() => handle.sync())
    closed = true
    await handle.close()
    await rename(part, path).catch((e) => {
      throw new WriteFailure("rename into place", path, e)
    })
  } catch (e) {
    await writeback.settle().catch(() => undefined)
    if (!closed) await handle.close().catch(() => undefined)
    await unlink(part).catch(() => undefined)
    throw e
  }
  await fsyncDirectory(dirname(path)).catch((e) => {
    throw new WriteFailure("sync the directory of", path, e)
  })
  return result
}

/**
 * Runs `fill` on `path` itself, neither synced nor renamed: a file read while written and removed
 * after use (encrypted-upload.ts). Removed on any failure.
 */
const temporary = async <T>(path: string, fill: (file: OutputFile) => Promise<T>): Promise<T> => {
  const handle = await createFreshFile(path, 0o600).catch((e: unknown) => {
    throw new WriteFailure("create", path, e)
  })
  try {
    const result = await fill({ path, handle })
    await handle.close()
    return result
  } catch (e) {
    await handle.close().catch(() => undefined)
    await unlink(path).catch(() => undefined)
    throw e
  }
}

/** Runs the pipeline from the backup file `input` (checked as every backup file is) into `<output>.part` (or `output` itself, when temporary). */
const cryptFile = async (
  input: string,
  output: string,
  options: Omit<PipelineOptions, "input" | "output" | "start"> & { readonly temporary?: boolean | undefined },
  start: (file: InputFile) => PipelineOptions["start"],
) => {
  const { handle, size } = await openBackupFile(input)
  try {
    const file = { path: input, handle, size }
    const run = (out: OutputFile, onWritten = options.onWritten) => runPipeline({ ...options, input: file, output: out, start: start(file), onWritten })
    return await (options.temporary === true ? temporary(output, run) : throughPart(output, run))
  } finally {
    await handle.close()
  }
}

/** The bytes of `file` from its start in pieces of 64 KiB, counted in `read`. */
async function* readStart(file: InputFile, read: { bytes: number }): AsyncGenerator<Buffer> {
  for (let position = 0; ; ) {
    const buffer = Buffer.allocUnsafe(64 * 1024)
    const n = await readFully(file, buffer, 0, buffer.length, position)
    if (n === 0) return
    position += n
    read.bytes += n
    yield buffer.subarray(0, n)
  }
}

type CryptFileError = BackupFileFailure | AgeFileWriteFailed

const mapFailure =
  (input: string) =>
  (e: unknown): CryptFileError | AgeDecryptError | AgeRecipientInvalid | AgeFileWorkerFailed => {
    if (isAgeStreamError(e) || e instanceof BackupFileRefused || e instanceof AgeFileWorkerFailed) return e
    if (e instanceof WriteFailure) return new AgeFileWriteFailed(describeFileSystemFailure(e.operation, e.path, e.cause))
    return new BackupFileUnreadable(describeFileSystemFailure("read", input, e))
  }

/**
 * `Effect.tryPromise` for a pipeline, except that an interruption waits for it to settle once aborted: it has then
 * removed its `.part` (when decrypting, a partial plaintext) before the interruption is over, as the command ends the
 * process right after (a Ctrl-C of download would otherwise leave the plaintext decrypted so far beside the backup).
 */
const tryPipeline = <A, E>(options: { readonly try: (signal: AbortSignal) => Promise<A>; readonly catch: (e: unknown) => E }): Effect.Effect<A, E> =>
  Effect.callback<A, E>((resume, signal) => {
    const settled = options.try(signal).then(
      (a) => resume(Effect.succeed(a)),
      (e) => resume(Effect.suspend(() => Effect.fail(options.catch(e)))),
    )
    return Effect.promise(() => settled)
  })

/** A worker that stopped is a defect (a crash, out of memory), not a failure of the files. */
const workerFailureIsDefect = <A, E>(effect: Effect.Effect<A, E | AgeFileWorkerFailed>): Effect.Effect<A, Exclude<E, AgeFileWorkerFailed>> =>
  Effect.catchIf(
    effect,
    (e): e is AgeFileWorkerFailed => e instanceof AgeFileWorkerFailed,
    (e) => Effect.die(e.cause),
  ) as Effect.Effect<A, Exclude<E, AgeFileWorkerFailed>>

const empty = new Uint8Array(0)

const sealed = (r: PipelineResult): CryptFileResult => ({ plaintext: digestOf(r.inputBytes, r.plaintextSha256), ciphertextBytes: r.outputBytes })

/** Encrypts the file `input` to `output` (through `<output>.part`) for `recipients`. */
export const encryptFile = (
  input: string,
  output: string,
  recipients: ReadonlyArray<AgeRecipient>,
): Effect.Effect<CryptFileResult, CryptFileError | AgeRecipientInvalid> =>
  workerFailureIsDefect(
    tryPipeline({
      try: async (signal) => {
        const { prefix, key } = startAgeFile(recipients, input)
        const start = async () => ({ key, payloadStart: 0, outputPrefix: prefix })
        return sealed(await cryptFile(input, output, { op: "seal", signal }, () => start))
      },
      catch: mapFailure(input),
    }) as Effect.Effect<CryptFileResult, CryptFileError | AgeRecipientInvalid | AgeFileWorkerFailed>,
  )

/** How a reader follows the ciphertext `encryptForReader` writes. */
export interface CiphertextFollower {
  /**
   * Told the ciphertext's whole size once the file exists, before anything is written; answers
   * with the ring to write it into (the reader frees room as it goes), or `undefined` for the whole file.
   */
  readonly onStart: (ciphertextBytes: number) => OutputRing | undefined
  /** Told, in order, how many bytes from the ciphertext's start are written. */
  readonly onWritten: (end: number) => void
}

/**
 * Encrypts the file `input` for `recipients` into `output` itself, for a reader that follows it as
 * it is written (encrypted-upload.ts) and removes it after use: neither synced nor renamed (removed
 * on failure), whole or in the reader's ring, on one worker (the reader's upload has the other core).
 */
export const encryptForReader = (
  input: string,
  output: string,
  recipients: ReadonlyArray<AgeRecipient>,
  follower: CiphertextFollower,
  options: { readonly hashPlaintext: boolean } = { hashPlaintext: true },
): Effect.Effect<ReaderEncryptResult, CryptFileError | AgeRecipientInvalid> =>
  workerFailureIsDefect(
    tryPipeline({
      try: async (signal) => {
        const { prefix, key } = startAgeFile(recipients, input)
        const start = (file: InputFile) => async () => {
          const ring = follower.onStart(prefix.length - payloadNonceBytes + payloadBytes(file.size))
          return { key, payloadStart: 0, outputPrefix: prefix, ring }
        }
        const r = await cryptFile(
          input,
          output,
          { op: "seal", signal, temporary: true, workers: 1, onWritten: follower.onWritten, hashPlaintext: options.hashPlaintext },
          start,
        )
        return { plaintext: { size: r.inputBytes, sha256: r.plaintextSha256 }, ciphertextBytes: r.outputBytes }
      },
      catch: mapFailure(input),
    }) as Effect.Effect<ReaderEncryptResult, CryptFileError | AgeRecipientInvalid | AgeFileWorkerFailed>,
  )

/**
 * Decrypts the age file `input` to `output` (through `<output>.part`) with the first of
 * `identities` that opens it. `output` appears only once every chunk authenticated.
 */
export const decryptFile = (input: string, output: string, identities: IdentitySet): Effect.Effect<CryptFileResult, CryptFileError | AgeDecryptError> =>
  workerFailureIsDefect(
    tryPipeline({
      try: async (signal) => {
        const options = { source: input, identities: identities.identities, identityFiles: identities.files }
        const start = (file: InputFile) => async () => {
          const read = { bytes: 0 }
          const { key, rest } = await openHeader(readStart(file, read), options)
          const payloadStart = read.bytes - rest.length
          return { key, payloadStart, outputPrefix: empty }
        }
        const r = await cryptFile(input, output, { op: "open", signal }, start)
        return { plaintext: digestOf(r.outputBytes, r.plaintextSha256), ciphertextBytes: r.inputBytes }
      },
      catch: mapFailure(input),
    }) as Effect.Effect<CryptFileResult, CryptFileError | AgeDecryptError | AgeFileWorkerFailed>,
  )
