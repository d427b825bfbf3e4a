import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { backupFileNames } from "../../src/domain/archive-names.ts"
import {
  classifyBackupDir,
  formatAge,
  removalVerdict,
  type BackupDirNames,
  type DirEntry,
  type DirListing,
  type ManifestClaim,
  type RemovalEvidence,
} from "../../src/domain/backup-dir-contents.ts"
import { operandNames } from "../../src/domain/operands.ts"

const names: BackupDirNames = {
  recordDir: ".cluster-backup",
  manifest: "backup-manifest.json",
  manifestCompanions: ["backup-manifest.json.sig", "verification.json"],
  snapshotRecord: "snapshot.json",
  resourcesRecords: operandNames.map((o) => `resources-${o}.json`),
  stagingTree: "staging",
  lockFile: "run.lock",
}
const stamps = ["2026-01-01_000000", "2026-01-02_120000", "2026-02-03_235959"] as const
const rootNames = [
  ...stamps.flatMap((ts) => {
    const clean = backupFileNames(ts, false)
    const dirty = backupFileNames(ts, true)
    return [clean.snapshot, clean.resources, dirty.snapshot, dirty.resources, `${clean.snapshot}.part`, `${dirty.resources}.part`]
  }),
  "backup-manifest.json",
  "backup-manifest.json.sig",
  "verification.json",
  "backup-manifest.json.tmp-123",
  ".cluster-backup",
  "NOTES.txt",
  "snapshot_2026-13-01_000000.db",
  "snapshot_2026-01-01_000000.db.bak",
  "sub",
]
const recordNames = [
  "snapshot.json",
  "snapshot.json.tmp-9",
  "resources-etcd.json",
  "resources-kube-apiserver.json.tmp-77",
  "staging",
  "building",
  "run.lock",
  "run.lock.new-12-ab12cd34",
  "mine.txt",
]
const entryArb = (pool: ReadonlyArray<string>) =>
  fc.uniqueArray(
    fc.record({
      name: fc.constantFrom(...pool),
      type: fc.constantFrom("File", "File", "File", "Directory", "Other") as fc.Arbitrary<DirEntry["type"]>,
      bytes: fc.integer({ min: 0, max: 50 }),
    }),
    { selector: (e) => e.name, maxLength: pool.length },
  )
const claimArb: fc.Arbitrary<ManifestClaim> = fc.oneof(
  fc.constant({ _tag: "Absent" as const }),
  fc.constant({ _tag: "Invalid" as const, problem: "not JSON" }),
  fc
    .record({ ts: fc.constantFrom(...stamps), dirty: fc.boolean(), s: fc.integer({ min: 0, max: 50 }), r: fc.integer({ min: 0, max: 50 }) })
    .map(({ ts, dirty, s, r }) => {
      const n = backupFileNames(ts, dirty)
      return { _tag: "Describes" as const, timestamp: ts, snapshot: { name: n.snapshot, size: s }, resources: { name: n.resources, size: r } }
    }),
)
const listingArb: fc.Arbitrary<DirListing> = fc
  .record({
    entries: entryArb(rootNames),
    record: entryArb(recordNames),
    manifest: claimArb,
    recordTs: fc.option(fc.constantFrom(...stamps), { nil: undefined }),
  })
  .map(({ entries, record, manifest, recordTs }) => {
    const hasRecordDir = entries.some((e) => e.name === ".cluster-backup" && e.type === "Directory")
    return { entries, recordDirEntries: hasRecordDir ? record : undefined, manifest, snapshotRecordTimestamp: recordTs }
  })

const everyPath = (l: DirListing) => [
  ...l.entries.filter((e) => !(e.name === ".cluster-backup" && l.recordDirEntries !== undefined)).map((e) => e.name),
  ...(l.recordDirEntries ?? []).map((e) => `.cluster-backup/${e.name}`),
]

