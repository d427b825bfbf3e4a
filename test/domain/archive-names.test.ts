import { execFileSync } from "node:child_process"
import { fc, test } from "@fast-check/vitest"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  backupFileNames,
  BackupTimestamp,
  dirtyMarker,
  formatBackupTimestamp,
  manifestFileName,
  parseBackupFileName,
  parseBackupTimestamp,
} from "../../src/domain/archive-names.ts"

/** Whole-second instants in years 1000..9999 (what a timestamp can name). */
const secondArb = fc.integer({ min: Date.UTC(1000, 0, 1) / 1000, max: Date.UTC(9999, 11, 31, 23, 59, 59) / 1000 }).map((s) => new Date(s * 1000))
const isTimestamp = Schema.is(BackupTimestamp)

describe("backup timestamps", () => {
  it("formats the example of the restore procedure", () => {
    expect(formatBackupTimestamp(new Date("2021-06-25T19:00:35Z"))).toBe("2021-06-25_190035")
    expect(formatBackupTimestamp(new Date("2021-06-25T19:00:35.999Z"))).toBe("2021-06-25_190035")
  })

  test.prop([secondArb], { numRuns: 300 })("format is a BackupTimestamp that parses back to the same second", (at) => {
    const ts = formatBackupTimestamp(at)
    expect(isTimestamp(ts)).toBe(true)
    expect(parseBackupTimestamp(ts).getTime()).toBe(at.getTime())
  })

  test.prop([secondArb, secondArb], { numRuns: 300 })("timestamps sort as their instants do", (a, b) => {
    const [ta, tb] = [formatBackupTimestamp(a), formatBackupTimestamp(b)]
    expect(Math.sign(ta.localeCompare(tb, "en"))).toBe(Math.sign(a.getTime() - b.getTime()))
    expect(ta < tb).toBe(a < b)
  })

  it.each([
    "2021-6-25_190035",
    "2021-13-01_000000",
    "2021-00-01_000000",
    "2021-01-32_000000",
    "2021-01-01_240000",
    "2021-01-01_006000",
    "2021-01-01T000000",
    "2021-01-01_000000Z",
    "2021-02-29_000000",
    "2020-02-30_000000",
    "2021-04-31_120000",
    "0999-12-31_235959",
    "",
  ])("%j is not a timestamp", (text) => {
    expect(isTimestamp(text)).toBe(false)
  })
})

describe("backup file names", () => {
  it("names the two files like the restore procedure expects", () => {
    expect(backupFileNames("2021-06-25_190035", false)).toEqual({
      snapshot: "snapshot_2021-06-25_190035.db",
      resources: "static_kuberesources_2021-06-25_190035.tar.gz",
    })
    expect(backupFileNames("2021-06-25_190035", true)).toEqual({
      snapshot: `snapshot_2021-06-25_190035${dirtyMarker}.db`,
      resources: `static_kuberesources_2021-06-25_190035${dirtyMarker}.tar.gz`,
    })
    expect(manifestFileName).toBe("backup-manifest.json")
  })

  test.prop([secondArb, fc.boolean()], { numRuns: 300 })("both names parse back to their kind, timestamp and dirtiness", (at, dirty) => {
    const timestamp = formatBackupTimestamp(at)
    const names = backupFileNames(timestamp, dirty)
    expect(parseBackupFileName(names.snapshot)).toEqual({ kind: "snapshot", timestamp, dirty })
    expect(parseBackupFileName(names.resources)).toEqual({ kind: "resources", timestamp, dirty })
  })

  test.prop([secondArb, secondArb, fc.boolean()], { numRuns: 300 })("clean names sort chronologically", (a, b, snapshot) => {
    const pick = (at: Date) => backupFileNames(formatBackupTimestamp(at), false)[snapshot ? "snapshot" : "resources"]
    expect(pick(a) < pick(b)).toBe(formatBackupTimestamp(a) < formatBackupTimestamp(b))
  })

  it.each([
    "snapshot_2021-06-25_190035.db.part",
    "snapshot_2021-06-25_190035.DB",
    "snapshot_2021-13-25_190035.db",
    "static_kuberesources_2021-06-25_190035.tar",
    "static_kuberesources_2021-06-25_190035__DIRTY__.tar.gz",
    "backup-manifest.json",
    "../snapshot_2021-06-25_190035.db",
    "",
  ])("%j is not a backup file", (name) => {
    expect(parseBackupFileName(name)).toBeUndefined()
  })

  /** A real name with one character replaced, inserted or deleted. */
  const nearNameArb = fc
    .tuple(
      secondArb,
      fc.boolean(),
      fc.constantFrom("snapshot", "resources") as fc.Arbitrary<"snapshot" | "resources">,
      fc.nat(),
      fc.constantFrom("0", "9", "_", "-", ".", "/", "a", "Z", ""),
      fc.boolean(),
    )
    .map(([at, dirty, kind, pos, ch, insert]) => {
      const name = backupFileNames(formatBackupTimestamp(at), dirty)[kind]
      const i = pos % name.length
      return name.slice(0, i) + ch + name.slice(insert ? i : i + 1)
    })

  test.prop([nearNameArb], { numRuns: 500 })("anything parsed is exactly a name backupFileNames writes", (name) => {
    const parsed = parseBackupFileName(name)
    if (parsed !== undefined) expect(backupFileNames(parsed.timestamp, parsed.dirty)[parsed.kind]).toBe(name)
  })

  test.prop([fc.stringMatching(/^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{6}$/)], { numRuns: 500 })(
    "every accepted timestamp names one real second and formats back to itself",
    (ts) => {
      if (isTimestamp(ts)) expect(formatBackupTimestamp(parseBackupTimestamp(ts))).toBe(ts)
    },
  )
})

describe("names under GNU version sort (how OpenShift's restore picks the last backup)", () => {
  test.prop([fc.uniqueArray(fc.tuple(secondArb, fc.boolean()), { minLength: 2, maxLength: 8, selector: ([at]) => formatBackupTimestamp(at) })], {
    numRuns: 40,
  })("sort -V puts the newest snapshot and tarball last, dirty or not", (backups) => {
    const newest = formatBackupTimestamp(backups.map(([at]) => at).reduce((a, b) => (a > b ? a : b)))
    for (const kind of ["snapshot", "resources"] as const) {
      const names = backups.map(([at, dirty]) => backupFileNames(formatBackupTimestamp(at), dirty)[kind])
      const sorted = execFileSync("sort", ["-V"], { input: `${names.join("\n")}\n`, encoding: "utf8" })
        .trim()
        .split("\n")
      expect(parseBackupFileName(sorted.at(-1)!)?.timestamp).toBe(newest)
    }
  })
})
