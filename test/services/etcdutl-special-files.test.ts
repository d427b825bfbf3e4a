/**
 * The live etcdutl is never handed a FIFO, a device or a link as the snapshot: `etcdutl snapshot
 * status` or `restore` would block opening a FIFO (and the child with it) or read /dev/zero without
 * end. Refused before it is run, naming the path and what it is; a missing file is still
 * etcdutl's to report.
 */
import { execFileSync } from "node:child_process"
import { symlinkSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Etcdutl } from "../../src/services/etcdutl.ts"
import { tempDir } from "../support/temp-dir.ts"

const work = tempDir("etcdutl-special")

const failure = async <A, E>(effect: Effect.Effect<A, E, Etcdutl>) => {
  const exit = await Effect.runPromiseExit(effect.pipe(Effect.provide(Etcdutl.live())))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? reason.error : undefined
}

describe("Etcdutl.live and special files", () => {
  it("refuses a FIFO for snapshot status at once", async () => {
    const fifo = join(work, "fifo.db")
    execFileSync("mkfifo", [fifo])
    const started = Date.now()
    const error = await failure(Etcdutl.use((e) => e.snapshotStatus(fifo)))
    expect(Date.now() - started).toBeLessThan(5000)
    expect(error).toMatchObject({ _tag: "EtcdutlFailed", operation: "snapshot status", reason: "not-regular-file", file: fifo })
    expect((error as { message: string }).message).toContain(`${fifo} is a FIFO (named pipe), not a regular file`)
  })

  it("refuses a link to /dev/zero for snapshot restore", async () => {
    const link = join(work, "zero.db")
    symlinkSync("/dev/zero", link)
    const error = await failure(
      Etcdutl.use((e) =>
        e.snapshotRestore({
          snapshot: link,
          memberName: "m",
          peerUrl: "https://127.0.0.1:2380",
          clusterToken: "t",
          dataDir: join(work, "data"),
          bump: { _tag: "Disabled" },
        }),
      ),
    )
    expect(error).toMatchObject({ _tag: "EtcdutlFailed", operation: "snapshot restore", reason: "not-regular-file" })
    expect((error as { message: string }).message).toContain("is a symbolic link to /dev/zero (a character device)")
  })

  it("leaves a missing file to etcdutl", async () => {
    expect(await failure(Etcdutl.use((e) => e.snapshotStatus(join(work, "missing.db"))))).toMatchObject({ reason: "missing-file" })
  })
})
