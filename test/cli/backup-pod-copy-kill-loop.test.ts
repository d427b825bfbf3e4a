/**
 * `backup-pod --copy-to` SIGKILLed at random points of its copy (a seeded fraction of an uninterrupted run's time from
 * the moment its directory appears), then run again to the end against the same held pod: the backup is there byte
 * for byte with nothing a killed run left beside it, and a killed run never leaves a manifest beside files it does not
 * describe. The snapshot is 48 MiB so that a kill can land while a file is being copied.
 */
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { writeFakeBackup } from "../support/fake-backups.ts"
import { killRoundsInto } from "../support/kill-loop.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"
import { backupPodStub } from "./backup-pod-stub.ts"

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

describe("backup-pod --copy-to killed at any moment", { timeout: 300_000 }, () => {
  it("kills during the copy, then a run to the end: the whole backup, nothing left over, never a manifest beside other files", async () => {
    const podDir = tempDir("held")
    writeFakeBackup(podDir, "2026-12-07_100000", { snapshotBytes: 48 * 1024 * 1024, resourcesBytes: 3 * 1024 * 1024 })
    const { kubeconfig } = await backupPodStub(0, podDir)
    const into = join(tempDir("copy-kill"), "backup")
    const args = ["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--copy-to", into]
    // Never a manifest beside files it does not describe (checked after each round).
    const landed = await killRoundsInto(args, into, { landings: 8, seed: 23 })
    expect(landed).toBe(8)
    const last = await runCli(args, { timeoutMs: 120_000 })
    expect(last.status, last.stderr).toBe(0)
    const expected = readdirSync(podDir).filter((name) => !name.startsWith("."))
    expect(readdirSync(into).sort()).toEqual(expected.sort())
    for (const name of expected) expect(sha256(join(into, name))).toBe(sha256(join(podDir, name)))
  })
})
