/**
 * Sealing or opening a whole age file (age-files.ts) on both cores: the input is read in pieces of
 * 16 chunks into shared memory; one worker seals or opens each piece into the output memory,
 * another (or the same) hashes the plaintext side (what is sealed, or what was opened), and the
 * main thread writes the output, one write at a time in order. The ciphertext is not hashed: every
 * chunk is authenticated, and a store hashes what it uploads or downloads. Several pieces are in
 * flight at every step; memory stays at `slots` pieces on each side. An input under
 * `workersFromBytes` goes through the same steps on the main thread.
 *
 * A piece is the last of the input when it comes back short or the read after it finds nothing:
 * its last chunk is then sealed (or must open) as the stream's last. Bytes beyond the size the
 * input had when opened are refused (it changed while being read).
 */
import type { FileHandle } from "node:fs/promises"
import { ciphertextChunkBytes, plaintextChunkBytes } from "../../domain/age-payload-layout.ts"
import { BackupFileRefused } from "../backup-file.ts"
import { writeAllSync } from "../page-cache-write.ts"
import { payloadFailure } from "./age-decrypt.ts"
import { type AgeFileThread, onThisThread, type SharedMemory, startAgeFileWorker } from "./age-file-worker.ts"

export interface FileDigest {
  readonly size: number
  readonly sha256: string
}

export interface InputFile {
  readonly path: string
  readonly handle: FileHandle
  /** Its size when opened: reading more is refused. */
  readonly size: number
}

export interface OutputFile {
  readonly path: string
  readonly handle: FileHandle
}

/** A write failure, told apart from a read failure (of the input, or of the code that throws). */
export class WriteFailure {
  readonly operation: string
  readonly path: string
  readonly cause: unknown
  constructor(operation: string, path: string, cause: unknown) {
    this.operation = operation
    this.path = path
    this.cause = cause
  }
}

/** What precedes the payload. */
export interface PayloadStart {
  /** The payload key: handed to the worker that seals or opens, then zeroed. */
  readonly key: Uint8Array
  /** Where the pieces start in the input (after the header, when opening). */
  readonly payloadStart: number
  /** Written first on the output's side (the header and payload nonce, when sealing). */
  readonly outputPrefix: Uint8Array
  /** Write the output into a ring of this many bytes (see `OutputRing`) rather than whole. */
  readonly ring?: OutputRing | undefined
}

/**
 * An output file its reader follows in a ring: byte `n` goes to `n % bytes`, and is written only
 * once `room(n + 1)` resolved, the reader having read what was there before (the output's disk and
 * page cache stay at `bytes`, and overwritten pages cost the kernel far less than new ones).
 */
export interface OutputRing {
  readonly bytes: number
  /** Resolves once the bytes before `end` may take their places in the ring; rejects when `signal` aborts first. */
  readonly room: (end: number, signal: AbortSignal) => Promise<void>
}

export interface PipelineOptions {
  readonly op: "seal" | "open"
  readonly input: InputFile
  readonly output: OutputFile
  readonly signal: AbortSignal
  /** Reads what precedes the payload, while the workers start. */
  readonly start: () => Promise<PayloadStart>
  /** Told, in order, how many bytes from the output's start are written (a reader may follow the file). */
  readonly onWritten?: ((end: number) => void) | undefined
  /**
   * Worker threads: 2 (the default) seal or open on one while the other hashes, for a file on its
   * own; 1 does both in turn, a thread and its isolate (~10 MiB) less, for a pipeline that shares
   * the cores with an upload reading its output.
   */
  readonly workers?: 1 | 2 | undefined
  /**
   * Whether the plaintext is hashed (the default). A caller that knows the plaintext's sha256 and
   * can tell the file is untouched since it was hashed leaves it out, as backup-create does.
   */
  readonly hashPlaintext?: boolean | undefined
}

/** 16 chunks: 1 MiB of plaintext. Larger pieces measured no faster and cost RSS (bench/AGE.md). */
const pieceChunks = 16
/** Pieces in flight on each side. */
const slots = 4

/**
 * Below this, the main thread does everything: starting a worker costs ~30 ms of CPU (several
 * times that on a loaded machine) and ~10 MiB, more than hashing a few MiB.
 */
export const workersFromBytes = 8 * 1024 * 1024

/** The threads that seal or open, and hash: `workers` workers, or this thread alone for a small input. */
const threadsFor = (inputSize: number, memory: SharedMemory, workers: 1 | 2): ReadonlyArray<AgeFileThread> => {
  if (inputSize < workersFromBytes) return [onThisThread(memory)]
  return Array.from({ length: workers }, () => startAgeFileWorker(memory))
}

