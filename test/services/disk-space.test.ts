import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { tempDir } from "../support/temp-dir.ts"

describe("DiskSpace.live", () => {
  it("a path that does not exist fails through the one errno mapper: the code, the path and what to do", async () => {
    const missing = join(tempDir("disk-space"), "missing")
    const exit = await Effect.runPromiseExit(DiskSpace.use((d) => d.usage(missing)).pipe(Effect.provide(DiskSpace.live)))
    expect(exit).toEqual(
      Exit.fail(
        expect.objectContaining({
          _tag: "DiskSpaceUnknown",
          path: missing,
          message: `cannot read the free space of ${missing}: ENOENT: ${missing} or a directory above it does not exist: check the path`,
        }),
      ),
    )
  })
})
