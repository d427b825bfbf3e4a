/**
 * vitest globalSetup: one S3 server (Swift s3api, scripts/s3-server.sh) for the whole test run,
 * started lazily by the first test file that asks for it (test/support/s3-server.ts), so a run
 * without S3 tests pays nothing. This process owns the server's directory: the teardown stops
 * the server and removes it; the script's watchdog stops and removes it if this process dies
 * first (killed, interrupted), so no run leaves a server or its files behind.
 */
import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import type { TestProject } from "vitest/node"
import { repoRoot } from "./tools.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** Directory of the run's S3 server (started on first use). */
    readonly s3ServerDir: string
    /** The test run's main process: the server's watchdog stops it when this pid is gone. */
    readonly testRunPid: number
  }
}

export default function setup(project: TestProject): () => Promise<void> {
  // Created by the first start, so a run without S3 tests leaves nothing, even when killed.
  const dir = join(tmpdir(), `cb-s3-server-${process.pid}-${randomUUID().slice(0, 8)}`)
  project.provide("s3ServerDir", dir)
  project.provide("testRunPid", process.pid)
  return async () => {
    await promisify(execFile)("bash", [join(repoRoot, "scripts", "s3-server.sh"), "stop", dir]).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
    rmSync(`${dir}.lock`, { force: true })
  }
}