describe("classifyBackupDir", () => {
  test.prop([listingArb], { numRuns: 500 })("accounts for every entry exactly once: a backup's file, a leftover, an internal or a foreign file", (l) => {
    const c = classifyBackupDir(l, names)
    const seen = [...c.groups.flatMap((g) => g.files), ...c.leftovers.map((x) => x.path), ...c.internals, ...c.foreign].sort()
    expect(seen).toEqual(everyPath(l).sort())
  })

  test.prop([listingArb], { numRuns: 500 })(
    "never claims a name that is not this project's, nor anything that is not a regular file (but its staging trees)",
    (l) => {
      const c = classifyBackupDir(l, names)
      const claimed = [...c.groups.flatMap((g) => g.files), ...c.leftovers.map((x) => x.path), ...c.internals]
      for (const p of claimed) expect(p).not.toMatch(/NOTES|mine\.txt|\.bak$|2026-13|^sub$/)
      const typeOf = new Map([
        ...l.entries.map((e) => [e.name, e.type] as const),
        ...(l.recordDirEntries ?? []).map((e) => [`.cluster-backup/${e.name}`, e.type] as const),
      ])
      for (const p of [...c.groups.flatMap((g) => g.files), ...c.internals]) expect(typeOf.get(p)).toBe("File")
      for (const x of c.leftovers) expect(typeOf.get(x.path)).toBe(x.tree ? "Directory" : "File")
    },
  )

  test.prop([listingArb], { numRuns: 500 })(
    "a backup is verified exactly when the manifest names its one snapshot and one tarball with their sizes; at most one is",
    (l) => {
      const c = classifyBackupDir(l, names)
      const file = new Map(l.entries.filter((e) => e.type === "File").map((e) => [e.name, e.bytes]))
      for (const g of c.groups) {
        const m = l.manifest
        const matches =
          m._tag === "Describes" &&
          file.has("backup-manifest.json") &&
          m.timestamp === g.timestamp &&
          file.get(m.snapshot.name) === m.snapshot.size &&
          file.get(m.resources.name) === m.resources.size &&
          g.files.filter((f) => /^(snapshot|static)/.test(f)).length === 2
        expect(g.status === "verified", JSON.stringify({ g, m })).toBe(matches)
        expect(g.status === "incomplete").toBe(
          g.files.filter((f) => f.startsWith("snapshot_")).length !== 1 || g.files.filter((f) => f.startsWith("static_")).length !== 1,
        )
      }
      expect(c.groups.filter((g) => g.status === "verified").length).toBeLessThanOrEqual(1)
    },
  )

  test.prop([listingArb], { numRuns: 300 })(
    "a backup's deletion cut short after any file leaves remains the next run classifies as incomplete (or nothing), never a backup",
    (l) => {
      for (const g of classifyBackupDir(l, names).groups.filter((x) => x.status !== "incomplete")) {
        for (let k = 1; k <= g.files.length; k++) {
          const gone = new Set(g.files.slice(0, k))
          const cut: DirListing = {
            entries: l.entries.filter((e) => !gone.has(e.name)),
            recordDirEntries: l.recordDirEntries?.filter((e) => !gone.has(`.cluster-backup/${e.name}`)),
            manifest: gone.has("backup-manifest.json") ? { _tag: "Absent" } : l.manifest,
            snapshotRecordTimestamp: gone.has(".cluster-backup/snapshot.json") ? undefined : l.snapshotRecordTimestamp,
          }
          const again = classifyBackupDir(cut, names).groups.find((x) => x.timestamp === g.timestamp)
          if (again !== undefined) expect(again.status).toBe("incomplete")
        }
      }
    },
  )

  it("sees the remains of a backup whose snapshot went, and a manifest whose files went", () => {
    const c = classifyBackupDir(
      {
        entries: [
          { name: "static_kuberesources_2026-01-01_000000.tar.gz", type: "File", bytes: 5 },
          { name: "backup-manifest.json", type: "File", bytes: 3 },
        ],
        recordDirEntries: undefined,
        manifest: {
          _tag: "Describes",
          timestamp: "2026-01-02_120000",
          snapshot: { name: "snapshot_2026-01-02_120000.db", size: 1 },
          resources: { name: "static_kuberesources_2026-01-02_120000.tar.gz", size: 1 },
        },
        snapshotRecordTimestamp: undefined,
      },
      names,
    )
    expect(c.groups).toEqual([
      {
        timestamp: "2026-01-01_000000",
        status: "incomplete",
        detail: "its snapshot is missing",
        bytes: 5,
        files: ["static_kuberesources_2026-01-01_000000.tar.gz"],
      },
    ])
    expect(c.leftovers.map((x) => x.what)).toEqual(["manifest of backup 2026-01-02_120000, whose files are gone"])
  })
  it("counts the manifest's signature and verify's report part of the backup the manifest describes, or of its remains, never a file prune does not own", () => {
    const files = backupFileNames("2026-01-02_120000", false)
    const companions = ["backup-manifest.json.sig", "verification.json"]
    const listing = (backup: ReadonlyArray<string>): DirListing => ({
      entries: [...backup, "backup-manifest.json", ...companions].map((name) => ({ name, type: "File" as const, bytes: 1 })),
      recordDirEntries: undefined,
      manifest: {
        _tag: "Describes",
        timestamp: "2026-01-02_120000",
        snapshot: { name: files.snapshot, size: 1 },
        resources: { name: files.resources, size: 1 },
      },
      snapshotRecordTimestamp: undefined,
    })
    // Before, prune removed the backup and kept its directory for the signature and the report, "files prune does not own".
    const whole = classifyBackupDir(listing([files.snapshot, files.resources]), names)
    expect(whole.foreign).toEqual([])
    expect(whole.groups.map((g) => [g.status, g.files])).toEqual([["verified", [files.snapshot, files.resources, ...companions, "backup-manifest.json"]]])
    const gone = classifyBackupDir(listing([]), names)
    expect(gone.foreign).toEqual([])
    expect(gone.leftovers.map((x) => x.path)).toEqual([...companions, "backup-manifest.json"])
    const unreadable = classifyBackupDir({ ...listing([files.snapshot, files.resources]), manifest: { _tag: "Invalid", problem: "not JSON" } }, names)
    expect(unreadable.foreign).toEqual([])
    expect(unreadable.internals).toEqual([...companions, "backup-manifest.json"])
  })

  it("counts a killed upload's ciphertext of the manifest's files as a leftover, a downloaded backup's .age and a user's file of another name not", () => {
    const files = backupFileNames("2026-01-02_120000", false)
    const listing = (encrypted: boolean): DirListing => ({
      entries: [files.snapshot, files.resources, "backup-manifest.json", `${files.snapshot}.age`, `${files.resources}.age.part`, "mine.db.age"].map((name) => ({
        name,
        type: "File" as const,
        bytes: 1,
      })),
      recordDirEntries: undefined,
      manifest: {
        _tag: "Describes",
        timestamp: "2026-01-02_120000",
        snapshot: { name: files.snapshot, size: 1, ...(encrypted ? { encrypted: { name: `${files.snapshot}.age`, size: 1 } } : {}) },
        resources: { name: files.resources, size: 1 },
      },
      snapshotRecordTimestamp: undefined,
    })
    const plain = classifyBackupDir(listing(false), names)
    expect(plain.leftovers.map((x) => [x.path, x.what])).toEqual([
      [`${files.snapshot}.age`, "age ciphertext of an interrupted backup-upload"],
      [`${files.resources}.age.part`, "age ciphertext of an interrupted backup-upload"],
    ])
    expect(plain.foreign).toEqual(["mine.db.age"])
    const downloaded = classifyBackupDir(listing(true), names)
    expect(downloaded.leftovers.map((x) => x.path)).toEqual([`${files.resources}.age.part`])
    expect(downloaded.foreign).toEqual([`${files.snapshot}.age`, "mine.db.age"])
  })

  it("counts a directory store's backup (the store's manifest beside the age-encrypted files it records) as the backup, not as a manifest whose files are gone", () => {
    const files = backupFileNames("2026-01-02_120000", false)
    const stored = [`${files.snapshot}.age`, `${files.resources}.age`]
    const listing = (entries: ReadonlyArray<string>, snapshotAgeSize = 7): DirListing => ({
      entries: entries.map((name) => ({ name, type: "File" as const, bytes: name.endsWith(".age") ? 7 : 3 })),
      recordDirEntries: undefined,
      manifest: {
        _tag: "Describes",
        timestamp: "2026-01-02_120000",
        snapshot: { name: files.snapshot, size: 3, encrypted: { name: stored[0]!, size: snapshotAgeSize } },
        resources: { name: files.resources, size: 3, encrypted: { name: stored[1]!, size: 7 } },
      },
      snapshotRecordTimestamp: undefined,
    })
    // Before, prune removed the manifest as "manifest of backup ..., whose files are gone" and kept the .age files as not its own.
    const store = classifyBackupDir(listing([...stored, "backup-manifest.json.sig", "backup-manifest.json"]), names)
    expect(store.leftovers).toEqual([])
    expect(store.foreign).toEqual([])
    expect(store.groups.map((g) => [g.status, g.bytes, g.files])).toEqual([["verified", 20, [...stored, "backup-manifest.json.sig", "backup-manifest.json"]]])
    expect(classifyBackupDir(listing([...stored, "backup-manifest.json"], 8), names).groups.map((g) => [g.status, g.detail])).toEqual([
      ["unverified", `backup-manifest.json gives ${stored[0]} 8 bytes, the file has 7`],
    ])
    // The snapshot's ciphertext alone: the remains of a backup, snapshot first as always.
    expect(classifyBackupDir(listing([stored[1]!, "backup-manifest.json"]), names).groups.map((g) => [g.status, g.files])).toEqual([
      ["incomplete", [stored[1], "backup-manifest.json"]],
    ])
    // A download beside its ciphertext: the plaintext is the backup, the .age is not prune's.
    const both = classifyBackupDir(listing([files.snapshot, files.resources, stored[0]!, "backup-manifest.json"]), names)
    expect(both.groups.map((g) => [g.status, g.files])).toEqual([["verified", [files.snapshot, files.resources, "backup-manifest.json"]]])
    expect(both.foreign).toEqual([stored[0]])
  })
})

