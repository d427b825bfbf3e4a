/**
 * The live Etcdutl hands etcdutl the snapshot it opened and checked, not its path: a file renamed
 * over the path, or a FIFO put there, between the check and etcdutl's own open is never what
 * etcdutl reads. The etcdutl here swaps the path as it starts, then runs the scripted etcdutl
 * (which reports the size of the file it is given, and restores its bytes).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Etcdutl } from "../../src/services/etcdutl.ts"
import { writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { tempDir } from "../support/temp-dir.ts"

const swappingEtcdutl = (dir: string, snapshot: string, swapIn: string) => {
  const scripted = writeScriptedEtcdutl(join(dir, "scripted-etcdutl"))
  const path = join(dir, "etcdutl")
  const swap =
    swapIn === "fifo" ? `rm -f ${JSON.stringify(snapshot)} && mkfifo ${JSON.stringify(snapshot)}` : `mv ${JSON.stringify(swapIn)} ${JSON.stringify(snapshot)}`
  writeFileSync(
    path,
    [
      "#!/bin/bash",
      `if [ "$1 $2" = "snapshot status" ] || { [ "$1 $2" = "snapshot restore" ] && [ "$3" != "--help" ]; }; then ${swap} || exit 9; fi`,
      `exec ${JSON.stringify(scripted)} "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  )
  return path
}

const setUp = (swap: "other" | "fifo") => {
  const dir = tempDir("etcdutl-opened")
  const snapshot = join(dir, "snapshot.db")
  const genuine = Buffer.alloc(4096 + 32, 0x61)
  writeFileSync(snapshot, genuine, { mode: 0o600 })
  const other = join(dir, "other.db")
  writeFileSync(other, Buffer.alloc(8192 + 32, 0x62), { mode: 0o600 })
  const binary = swappingEtcdutl(dir, snapshot, swap === "fifo" ? "fifo" : other)
  const run = <A, E>(use: (etcdutl: Etcdutl["Service"]) => Effect.Effect<A, E>) =>
    Effect.runPromise(Etcdutl.use(use).pipe(Effect.provide(Etcdutl.live({ binary }))))
  return { dir, snapshot, genuine, run }
}

describe("the live Etcdutl reads the snapshot it opened", () => {
  for (const swap of ["other", "fifo"] as const) {
    const what = swap === "fifo" ? "a FIFO" : "another file"
    it(`snapshot status describes the checked file when ${what} takes its path as etcdutl starts`, async () => {
      const { snapshot, run } = setUp(swap)
      const status = await run((etcdutl) => etcdutl.snapshotStatus(snapshot))
      expect(status.totalSize).toBe(4096)
    })

    it(`snapshot restore restores the checked file when ${what} takes its path as etcdutl starts`, async () => {
      const { dir, snapshot, genuine, run } = setUp(swap)
      const dataDir = join(dir, "data")
      await run((etcdutl) =>
        etcdutl.snapshotRestore({
          snapshot,
          memberName: "m",
          peerUrl: "https://127.0.0.1:2380",
          clusterToken: "t",
          dataDir,
          bump: { _tag: "Disabled" },
        }),
      )
      expect(readFileSync(join(dataDir, "member/snap/db")).equals(genuine.subarray(0, 4096))).toBe(true)
    })
  }
})