/** Reads `length` bytes at `position` into `buffer` at `offset`, fewer only at the end of the input. */
export const readFully = async (input: InputFile, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> => {
  let filled = 0
  while (filled < length) {
    const { bytesRead } = await input.handle.read(buffer, offset + filled, length - filled, position + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  if (filled > 0 && position + filled > input.size)
    throw new BackupFileRefused({
      path: input.path,
      reason: "changed",
      found: `grew beyond the ${input.size} bytes it had when opened`,
      message: `${input.path} grew beyond the ${input.size} bytes it had when opened, while it was being read; make sure nothing writes to it, then run again`,
    })
  return filled
}

/**
 * Synchronous, 64 KiB per call (page-cache-write.ts): a write into the page cache takes less than
 * the thread pool's round trip would, and the main thread is otherwise idle while the workers seal or open.
 */
const writeFully = async (output: OutputFile, buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> => {
  try {
    writeAllSync(output.handle.fd, buffer, offset, length, position)
  } catch (e) {
    throw new WriteFailure("write", output.path, e)
  }
}

/** Writes the output's bytes from `position` at their places: in a ring, once there is room, in two writes when they wrap. */
const writeOutput = async (
  output: OutputFile,
  ring: OutputRing | undefined,
  signal: AbortSignal,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
) => {
  if (ring === undefined) return writeFully(output, buffer, offset, length, position)
  await ring.room(position + length, signal)
  const at = position % ring.bytes
  const first = Math.min(length, ring.bytes - at)
  await writeFully(output, buffer, offset, first, at)
  if (first < length) await writeFully(output, buffer, offset + first, length - first, 0)
}

export interface PipelineResult {
  /** Bytes read from the input, its prefix included. */
  readonly inputBytes: number
  /** Bytes written to the output, its prefix included. */
  readonly outputBytes: number
  /** The sha256 of the plaintext: the input's when sealing, the output's when opening; `undefined` when not hashed. */
  readonly plaintextSha256: string | undefined
}

/** Runs the pipeline; what it read and wrote, and the plaintext's sha256. Throws at the first failure. */
export const runPipeline = async (options: PipelineOptions): Promise<PipelineResult> => {
  const { op, input, output, signal } = options
  const [inChunk, outChunk] = op === "seal" ? [plaintextChunkBytes, ciphertextChunkBytes] : [ciphertextChunkBytes, plaintextChunkBytes]
  const inPiece = pieceChunks * inChunk
  const outPiece = pieceChunks * outChunk
  const memory = { input: new SharedArrayBuffer(slots * inPiece), output: new SharedArrayBuffer(slots * outPiece) }
  const inView = new Uint8Array(memory.input)
  const outView = new Uint8Array(memory.output)
  const plaintextSide = op === "seal" ? "input" : "output"
  const threads = threadsFor(input.size, memory, options.workers ?? 2)
  const crypt = threads[0]!
  const hasher = options.hashPlaintext === false ? undefined : (threads[1] ?? crypt)
  // Every operation started is tracked, so a failure anywhere stops the loop and nothing is left
  // running (or rejecting unheard) when the caller removes the output.
  const inflight = new Set<Promise<unknown>>()
  const first: { failure?: { readonly error: unknown } } = {}
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p)
    p.then(
      () => inflight.delete(p),
      (error: unknown) => {
        inflight.delete(p)
        first.failure ??= { error }
      },
    )
    return p
  }
  const throwIfFailed = () => {
    if (first.failure !== undefined) throw first.failure.error
  }
  /** The first failure recorded, else `error`. */
  const firstOr = (error: unknown) => {
    first.failure ??= { error }
    return first.failure.error
  }
  const settle = async () => {
    while (inflight.size > 0) await Promise.allSettled([...inflight])
  }
  try {
    const start = await options.start()
    await crypt.setKey(start.key)
    start.key.fill(0)
    const onWritten = options.onWritten ?? (() => undefined)
    // One write at a time, in order: concurrent writes to one file contend for its inode's lock,
    // and the kernel spins on it (measured: ~a third of sealing's CPU time, against the age CLI's one writer).
    let lastWrite: Promise<unknown> = track(
      writeOutput(output, start.ring, signal, start.outputPrefix, 0, start.outputPrefix.length, 0).then(() => onWritten(start.outputPrefix.length)),
    )
    let inputBytes = start.payloadStart
    let outputBytes = start.outputPrefix.length
    // When a slot's input and output memories are free again.
    const inFree: Array<Promise<unknown>> = Array.from({ length: slots }, () => Promise.resolve())
    const outFree = [...inFree]
    const reads: Array<Promise<number>> = []
    const read = (i: number) => {
      const slot = i % slots
      reads[i] = track(inFree[slot]!.then(() => readFully(input, inView, slot * inPiece, inPiece, start.payloadStart + i * inPiece)))
    }
    for (let i = 0; i < slots; i++) read(i)
    for (let i = 0; ; i++) {
      signal.throwIfAborted()
      throwIfFailed()
      const slot = i % slots
      const length = await reads[i]!
      const final = length < inPiece || (await reads[i + 1]!) === 0
      inputBytes += length
      const hashed = op === "seal" ? hasher && track(hasher.hash("input", slot * inPiece, length)) : undefined
      await outFree[slot]
      const ran = track(
        crypt.run(op, slot * inPiece, length, slot * outPiece, i * pieceChunks, final).then(({ bytes, outcome }) => {
          if (outcome._tag !== "Opened") throw payloadFailure(input.path, outcome)
          return bytes
        }),
      )
      inFree[slot] = Promise.all([hashed, ran])
      inFree[slot].catch(() => undefined)
      // Every piece but the last fills its output: its place in the file is known before it is made.
      const position = start.outputPrefix.length + i * outPiece
      const write = track(
        Promise.all([ran, lastWrite]).then(async ([bytes]) => {
          await writeOutput(output, start.ring, signal, outView, slot * outPiece, bytes, position)
          onWritten(position + bytes)
        }),
      )
      lastWrite = write
      outFree[slot] = track(
        ran.then(async (bytes) => {
          outputBytes += bytes
          await Promise.all([op === "open" ? hasher?.hash("output", slot * outPiece, bytes) : undefined, write])
        }),
      )
      if (final) break
      read(i + slots)
    }
    await settle()
    throwIfFailed()
    const plaintextSha256 = await hasher?.digest(plaintextSide)
    return { inputBytes, outputBytes, plaintextSha256 }
  } catch (e) {
    const error = firstOr(e)
    await settle()
    throw error
  } finally {
    await Promise.all(threads.map((t) => t.terminate()))
  }
}
