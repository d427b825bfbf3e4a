/**
 * Temporary directories for tests, each removed with everything in it when its owner ends: the
 * running test, the suite being collected, or an Effect's scope.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, onTestFinished } from "vitest"

const make = (prefix: string, parent: string) => mkdtempSync(join(parent, `cb-${prefix}-`))
const remove = (dir: string) => rmSync(dir, { recursive: true, force: true })

/**
 * A new directory `cb-<prefix>-XXXXXX` under `parent` (the system's temporary directory unless
 * given). Called in a test or a `beforeEach` hook, it is removed when that test ends; called while a file or a
 * `describe` block is collected (module top level, a `describe` body), when that suite's tests
 * have all run. Not for `beforeAll`/`beforeEach` bodies: make it where the suite is declared.
 */
export const tempDir = (prefix: string, parent: string = tmpdir()): string => {
  const dir = make(prefix, parent)
  try {
    onTestFinished(() => remove(dir))
  } catch {
    afterAll(() => remove(dir))
  }
  return dir
}

/** The same directory for an Effect: made when acquired, removed when the scope closes (an `it.effect` test's scope, a Layer's). */
export const scopedTempDir = (prefix: string, parent: string = tmpdir()) =>
  Effect.acquireRelease(
    Effect.sync(() => make(prefix, parent)),
    (dir) => Effect.sync(() => remove(dir)),
  )
