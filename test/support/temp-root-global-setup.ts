/**
 * vitest globalSetup: the run's temporary files (every test's, every process a test starts) go
 * under one directory of the run's own, `<tmp>/cbt-<pid>`, removed when the run ends: a test
 * that forgets its directory, or a killed process's files, cannot pile up in the system's
 * temporary directory (some are keys and decoded Secrets). A run that was itself killed leaves
 * its directory; the next run removes those whose run is gone.
 */
import { chmodSync, mkdirSync, readdirSync, rmSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { ownerLiveness } from "../../src/services/run-lock.ts"

const runDir = /^cbt-(\d+)$/

export default async function setup(): Promise<() => void> {
  const parent = tmpdir()
  for (const name of readdirSync(parent)) {
    const pid = runDir.exec(name)?.[1]
    if (pid !== undefined && (await ownerLiveness({ pid: Number(pid), startTicks: null, host: hostname(), command: "", startedAt: "" })) === "gone")
      rmSync(join(parent, name), { recursive: true, force: true })
  }
  const root = join(parent, `cbt-${process.pid}`)
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root)
  // As the system's: tests that drop to another user (uid 65534) go through it and write in it.
  chmodSync(root, 0o1777)
  // The test workers are forked after the global setups, with this environment; so are the processes tests start.
  process.env.TMPDIR = root
  // Hundreds of CLI runs start Node on the TypeScript sources: cached compiled code takes ~40% off each start's CPU.
  process.env.NODE_COMPILE_CACHE = join(root, "node-compile-cache")
  return () => rmSync(root, { recursive: true, force: true })
}
