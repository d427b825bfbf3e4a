import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, FileSystem, Layer, Logger, PlatformError } from "effect"
import { describe, expect, it } from "vitest"
import { fetchChecked } from "../../../src/programs/store/checked-fetch.ts"
import { temporaryWorkDir } from "../../../src/services/owned-work-dir.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore } from "../../../src/services/store/memory-store.ts"
import { tempDir } from "../../support/temp-dir.ts"

/** Node's FileSystem, except that removing a path `refused` matches fails with EACCES (as a read-only or foreign directory would). */
const refusingRemove = (refused: (path: string) => boolean) =>
  Layer.effect(
    FileSystem.FileSystem,
    FileSystem.FileSystem.use((fs) =>
      Effect.succeed({
        ...fs,
        remove: (path: string, options?: Parameters<FileSystem.FileSystem["remove"]>[1]) =>
          refused(path)
            ? Effect.fail(
                PlatformError.systemError({
                  _tag: "PermissionDenied",
                  module: "FileSystem",
                  method: "remove",
                  pathOrDescriptor: path,
                  cause: Object.assign(new Error(`EACCES: permission denied, rm '${path}'`), { code: "EACCES", syscall: "rm", errno: -13 }),
                }),
              )
            : fs.remove(path, options),
      }),
    ),
  ).pipe(Layer.provide(NodeServices.layer))

const capturing = (lines: Array<string>) => Logger.layer([Logger.make((options) => void lines.push(String(Logger.formatLogFmt.log(options))))])

describe("store cleanups that fail are reported, never a defect", () => {
  it("a damaged download that cannot be removed: the integrity failure names it and what to do, and a warning gives its errno", async () => {
    const dir = tempDir("checked-fetch")
    const store = makeMemoryStore()
    await Effect.runPromise(store.putBytes("p/b/file", new TextEncoder().encode("damaged bytes")))
    const lines: Array<string> = []
    const exit = await Effect.runPromiseExit(
      fetchChecked("p/b/file", join(dir, "file"), { size: 13, sha256: "0".repeat(64) }).pipe(
        Effect.provide(
          Layer.mergeAll(
            Layer.succeed(BackupStore, BackupStore.of(store)),
            refusingRemove((p) => p.endsWith(".download")),
            capturing(lines),
          ),
        ),
      ),
    )
    expect(Exit.isFailure(exit) && exit.cause.reasons.every((r) => r._tag === "Fail")).toBe(true)
    expect(JSON.stringify(exit)).toMatch(
      /StoreIntegrityFailed.*the stored copy is damaged, its download .*file\.download could not be removed \(EACCES\): remove it by hand/,
    )
    expect(lines.some((l) => /level=WARN .*cannot remove \S*file\.download: EACCES: not permitted.*path=\S*file\.download code=EACCES/.test(l))).toBe(true)
    expect(existsSync(join(dir, "file"))).toBe(false)
  })

  it("a damaged download that is removed: nothing kept, no warning", async () => {
    const dir = tempDir("checked-fetch")
    const store = makeMemoryStore()
    await Effect.runPromise(store.putBytes("p/b/file", new TextEncoder().encode("damaged bytes")))
    const lines: Array<string> = []
    const exit = await Effect.runPromiseExit(
      fetchChecked("p/b/file", join(dir, "file"), { size: 13, sha256: "0".repeat(64) }).pipe(
        Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, capturing(lines))),
      ),
    )
    expect(JSON.stringify(exit)).toMatch(/StoreIntegrityFailed.*the stored copy is damaged, nothing kept/)
    expect(readdirSync(dir)).toEqual([])
    expect(lines.filter((l) => l.includes("level=WARN"))).toEqual([])
  })

  it("verify's temporary work directory that cannot be removed: the run ends as it would, with a warning naming the directory and the errno", async () => {
    const parent = tempDir("work-dir")
    const lines: Array<string> = []
    const exit = await Effect.runPromiseExit(
      Effect.scoped(temporaryWorkDir(parent, "cluster-backup-verify-", "verify").pipe(Effect.map((dir) => dir))).pipe(
        Effect.provide(
          Layer.mergeAll(
            refusingRemove((p) => p.includes("cluster-backup-verify-") && !p.endsWith(".lock")),
            capturing(lines),
          ),
        ),
      ),
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    const dir = Exit.isSuccess(exit) ? exit.value : ""
    expect(existsSync(dir)).toBe(true)
    expect(lines.some((l) => l.includes("level=WARN") && l.includes(`path=${dir} code=EACCES`) && l.includes("remove it by hand"))).toBe(true)
  })
})
