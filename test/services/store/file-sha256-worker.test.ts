import { createHash, randomBytes } from "node:crypto"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { fileSha256Worker } from "../../../src/services/store/file-sha256-worker.ts"
import { tempDir } from "../../support/temp-dir.ts"

const dir = tempDir("sha256-worker")

describe("fileSha256Worker", () => {
  it("the ranges fed in order, of any sizes, give the whole file's sha256", async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17)
    const path = join(dir, "f")
    writeFileSync(path, bytes)
    const cuts = [0, 1, 4096, 1024 * 1024 + 5, 3 * 1024 * 1024, bytes.length]
    const sha256 = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const hasher = yield* fileSha256Worker(path)
          for (let i = 1; i < cuts.length; i++) hasher.feed(cuts[i - 1]!, cuts[i]!)
          return yield* hasher.digest
        }),
      ),
    )
    expect(sha256).toBe(createHash("sha256").update(bytes).digest("hex"))
  })

  it("a range past the end of the file fails as a local I/O failure naming the file", async () => {
    const path = join(dir, "short")
    writeFileSync(path, "abc")
    const exit = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const hasher = yield* fileSha256Worker(path)
          hasher.feed(0, 10)
          return yield* hasher.digest
        }),
      ),
    )
    expect(JSON.stringify(exit)).toMatch(/StoreLocalIoFailed.*short/)
  })

  it("a missing file fails with its errno", async () => {
    const path = join(dir, "missing")
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.flatMap(fileSha256Worker(path), (h) => h.digest)))
    expect(JSON.stringify(exit)).toMatch(/StoreLocalIoFailed.*"code":"ENOENT".*missing/)
  })
})
