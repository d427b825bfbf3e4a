/**
 * `backup-pod --copy-to` SIGKILLed at random points of its copy (a seeded fraction of an uninterrupted run's time from
 * the moment its directory appears), then run again to the end against the same held pod: the backup is there byte
 * for byte with nothing a killed run left beside it, and a killed run never leaves a manifest beside files it does not
 * describe. The snapshot is 48 MiB so that a kill can land while a file is being copied.
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { decodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { writeFakeBackup } from "../support/fake-backups.ts"
import { runAndKillWhen, seededRandom } from "../support/kill-loop.ts"
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
    const whole = await runAndKillWhen(args, { begun: () => existsSync(into), delayMs: 600_000 })
    expect(whole.finished && whole.code === 0, whole.stderr).toBe(true)
    rmSync(into, { recursive: true, force: true })
    const random = seededRandom(23)
    let landed = 0
    for (let round = 0; round < 30 && landed < 8; round++) {
      const delayMs = Math.floor(random() * whole.afterLockMs * 0.75)
      const killed = await runAndKillWhen(args, { begun: () => existsSync(into), delayMs })
      if (!killed.finished) landed++
      else expect(killed.code, killed.stderr).toBe(0)
      // The manifest is written last: when there is one, the files it names are whole.
      if (existsSync(join(into, "backup-manifest.json"))) {
        const manifest = decodeBackupManifest(readFileSync(join(into, "backup-manifest.json"), "utf8"))
        if (manifest._tag !== "Success") throw new Error("the copied manifest does not decode")
        for (const f of [manifest.success.files.snapshot, manifest.success.files.resources]) expect(sha256(join(into, f.name))).toBe(f.sha256)
      }
      if (killed.finished) rmSync(into, { recursive: true, force: true })
    }
    expect(landed).toBe(8)
    const last = await runCli(args, { timeoutMs: 120_000 })
    expect(last.status, last.stderr).toBe(0)
    const expected = readdirSync(podDir).filter((name) => !name.startsWith("."))
    expect(readdirSync(into).sort()).toEqual(expected.sort())
    for (const name of expected) expect(sha256(join(into, name))).toBe(sha256(join(podDir, name)))
  })
})
