import { linkSync, mkdirSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { volumeSizeLimitsEnv } from "../../src/domain/volume-size-limits.ts"
import { DiskSpace, type DiskUsage } from "../../src/services/disk-space.ts"
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

const usageOf = (path: string, layer = DiskSpace.live) => Effect.runPromise(DiskSpace.use((d) => d.usage(path)).pipe(Effect.provide(layer)))
const blocksOf = (...paths: ReadonlyArray<string>) => paths.reduce((sum, p) => sum + statSync(p).blocks * 512, 0)

describe("DiskSpace with an emptyDir's size limit (inside the backup pod)", () => {
  it("a path in the volume has the limit less what the whole volume holds (a hard link once), capped by the file system", async () => {
    const root = tempDir("disk-space-limit")
    const volume = join(root, "backup")
    mkdirSync(join(volume, "resources"), { recursive: true })
    writeFileSync(join(volume, "snapshot.db"), Buffer.alloc(1024 * 1024, 7))
    linkSync(join(volume, "snapshot.db"), join(volume, "resources", "linked"))
    writeFileSync(join(root, "outside"), Buffer.alloc(512 * 1024, 7))
    const used = blocksOf(volume, join(volume, "resources"), join(volume, "snapshot.db"))
    const limit = 4 * 1024 * 1024
    const layer = DiskSpace.withVolumeLimits({ [volume]: limit })
    const plain = await usageOf(root)
    for (const path of [volume, join(volume, "resources"), `${volume}/`]) {
      const usage: DiskUsage = await usageOf(path, layer)
      expect(usage.availableBytes).toBe(limit - used)
      expect(usage.totalBytes).toBe(limit)
      expect(usage.volumeLimit).toEqual({ mountPath: volume, limitBytes: limit, usedBytes: used, fileSystemAvailableBytes: expect.any(Number) })
      expect(usage.availableBytes).toBeLessThanOrEqual(usage.volumeLimit!.fileSystemAvailableBytes)
    }
    // Beside the volume, and a volume larger than its file system's free space: the file system's numbers.
    expect((await usageOf(root, layer)).volumeLimit).toBeUndefined()
    const huge = await usageOf(volume, DiskSpace.withVolumeLimits({ [volume]: Number.MAX_SAFE_INTEGER }))
    expect(huge.availableBytes).toBe(huge.volumeLimit!.fileSystemAvailableBytes)
    expect(huge.totalBytes).toBe(plain.totalBytes)
    // Over its limit already (the kubelet evicts): no room at all, never a negative count.
    expect((await usageOf(volume, DiskSpace.withVolumeLimits({ [volume]: 1024 }))).availableBytes).toBe(0)
  })

  it("DiskSpace.live takes the limits from the pod's variable; a malformed one fails every check with what is wrong", async () => {
    const volume = tempDir("disk-space-env")
    const saved = process.env[volumeSizeLimitsEnv]
    try {
      process.env[volumeSizeLimitsEnv] = JSON.stringify({ [volume]: 1024 * 1024 })
      expect((await usageOf(volume)).volumeLimit).toEqual({
        mountPath: volume,
        limitBytes: 1024 * 1024,
        usedBytes: blocksOf(volume),
        fileSystemAvailableBytes: expect.any(Number),
      })
      process.env[volumeSizeLimitsEnv] = '{"backup":1}'
      const exit = await Effect.runPromiseExit(DiskSpace.use((d) => d.usage(volume)).pipe(Effect.provide(DiskSpace.live)))
      expect(exit).toEqual(
        Exit.fail(
          expect.objectContaining({
            _tag: "DiskSpaceUnknown",
            message: expect.stringContaining(
              `${volumeSizeLimitsEnv} is not a JSON object of absolute mount paths to byte counts ("backup" is not an absolute path)`,
            ),
          }),
        ),
      )
    } finally {
      if (saved === undefined) delete process.env[volumeSizeLimitsEnv]
      else process.env[volumeSizeLimitsEnv] = saved
    }
  })
})
