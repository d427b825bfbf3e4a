/**
 * The sha256 of a file being written, computed on a worker thread: the download feeds it each
 * range once written, in order, and the worker reads it back from the page cache and hashes it
 * while the event loop keeps receiving. On the main thread the hash was a third of a download's
 * CPU time, taken from the sockets; on a loaded machine a second busy thread also gets its own
 * share of the cores (as rclone's goroutines do).
 */
import { Worker } from "node:worker_threads"
import { Effect, type Scope } from "effect"
import { localIoFailed, type StoreLocalIoFailed } from "./store-errors.ts"

/** The worker: a script (not a module of the bundle) so that it needs no file of its own at run time. */
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const { closeSync, openSync, readSync } = require("node:fs")
const hash = createHash("sha256")
const buf = Buffer.allocUnsafe(${1024 * 1024})
let fd
let failed = false
parentPort.on("message", ({ from, to }) => {
  if (failed) return
  try {
    if (fd === undefined) fd = openSync(workerData.path, "r")
    if (from === undefined) {
      closeSync(fd)
      parentPort.postMessage({ sha256: hash.digest("hex") })
      return
    }
    for (let at = from; at < to; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, to - at), at)
      if (n === 0) throw Object.assign(new Error("end of file at " + at + ", expected " + to), { code: "EIO" })
      hash.update(buf.subarray(0, n))
      at += n
    }
  } catch (e) {
    failed = true
    parentPort.postMessage({ error: { code: e.code, message: e.message } })
  }
})
`

export interface FileSha256Worker {
  /** Queues bytes `from` to `to` of the file: every range once, in order, each only once written. */
  readonly feed: (from: number, to: number) => void
  /** The sha256 of everything fed, or the first failure to read it. */
  readonly digest: Effect.Effect<string, StoreLocalIoFailed>
}

type Answer = { readonly sha256: string } | { readonly error: { readonly code?: string; readonly message: string } }

/** A worker hashing `path` for the enclosing scope (terminated when it closes). */
export const fileSha256Worker = (path: string): Effect.Effect<FileSha256Worker, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Worker(workerSource, { eval: true, workerData: { path } })),
    (worker) => Effect.promise(() => worker.terminate()),
  ).pipe(
    Effect.map((worker) => {
      const answer = new Promise<Answer>((resolve) => {
        worker.once("message", resolve)
        worker.once("error", (e) => resolve({ error: { message: e.message } }))
        worker.once("exit", (code) => resolve({ error: { message: `the hashing thread exited (${code})` } }))
      })
      return {
        feed: (from, to) => worker.postMessage({ from, to }),
        digest: Effect.suspend(() => {
          worker.postMessage({})
          return Effect.promise(() => answer)
        }).pipe(
          Effect.flatMap((a) =>
            "sha256" in a ? Effect.succeed(a.sha256) : Effect.fail(localIoFailed(path, "read back", Object.assign(new Error(a.error.message), a.error))),
          ),
        ),
      }
    }),
  )
