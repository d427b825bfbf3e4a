import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { backupFileNames, formatBackupTimestamp, manifestFileName } from "../../src/domain/archive-names.ts"
import { downloadLeftovers, isDownloadLeftover } from "../../src/domain/download-leftovers.ts"
import { signatureFileName } from "../../src/domain/manifest-signature-file.ts"

const leftoverSuffixes = [".download", ".download.part", ".age", ".age.download", ".age.download.part", ".part", ".part.part"]
const instantArb = fc.integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2100, 0, 1) / 1000 }).map((s) => new Date(s * 1000))
/** A file a download writes: a backup's snapshot or tarball, its manifest, the manifest's signature. */
const downloadedArb = fc.oneof(
  fc.tuple(instantArb, fc.boolean(), fc.boolean()).map(([at, dirty, snap]) => {
    const names = backupFileNames(formatBackupTimestamp(at), dirty)
    return snap ? names.snapshot : names.resources
  }),
  fc.constantFrom(manifestFileName, signatureFileName),
)
const suffixArb = fc.oneof(
  fc.constantFrom(...leftoverSuffixes),
  fc.integer({ min: 1, max: 4194304 }).map((pid) => `.tmp-${pid}`),
)

describe("a killed download's leftovers", () => {
  test.prop([downloadedArb, suffixArb])("every name a download writes before its rename is recognised, for its file", (file, suffix) => {
    expect(isDownloadLeftover(`${file}${suffix}`)).toBe(true)
    expect(downloadLeftovers([`${file}${suffix}`, file, "other"], file)).toEqual([`${file}${suffix}`])
  })

  test.prop([downloadedArb])("a downloaded file itself is not a leftover", (file) => {
    expect(isDownloadLeftover(file)).toBe(false)
  })

  test.prop([fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/), suffixArb])("a person's file with a leftover's suffix is not one", (stem, suffix) => {
    fc.pre(stem !== manifestFileName && stem !== signatureFileName && !/^(snapshot_|static_kuberesources_)/.test(stem))
    expect(isDownloadLeftover(`${stem}${suffix}`)).toBe(false)
  })

  test.prop([downloadedArb, fc.constantFrom(".bak", ".tmp-", ".tmp-x", ".age.bak", ".part.part.part", ".orig")])(
    "other suffixes on a downloaded file are not leftovers",
    (file, suffix) => {
      expect(isDownloadLeftover(`${file}${suffix}`)).toBe(false)
    },
  )

  it("a leftover of one file is not another's", () => {
    const { snapshot, resources } = backupFileNames("2026-12-05_114820", false)
    expect(downloadLeftovers([`${snapshot}.part`, `${resources}.age`], resources)).toEqual([`${resources}.age`])
  })
})
