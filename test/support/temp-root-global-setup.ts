/**
 * vitest globalSetup: the run's temporary files (every test's, every process a test starts) go
 * under one directory of the run's own, `<tmp>/cbt-<pid>`, removed when the run ends: a test
 * that forgets its directory, or a killed process's files, cannot pile up in the system's
 * temporary directory (some are keys and decoded Secrets). A run that was itself killed leaves
 * its directory; the next run removes those whose run is gone.
 */
import { chmodSync, mkdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { removeDeadRunDirs } from "./dead-run-dirs.ts"

export default async function setup(): Promise<() => void> {
  const parent = tmpdir()
  await removeDeadRunDirs(parent, /^cbt-(\d+)$/)
  const root = join(parent, `cbt-${process.pid}`)
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root)
  // As the system's: tests that drop to another user (uid 65534) go through it and write in it.
  chmodSync(root, 0o1777)
  // The test workers are forked after the global setups, with this environment; so are the processes tests start.
  process.env.TMPDIR = root
  // Hundreds of CLI runs start Node (on the run's bundle, some on the sources): cached compiled code takes CPU off each start.
  process.env.NODE_COMPILE_CACHE = join(root, "node-compile-cache")
  return () => rmSync(root, { recursive: true, force: true })
}
