/**
 * Young-generation collections on demand, for the snapshot stream (`etcd-live.ts`). Every
 * snapshot message arrives in fresh buffers outside the JS heap; V8 frees them only at its next
 * collection, which their size alone does not trigger before tens of MiB of them pile up.
 * Collecting every few MiB keeps the process's memory low (it still creeps up on very large
 * snapshots: bench/README.md), for well under a millisecond each time.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/**
 * Lets `minorGc` collect: turns on V8's `--expose-gc`, which gives `gc` to the contexts created
 * after it. It changes the whole process, so the command line calls it once at start-up rather
 * than a module doing it when imported.
 */
export const exposeGc = (): void => setFlagsFromString("--expose-gc")

type Gc = (options?: { type: "minor" | "major" }) => void
let gc: Gc | undefined | null

/** One young-generation collection; a no-op where `exposeGc` was not called or the runtime refuses. */
export const minorGc = (): void => {
  if (gc === undefined) {
    try {
      gc = runInNewContext("gc") as Gc
    } catch {
      gc = null
    }
  }
  gc?.({ type: "minor" })
}
