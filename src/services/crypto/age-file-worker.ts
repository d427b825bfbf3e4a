/**
 * Threads for age files (age-file-pipeline.ts): each hashes (SHA-256) bytes of two shared
 * memories, the input's and the output's, and seals or opens runs of chunks from one into the
 * other, answering requests in the order they were made. A worker thread lets a file use both
 * cores where the age CLI uses one (bench/AGE.md); the same requests can run on the main thread.
 *
 * A worker runs from source text, not from a module file, so it works the same from the sources
 * and from the bundle the image runs (scripts/build.ts), which has no file to point a Worker at:
 * its code is `workerMain`, `ageFileOps` and `ageStreamChunks`, each self-contained.
 */
import * as nodeCrypto from "node:crypto"
import { Worker } from "node:worker_threads"
import { chunkTagBytes, plaintextChunkBytes, streamNonce } from "../../domain/age-payload-layout.ts"
import { ageStreamChunks, type OpenRunOutcome } from "./age-stream-chunks.ts"

export interface SharedMemory {
  readonly input: SharedArrayBuffer
  readonly output: SharedArrayBuffer
}

type Side = keyof SharedMemory

type Request =
  | readonly ["key", Uint8Array]
  | readonly ["hash", Side, number, number]
  | readonly ["digest", Side]
  | readonly ["seal" | "open", number, number, number, number, boolean]

export interface RunResult {
  /** Bytes written into the output memory. */
  readonly bytes: number
  readonly outcome: OpenRunOutcome
}

const sizes = { plaintextChunkBytes, chunkTagBytes }

/** What a thread does with each request on `shared`. Self-contained (see the module's comment). */
const ageFileOps = (crypto: typeof nodeCrypto, streamChunks: typeof ageStreamChunks, layout: typeof sizes, nonce: typeof streamNonce, shared: SharedMemory) => {
  const { sealRun, openRun } = streamChunks(crypto, { ...layout, streamNonce: nonce })
  const memory = { input: new Uint8Array(shared.input), output: new Uint8Array(shared.output) }
  const hashes = { input: crypto.createHash("sha256"), output: crypto.createHash("sha256") }
  let key: nodeCrypto.KeyObject | undefined
  return (request: Request): unknown => {
    switch (request[0]) {
      case "key":
        key = crypto.createSecretKey(request[1])
        request[1].fill(0)
        return null
      case "hash":
        hashes[request[1]].update(memory[request[1]].subarray(request[2], request[2] + request[3]))
        return null
      case "digest":
        key = undefined
        return hashes[request[1]].digest("hex")
      default: {
        const [op, inOffset, length, outOffset, counter, final] = request
        const run = memory.input.subarray(inOffset, inOffset + length)
        let at = outOffset
        // node:crypto returns a fresh buffer per chunk: each is freed once copied (detached by
        // `transfer(0)`) rather than at the next collection. Left to the collector they held ~50 MiB,
        // and glibc gave their pages back to the kernel only to fault them in again: half of
        // sealing's time (bench/AGE.md).
        const release = (bytes: Uint8Array) => {
          memory.output.set(bytes, at)
          at += bytes.length
          if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) bytes.buffer.transfer(0)
        }
        let outcome: OpenRunOutcome = { _tag: "Opened", next: counter }
        if (key === undefined) throw new Error("no payload key was set")
        if (op === "seal") sealRun(key, counter, run, final, release)
        else outcome = openRun(key, counter, run, final, release)
        return { bytes: at - outOffset, outcome }
      }
    }
  }
}

/** A worker's body. Self-contained (see the module's comment). */
const workerMain = (ops: typeof ageFileOps, streamChunks: typeof ageStreamChunks, layout: typeof sizes, nonce: typeof streamNonce) => {
  const { parentPort, workerData } = process.getBuiltinModule("node:worker_threads")
  const handle = ops(process.getBuiltinModule("node:crypto"), streamChunks, layout, nonce, workerData)
  parentPort!.on("message", (request: Request) => parentPort!.postMessage(handle(request)))
}

const workerSource = `(${workerMain})(${ageFileOps}, ${ageStreamChunks}, ${JSON.stringify(sizes)}, ${streamNonce})`

/** A thread's worker stopped (a crash or an exit) with requests unanswered: a defect, never a property of the files. */
export class AgeFileWorkerFailed {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

/** The main thread's handle on a thread: requests answered in order. */
export interface AgeFileThread {
  /** The payload key for `run`: the thread keeps it as a KeyObject until `digest`, and zeroes the bytes it was sent. */
  readonly setKey: (key: Uint8Array) => Promise<unknown>
  /** Adds `length` bytes of `side`'s memory from `offset` to `side`'s hash. */
  readonly hash: (side: Side, offset: number, length: number) => Promise<unknown>
  /** The hash of everything added to `side`'s, in hex. */
  readonly digest: (side: Side) => Promise<string>
  /** Seals (or opens) `length` bytes of the input memory from `inOffset` as chunks from `counter` into the output memory at `outOffset`. */
  readonly run: (op: "seal" | "open", inOffset: number, length: number, outOffset: number, counter: number, final: boolean) => Promise<RunResult>
  readonly terminate: () => Promise<void>
}

const threadOf = (request: <T>(request: Request) => Promise<T>, terminate: () => Promise<void>): AgeFileThread => ({
  setKey: (key) => request(["key", key]),
  hash: (side, offset, length) => request(["hash", side, offset, length]),
  digest: (side) => request(["digest", side]),
  run: (op, inOffset, length, outOffset, counter, final) => request([op, inOffset, length, outOffset, counter, final]),
  terminate,
})

/** A worker thread. */
export const startAgeFileWorker = (memory: SharedMemory): AgeFileThread => {
  const waiting: Array<{ readonly resolve: (value: unknown) => void; readonly reject: (e: unknown) => void }> = []
  let stopped: AgeFileWorkerFailed | undefined
  const stop = (cause: unknown) => {
    stopped ??= new AgeFileWorkerFailed(cause)
    for (const w of waiting.splice(0)) w.reject(stopped)
  }
  const worker = new Worker(workerSource, { eval: true, workerData: memory })
  worker.on("message", (reply: unknown) => waiting.shift()?.resolve(reply))
  worker.on("error", stop)
  worker.on("exit", (code) => stop(new Error(`the age file worker exited with code ${code}`)))
  const request = <T>(r: Request): Promise<T> => {
    if (stopped !== undefined) return Promise.reject(stopped)
    return new Promise<T>((resolve, reject) => {
      waiting.push({ resolve: resolve as (value: unknown) => void, reject })
      worker.postMessage(r)
    })
  }
  return threadOf(request, async () => {
    worker.removeAllListeners("exit")
    stop(new Error("the age file worker was stopped"))
    await worker.terminate()
  })
}

/** The same requests, run on this thread as they are made. */
export const onThisThread = (memory: SharedMemory): AgeFileThread => {
  const handle = ageFileOps(nodeCrypto, ageStreamChunks, sizes, streamNonce, memory)
  const request = <T>(r: Request): Promise<T> => {
    try {
      return Promise.resolve(handle(r) as T)
    } catch (e) {
      return Promise.reject(e)
    }
  }
  return threadOf(request, async () => undefined)
}
