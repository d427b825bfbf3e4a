import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { resourcesAllowanceBytes, snapshotRoom } from "../../src/domain/snapshot-room.ts"

const bytesArb = fc.integer({ min: 0, max: 2 ** 45 })
const volumeArb = fc.option(fc.record({ limitBytes: bytesArb, usedBytes: bytesArb }), { nil: undefined })

describe("snapshotRoom", () => {
  test.prop([bytesArb, fc.constantFrom(1, 1.5, 2, 3), bytesArb, volumeArb])(
    "fits exactly when the disk keeps factor x the database and the volume's limit holds the database and the resources",
    (databaseBytes, factor, fileSystemAvailableBytes, volume) => {
      const room = snapshotRoom({ databaseBytes, factor, fileSystemAvailableBytes, volume })
      const diskFits = fileSystemAvailableBytes >= Math.ceil(databaseBytes * factor)
      const volumeFits = volume === undefined || volume.limitBytes - volume.usedBytes >= databaseBytes + resourcesAllowanceBytes
      expect(room._tag === "Fits").toBe(diskFits && volumeFits)
      if (room._tag === "DiskTooSmall") {
        expect(room).toEqual({ _tag: "DiskTooSmall", neededBytes: Math.ceil(databaseBytes * factor), availableBytes: fileSystemAvailableBytes })
      }
      if (room._tag === "VolumeLimitTooSmall") {
        expect(diskFits).toBe(true)
        expect(room.neededBytes).toBe(databaseBytes + resourcesAllowanceBytes)
        expect(room.availableBytes).toBe(Math.max(0, volume!.limitBytes - volume!.usedBytes))
        expect(room.availableBytes).toBeLessThan(room.neededBytes)
      }
    },
  )

  it("a volume limit asks for the snapshot once, not factor times: a 12 GiB database in the default 20Gi emptyDir fits", () => {
    const GiB = 2 ** 30
    expect(snapshotRoom({ databaseBytes: 12 * GiB, factor: 2, fileSystemAvailableBytes: 100 * GiB, volume: { limitBytes: 20 * GiB, usedBytes: 0 } })._tag).toBe(
      "Fits",
    )
    expect(snapshotRoom({ databaseBytes: 12 * GiB, factor: 2, fileSystemAvailableBytes: 20 * GiB, volume: { limitBytes: 20 * GiB, usedBytes: 0 } })._tag).toBe(
      "DiskTooSmall",
    )
    const volume = { limitBytes: 12 * GiB, usedBytes: 0, name: "backup" }
    expect(snapshotRoom({ databaseBytes: 12 * GiB, factor: 2, fileSystemAvailableBytes: 100 * GiB, volume })).toEqual({
      _tag: "VolumeLimitTooSmall",
      neededBytes: 12 * GiB + resourcesAllowanceBytes,
      availableBytes: 12 * GiB,
      volume,
    })
  })
})
