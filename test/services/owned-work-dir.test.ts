/**
 * restore's and download's kept directory: the next run that takes it after a killed one removes that
 * run's partial files (every kind a download writes before it renames) and keeps the whole ones, and
 * a person's own files that only look partial.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, writeFileSync, mkdirSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { keptWorkDir } from "../../src/services/owned-work-dir.ts"
import { tempDir } from "../support/temp-dir.ts"

/** A PID that is certainly not running: a child that has exited and been reaped. */
const deadPid = () => spawnSync(process.execPath, ["-e", "0"]).pid!

describe("keptWorkDir after a killed run", () => {
  it.effect("removes the killed run's partial files, keeps its whole ones and a person's files named like partial ones", () =>
    Effect.gen(function* () {
      const parent = tempDir("owned-work-dir")
      const dir = join(parent, "2026-12-05_114820")
      mkdirSync(dir)
      const partial = [
        "snapshot_2026-12-05_114820.db.download",
        "snapshot_2026-12-05_114820.db.download.part",
        "static_kuberesources_2026-12-05_114820__POSSIBLY_DIRTY__.tar.gz.age",
        "static_kuberesources_2026-12-05_114820__POSSIBLY_DIRTY__.tar.gz.part",
        `backup-manifest.json.tmp-${4242}`,
        `backup-manifest.json.sig.tmp-${4242}`,
      ]
      const whole = ["snapshot_2026-12-05_114820.db", "backup-manifest.json.sig", "notes.tmp-file", "notes.age", "copy.part", "snapshot.db.download"]
      for (const name of [...partial, ...whole]) writeFileSync(join(dir, name), "x")
      const pid = deadPid()
      writeFileSync(`${dir}.lock`, JSON.stringify({ pid, startTicks: null, host: hostname(), command: "restore", startedAt: "2026-12-05T00:00:00.000Z" }))
      yield* Effect.scoped(keptWorkDir(dir, "restore", false)).pipe(Effect.provide(NodeServices.layer))
      assert.deepStrictEqual(readdirSync(dir).sort(), [...whole].sort())
    }),
  )
})