const now = Date.parse("2026-06-01T00:00:00Z")
const day = 86_400_000
const evidenceArb: fc.Arbitrary<RemovalEvidence> = fc.record({
  newestAt: fc.integer({ min: now - 400 * day, max: now + 2 * day }),
  holdsFiles: fc.boolean(),
  deadRun: fc.boolean(),
})
const graceArb = fc.oneof(fc.constant(0), fc.constant(day), fc.integer({ min: 0, max: 30 * day }))

describe("removalVerdict", () => {
  test.prop([evidenceArb, graceArb], { numRuns: 1000 })(
    "never removes anything holding a file modified within the grace period unless a stale lock proves a dead run left it",
    (e, graceMs) => {
      const v = removalVerdict(e, now, graceMs, "the grace")
      // A modification time in the future counts as now.
      if (e.holdsFiles && !e.deadRun && Math.max(0, now - e.newestAt) < graceMs) expect(v._tag).toBe("Keep")
    },
  )

  test.prop([evidenceArb, graceArb], { numRuns: 1000 })(
    "removes a dead run's leftovers at once whatever their age, and anything the grace has passed over",
    (e, graceMs) => {
      const v = removalVerdict(e, now, graceMs, "the grace")
      if (e.deadRun || !e.holdsFiles || Math.max(0, now - e.newestAt) >= graceMs) expect(v._tag).toBe("Remove")
    },
  )

  test.prop([evidenceArb], { numRuns: 300 })("a grace of 0 removes everything, a modification time in the future included", (e) => {
    expect(removalVerdict(e, now, 0, "0ms")._tag).toBe("Remove")
  })

  it("says how old it is, why it is kept and how to have it removed", () => {
    const v = removalVerdict({ newestAt: now - 3 * 60_000 - 5000, holdsFiles: true, deadRun: false }, now, day, "24h")
    expect(v).toEqual({
      _tag: "Keep",
      ageMs: 185_000,
      reason: "kept: modified 3 min ago, may be a copy in progress; prune removes it after 24h or with --leftover-grace 0",
    })
    expect(removalVerdict({ newestAt: now - 2 * day, holdsFiles: true, deadRun: false }, now, day, "24h")).toEqual({ _tag: "Remove", because: "old enough" })
    expect(removalVerdict({ newestAt: now, holdsFiles: true, deadRun: true }, now, day, "24h")).toEqual({ _tag: "Remove", because: "a dead run's" })
    expect(removalVerdict({ newestAt: now, holdsFiles: false, deadRun: false }, now, day, "24h")).toEqual({ _tag: "Remove", because: "no file" })
    expect([formatAge(-5), formatAge(40_000), formatAge(3 * 3_600_000), formatAge(50 * 3_600_000)]).toEqual(["0 s", "40 s", "3 h", "2 days"])
  })
})
