/**
 * The live Etcdutl runs each probe once per process: the binary's capabilities once, a snapshot's status once while
 * the file keeps its identity (inode, size, modification time), again once it changed.
 */
import { appendFileSync, readFileSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Etcdutl } from "../../src/services/etcdutl.ts"
import { writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { tempDir } from "../support/temp-dir.ts"

describe("the live Etcdutl", () => {
  it("asks the binary once per capability probe and once per unchanged snapshot", async () => {
    const dir = tempDir("etcdutl-once")
    const scripted = writeScriptedEtcdutl(join(dir, "scripted-etcdutl"))
    const calls = join(dir, "calls")
    writeFileSync(calls, "")
    const counting = join(dir, "etcdutl")
    writeFileSync(counting, `#!/bin/bash\necho "$1 $2" >> ${JSON.stringify(calls)}\nexec ${JSON.stringify(scripted)} "$@"\n`, { mode: 0o755 })
    const snapshot = join(dir, "snapshot.db")
    writeFileSync(snapshot, Buffer.alloc(4096 + 32))
    const count = (what: string) =>
      readFileSync(calls, "utf8")
        .split("\n")
        .filter((l) => l === what).length

    const run = <A, E>(use: (etcdutl: Etcdutl["Service"]) => Effect.Effect<A, E>) =>
      Effect.runPromise(Etcdutl.use(use).pipe(Effect.provide(Etcdutl.live({ binary: counting }))))
    await run((etcdutl) =>
      Effect.gen(function* () {
        expect(yield* etcdutl.capabilities).toEqual(yield* etcdutl.capabilities)
        const first = yield* etcdutl.snapshotStatus(snapshot)
        expect(yield* etcdutl.snapshotStatus(snapshot)).toEqual(first)
        expect([count("version "), count("snapshot restore"), count("snapshot status")]).toEqual([1, 1, 1])
        appendFileSync(snapshot, Buffer.alloc(4096))
        utimesSync(snapshot, new Date(), new Date(Date.now() + 5000))
        expect((yield* etcdutl.snapshotStatus(snapshot)).totalSize).toBe(8192)
        expect(count("snapshot status")).toBe(2)
      }),
    )
  })
})
