/**
 * Sealing or opening a whole age file (age-files.ts) on both cores: the input is read in pieces of
 * 16 chunks into shared memory; one worker hashes each piece, a second seals or opens it into the
 * output memory, a third hashes what came out, and the main thread writes it at its offset.
 * Several pieces are in flight at every step; memory stays at `slots` pieces on each side. An
 * input under `workersFromBytes` goes through the same steps on the main thread.
 *
 * A piece is the last of the input when it comes back short or the read after it finds nothing:
 * its last chunk is then sealed (or must open) as the stream's last. Bytes beyond the size the
 * input had when opened are refused (it changed while being read).
 */
import type { FileHandle } from "node:fs/promises"
import { ciphertextChunkBytes, plaintextChunkBytes } from "../../domain/age-payload-layout.ts"
import { BackupFileRefused } from "../backup-file.ts"
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
  /** The input's bytes before `payloadStart`, hashed first on the input's side. */
  readonly inputPrefix: Uint8Array
  /** Written and hashed first on the output's side (the header, when sealing). */
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
   * Leave the output unhashed (its reader hashes it) and run the input's hash and the seal on one
   * worker: a thread and its isolate (~10 MiB) less each, for a pipeline that shares the cores with
   * the upload reading its output. Default: both sides hashed, three workers.
   */
  readonly lean?: boolean | undefined
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

/** The threads that hash the input, seal or open, and hash the output: three workers, or this thread alone. */
const threadsFor = (inputSize: number, memory: SharedMemory, lean: boolean): ReadonlyArray<AgeFileThread> => {
  if (inputSize < workersFromBytes) return [onThisThread(memory)]
  if (lean) return [startAgeFileWorker(memory)]
  return [startAgeFileWorker(memory), startAgeFileWorker(memory), startAgeFileWorker(memory)]
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

const writeFully = async (output: OutputFile, buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> => {
  let done = 0
  try {
    while (done < length) done += (await output.handle.write(buffer, offset + done, length - done, position + done)).bytesWritten
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
  readonly input: FileDigest
  /** The output's sha256 is `undefined` when `lean`. */
  readonly output: { readonly size: number; readonly sha256: string | undefined }
}

/** Runs the pipeline; the size and sha256 of the input and of what was written to the output. Throws at the first failure. */
export const runPipeline = async (options: PipelineOptions): Promise<PipelineResult> => {
  const { op, input, output, signal } = options
  const [inChunk, outChunk] = op === "seal" ? [plaintextChunkBytes, ciphertextChunkBytes] : [ciphertextChunkBytes, plaintextChunkBytes]
  const inPiece = pieceChunks * inChunk
  const outPiece = pieceChunks * outChunk
  const memory = { input: new SharedArrayBuffer(slots * inPiece), output: new SharedArrayBuffer(slots * outPiece) }
  const inView = new Uint8Array(memory.input)
  const outView = new Uint8Array(memory.output)
  const lean = options.lean === true
  const threads = threadsFor(input.size, memory, lean)
  const workers = { inputHash: threads[0]!, crypt: threads[1] ?? threads[0]!, outputHash: lean ? undefined : (threads[2] ?? threads[0]!) }
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
    await workers.crypt.setKey(start.key)
    start.key.fill(0)
    track(workers.inputHash.hashBytes("input", start.inputPrefix))
    if (workers.outputHash !== undefined) track(workers.outputHash.hashBytes("output", start.outputPrefix))
    const onWritten = options.onWritten ?? (() => undefined)
    let writtenInOrder: Promise<unknown> = track(
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
      const hashed = track(workers.inputHash.hash("input", slot * inPiece, length))
      await outFree[slot]
      const ran = track(
        workers.crypt.run(op, slot * inPiece, length, slot * outPiece, i * pieceChunks, final).then(({ bytes, outcome }) => {
          if (outcome._tag !== "Opened") throw payloadFailure(input.path, outcome)
          return bytes
        }),
      )
      inFree[slot] = Promise.all([hashed, ran])
      inFree[slot].catch(() => undefined)
      // Every piece but the last fills its output: its place in the file is known before it is made.
      const position = start.outputPrefix.length + i * outPiece
      const written = track(
        ran.then(async (bytes) => {
          outputBytes += bytes
          await Promise.all([
            workers.outputHash?.hash("output", slot * outPiece, bytes),
            writeOutput(output, start.ring, signal, outView, slot * outPiece, bytes, position),
          ])
          return position + bytes
        }),
      )
      outFree[slot] = written
      writtenInOrder = track(Promise.all([writtenInOrder, written]).then(([, end]) => onWritten(end)))
      if (final) break
      read(i + slots)
    }
    await settle()
    throwIfFailed()
    const [inputSha256, outputSha256] = await Promise.all([workers.inputHash.digest("input"), workers.outputHash?.digest("output")])
    return { input: { size: inputBytes, sha256: inputSha256 }, output: { size: outputBytes, sha256: outputSha256 } }
  } catch (e) {
    const error = firstOr(e)
    await settle()
    throw error
  } finally {
    await Promise.all(threads.map((t) => t.terminate()))
  }
}
