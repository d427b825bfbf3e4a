import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { backupFileNames, formatBackupTimestamp, manifestFileName, parseBackupFileName } from "../../src/domain/archive-names.ts"
import { backupDirectoryLeftover, manifestFilesOf, recordDirectoryLeftover, runLockTempPid } from "../../src/domain/backup-leftovers.ts"
import { operandNames } from "../../src/domain/operands.ts"

const timestampArb = fc
  .integer({ min: Date.UTC(1000, 0, 1) / 1000, max: Date.UTC(9999, 11, 31, 23, 59, 59) / 1000 })
  .map((s) => formatBackupTimestamp(new Date(s * 1000)))
const tempIdArb = fc.oneof(fc.integer({ min: 1, max: 4_194_304 }).map(String), fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/))
const recordFileArb = fc.constantFrom("snapshot.json", ...operandNames.map((n) => `resources-${n}.json`))

describe("leftovers of killed runs, by name", () => {
  test.prop([timestampArb, fc.boolean()], { numRuns: 200 })("a backup file is never a leftover; its .part is", (ts, dirty) => {
    const names = backupFileNames(ts, dirty)
    expect(backupDirectoryLeftover(names.snapshot)).toBeUndefined()
    expect(backupDirectoryLeftover(names.resources)).toBeUndefined()
    expect(backupDirectoryLeftover(`${names.snapshot}.part`)).toBe("partial snapshot")
    expect(backupDirectoryLeftover(`${names.resources}.part`)).toBe("partial tarball")
  })

  test.prop([timestampArb, fc.boolean(), fc.boolean(), fc.string({ maxLength: 40 })], { numRuns: 300 })(
    "an upload's ciphertext is a leftover only beside a file of the manifest: <file>.age.part always, <file>.age unless the manifest records it",
    (ts, dirty, encrypted, other) => {
      const names = backupFileNames(ts, dirty)
      const files = manifestFilesOf({
        snapshot: { name: names.snapshot, ...(encrypted ? { encrypted: { name: `${names.snapshot}.age` } } : {}) },
        resources: { name: names.resources },
      })
      expect(backupDirectoryLeftover(`${names.snapshot}.age.part`, files)).toBe("encrypted copy of an upload")
      expect(backupDirectoryLeftover(`${names.resources}.age`, files)).toBe("encrypted copy of an upload")
      // A downloaded backup's own object.
      expect(backupDirectoryLeftover(`${names.snapshot}.age`, files)).toBe(encrypted ? undefined : "encrypted copy of an upload")
      // Without the manifest's word, no ciphertext is recognised; nor any name that is not one of its files' with the suffix.
      expect(backupDirectoryLeftover(`${names.resources}.age`)).toBeUndefined()
      const kind = backupDirectoryLeftover(other, files)
      if (kind === "encrypted copy of an upload") expect([names.snapshot, names.resources].map((n) => other.startsWith(`${n}.age`))).toContain(true)
      expect(backupDirectoryLeftover(`${other}.age`, files) === "encrypted copy of an upload").toBe(
        (!encrypted && other === names.snapshot) || other === names.resources,
      )
    },
  )

  test.prop([tempIdArb, recordFileArb], { numRuns: 200 })("the manifest and the records are never leftovers; their atomic-write temps are", (id, record) => {
    expect(backupDirectoryLeftover(manifestFileName)).toBeUndefined()
    expect(backupDirectoryLeftover(`${manifestFileName}.tmp-${id}`)).toBe("unfinished atomic write")
    expect(recordDirectoryLeftover(record)).toBeUndefined()
    expect(recordDirectoryLeftover(`${record}.tmp-${id}`)).toBe("unfinished atomic write")
    // Each directory's names only: a record's temp beside the backup files is not this product's.
    expect(backupDirectoryLeftover(`${record}.tmp-${id}`)).toBeUndefined()
    expect(recordDirectoryLeftover(`${manifestFileName}.tmp-${id}`)).toBeUndefined()
  })

  test.prop([fc.string({ maxLength: 60 })], { numRuns: 1000 })("whatever is recognised is a product file's name with a leftover suffix", (name) => {
    const kind = backupDirectoryLeftover(name)
    if (kind === "partial snapshot" || kind === "partial tarball") expect(parseBackupFileName(name.replace(/\.part$/, ""))).toBeDefined()
    if (kind === "unfinished atomic write")
      expect([manifestFileName, "backup-manifest.json.sig", "verification.json"]).toContain(name.replace(/\.tmp-[^.]*$/, ""))
    const inRecords = recordDirectoryLeftover(name)
    if (inRecords === "unfinished atomic write") expect(name.replace(/\.tmp-[^.]*$/, "")).toMatch(/^(snapshot|resources-[a-z-]+)\.json$/)
    if (inRecords === "revision tree being built") expect(name).toBe("building")
  })

  test.prop([tempIdArb, fc.constantFrom("backup-manifest.json.sig", "verification.json")], { numRuns: 100 })(
    "the manifest's signature and verify's report are never leftovers; their atomic-write temps (a killed backup-create or verify --report-out) are",
    (id, file) => {
      expect(backupDirectoryLeftover(file)).toBeUndefined()
      expect(backupDirectoryLeftover(`${file}.tmp-${id}`)).toBe("unfinished atomic write")
      expect(recordDirectoryLeftover(`${file}.tmp-${id}`)).toBeUndefined()
    },
  )

  it.each([
    "NOTES.txt",
    "snapshot_2021-06-25_190035.db",
    "snapshot_2021-02-30_190035.db.part",
    "snapshot_latest.db.part",
    "backup-manifest.json",
    "backup-manifest.json.tmp-",
    "backup-manifest.json.bak",
    "my-file.tmp-123",
    "static_kuberesources_2021-06-25_190035.tar.gz.partial",
  ])("%j in a backup directory is not a leftover", (name) => {
    expect(backupDirectoryLeftover(name)).toBeUndefined()
  })

  it.each(["staging", "run.lock", "snapshot.json", "resources-etcd.json", "resources-unknown.json.tmp-1", "notes.json.tmp-12"])(
    "%j in the record directory is not a leftover",
    (name) => {
      expect(recordDirectoryLeftover(name)).toBeUndefined()
    },
  )

  it("building/ in the record directory is", () => {
    expect(recordDirectoryLeftover("building")).toBe("revision tree being built")
  })
  test.prop([fc.integer({ min: 1, max: 4_194_304 }), fc.constantFrom("new", "stale"), fc.stringMatching(/^[0-9a-f]{1,16}$/)], { numRuns: 200 })(
    "the run lock's temporary files name the PID that made them; the lock itself and other names do not",
    (pid, kind, hex) => {
      expect(runLockTempPid(`run.lock.${kind}-${pid}-${hex}`)).toBe(pid)
      expect(runLockTempPid("run.lock")).toBeUndefined()
      expect(runLockTempPid(`run.lock.${kind}-${pid}`)).toBeUndefined()
      expect(runLockTempPid(`other.lock.${kind}-${pid}-${hex}`)).toBeUndefined()
      expect(runLockTempPid(`run.lock.${kind}-0${pid}-${hex}`)).toBeUndefined()
    },
  )
})
