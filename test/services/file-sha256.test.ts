import { createHash } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileSha256OrUndefined } from "../../src/services/file-sha256.ts"

describe("fileSha256OrUndefined", () => {
  it.effect("hashes a file larger than one stream chunk to the sha256 of its bytes", () =>
    Effect.gen(function* () {
      const path = join(mkdtempSync(join(tmpdir(), "sha256-")), "big")
      const bytes = Buffer.alloc(3 * 64 * 1024 + 17, 7)
      writeFileSync(path, bytes)
      assert.strictEqual(yield* fileSha256OrUndefined(path), createHash("sha256").update(bytes).digest("hex"))
    }),
  )

  it.effect("is undefined for a file that is not there or is a directory", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "sha256-"))
      assert.isUndefined(yield* fileSha256OrUndefined(join(dir, "missing")))
      assert.isUndefined(yield* fileSha256OrUndefined(dir))
    }),
  )
})
