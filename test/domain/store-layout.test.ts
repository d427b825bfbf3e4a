import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { BackupTimestamp, formatBackupTimestamp, manifestFileName } from "../../src/domain/archive-names.ts"
import {
  backupCompleteness,
  BackupId,
  deeperBackupPrefixes,
  elsewhereBackupsHint,
  holdsOwnBackupManifest,
  ownBackupHint,
  parentPrefix,
  defaultPrefix,
  emptyListing,
  compareKeys,
  foldListingPage,
  activityDecides,
  emptyFolderIdleMs,
  garbage,
  leftEmptyFolders,
  mayBeLive,
  normalizePrefix,
  objectKey,
  parseObjectKey,
  StorePrefix,
  type BackupCompleteness,
  type BackupObjects,
  type DescribedFile,
  type ListingState,
  type PendingUpload,
  type StoredObject,
} from "../../src/domain/store-layout.ts"

const segmentChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~+=@-".split("")
const segmentArb = fc
  .array(fc.constantFrom(...segmentChars), { minLength: 1, maxLength: 24 })
  .map((cs) => cs.join(""))
  .filter((s) => s !== "." && s !== "..")
const prefixArb = fc.array(segmentArb, { maxLength: 4 }).map((ss) => ss.join("/"))
const sha = (n: number) => n.toString(16).padStart(64, "0")

describe("keys", () => {
  test.prop([prefixArb, segmentArb, segmentArb])("a backup file's key parses back to its id and file under its prefix", (prefix, id, file) => {
    expect(Schema.is(StorePrefix)(prefix)).toBe(true)
    expect(Schema.is(BackupId)(id)).toBe(true)
    expect(parseObjectKey(prefix, objectKey(prefix, id, file))).toEqual({ id, file })
  })

  test.prop([prefixArb, segmentArb, segmentArb, segmentArb])(
    "another cluster's prefix never claims the key, even when it is a string prefix of it",
    (prefix, tail, id, file) => {
      const other = prefix === "" ? tail : `${prefix}${tail}`
      expect(parseObjectKey(prefix, objectKey(other, id, file))).toBeUndefined()
    },
  )

  it("deeper or shallower keys are not this layout's", () => {
    expect(parseObjectKey("p", "p/id/sub/file")).toBeUndefined()
    expect(parseObjectKey("p", "p/file")).toBeUndefined()
    expect(parseObjectKey("p", "p/../x")).toBeUndefined()
    expect(parseObjectKey("", "id/file")).toEqual({ id: "id", file: "file" })
  })

  it("the default prefix holds the cluster's identity; typed prefixes are normalised", () => {
    expect(defaultPrefix("8a3f1c2e-0000-4000-8000-000000000001")).toBe("cluster-backup/8a3f1c2e-0000-4000-8000-000000000001")
    expect(normalizePrefix("/a//b/")).toBe("a/b")
    expect(Schema.is(StorePrefix)("a/../b")).toBe(false)
    expect(Schema.is(StorePrefix)("/a")).toBe(false)
    expect(Schema.is(BackupId)("a/b")).toBe(false)
  })
})

const filesArb: fc.Arbitrary<ReadonlyArray<DescribedFile>> = fc
  .uniqueArray(
    segmentArb.filter((s) => s !== manifestFileName),
    { minLength: 1, maxLength: 3 },
  )
  .chain((names) => fc.tuple(...names.map((name) => fc.record({ name: fc.constant(name), size: fc.nat({ max: 1 << 30 }), sha256: fc.nat().map(sha) }))))

const storedAs = (id: string, files: ReadonlyArray<DescribedFile>, withSha: boolean): BackupObjects => ({
  id,
  objects: [
    ...files.map((f) => ({ key: `p/${id}/${f.name}`, file: f.name, size: f.size, modifiedAt: 1000, sha256: withSha ? f.sha256 : undefined })),
    { key: `p/${id}/${manifestFileName}`, file: manifestFileName, size: 100, modifiedAt: 2000 },
  ],
})

describe("backups deeper than the prefix listed", () => {
  test.prop([prefixArb, fc.array(segmentArb, { minLength: 1, maxLength: 3 }), fc.uniqueArray(segmentArb, { minLength: 1, maxLength: 4 }), segmentArb])(
    "each manifest at <prefix>/<deeper>/<id>/ counts for <prefix>/<deeper>; the prefix's own backups and other files do not",
    (prefix, deeperSegments, ids, file) => {
      const deeper = `${prefix === "" ? "" : `${prefix}/`}${deeperSegments.join("/")}`
      const keys = [
        ...ids.map((id) => objectKey(deeper, id, manifestFileName)),
        ...ids.map((id) => objectKey(prefix, id, manifestFileName)),
        ...(file === manifestFileName ? [] : ids.map((id) => objectKey(deeper, id, file))),
      ]
      expect(deeperBackupPrefixes(prefix, keys)).toEqual([{ prefix: deeper, manifests: ids.length }])
    },
  )

  test.prop([prefixArb, segmentArb, segmentArb])("keys under another prefix, or with a segment the layout refuses, count for none", (prefix, tail, id) => {
    const other = prefix === "" ? "" : `${prefix}${tail}/`
    expect(deeperBackupPrefixes(prefix, prefix === "" ? [] : [`${other}x/${id}/${manifestFileName}`])).toEqual([])
    expect(deeperBackupPrefixes(prefix, [`${prefix === "" ? "" : `${prefix}/`}a/../${id}/${manifestFileName}`])).toEqual([])
  })

  test.prop([prefixArb, segmentArb])("one segment up from a prefix, and none from the root", (prefix, last) => {
    expect(parentPrefix(prefix === "" ? last : `${prefix}/${last}`)).toBe(prefix)
    expect(parentPrefix("")).toBeUndefined()
  })

  test.prop([prefixArb, segmentArb, segmentArb])(
    "a manifest right under the prefix makes it a backup's own directory: the hint names the prefix above it and the ID",
    (prefix, id, other) => {
      const own = prefix === "" ? id : `${prefix}/${id}`
      expect(holdsOwnBackupManifest(own, [objectKey(prefix, id, manifestFileName)])).toBe(true)
      expect(holdsOwnBackupManifest(own, [objectKey(own, other, manifestFileName), `${own}/${other}`])).toBe(other === manifestFileName)
      expect(ownBackupHint("s3://b", own)).toBe(
        `no backup under ${own}/ in s3://b: it is a backup's own directory, backup ${id} of the store's backups under --prefix ${prefix === "" ? '""' : prefix}`,
      )
      expect(holdsOwnBackupManifest("", [manifestFileName])).toBe(true)
    },
  )

  it("the hint names where they are (five at most), and --cluster-id where the prefix is the default one", () => {
    const hint = elsewhereBackupsHint("/mnt/store", "", "deeper", [{ prefix: "cluster-backup/5f1c", manifests: 3 }])
    expect(hint).toBe(
      "no backup at the root of /mnt/store, but backups lie deeper: under cluster-backup/5f1c/ (3 backup manifests); give --prefix cluster-backup/5f1c (or --cluster-id 5f1c) to reach them",
    )
    const many = Array.from({ length: 7 }, (_, i) => ({ prefix: `p/q${i}`, manifests: 1 }))
    expect(elsewhereBackupsHint("s3://b", "p", "beside it", many)).toBe(
      "no backup under p/ in s3://b, but backups lie beside it: under p/q0/ (1 backup manifest), p/q1/ (1 backup manifest), p/q2/ (1 backup manifest), p/q3/ (1 backup manifest), p/q4/ (1 backup manifest) and 2 more; give --prefix p/q0 to reach them",
    )
  })
})

describe("backupCompleteness", () => {
  test.prop([filesArb, fc.boolean()])("the manifest present and describing the objects beside it: complete", (files, withSha) => {
    const c = backupCompleteness(storedAs("b", files, withSha), { _tag: "Read", files })
    expect(c).toMatchObject({ _tag: "Complete", id: "b", extra: [], newestAt: 2000 })
  })

  test.prop([filesArb, fc.boolean(), fc.integer({ min: 0, max: 10_000 })])(
    "a manifest the store archived: incomplete and marked so, never garbage whatever the grace",
    (files, withSha, grace) => {
      const c = backupCompleteness(storedAs("b", files, withSha), { _tag: "Unreadable", reason: "archived", archived: true })
      expect(c).toMatchObject({ _tag: "Incomplete", unreadableManifest: true, archivedManifest: true })
      expect(garbage([c], [], 1_000_000, grace, "p").incomplete).toEqual([])
      const plain = backupCompleteness(storedAs("b", files, withSha), { _tag: "Unreadable", reason: "bad JSON" })
      expect(plain._tag === "Incomplete" && plain.archivedManifest).toBeFalsy()
    },
  )

  test.prop([filesArb, fc.nat(), fc.constantFrom("missing", "size", "sha256", "no manifest", "unreadable")])(
    "any missing object, other size, other recorded sha256 or missing manifest: incomplete, saying why",
    (files, pick, fault) => {
      const i = pick % files.length
      const target = files[i]!
      const stored = storedAs("b", files, true)
      const objects =
        fault === "missing"
          ? stored.objects.filter((o) => o.file !== target.name)
          : fault === "size"
            ? stored.objects.map((o) => (o.file === target.name ? { ...o, size: o.size + 1 } : o))
            : fault === "sha256"
              ? stored.objects.map((o) => (o.file === target.name ? { ...o, sha256: sha(0xdead) === target.sha256 ? sha(1) : sha(0xdead) } : o))
              : fault === "no manifest"
                ? stored.objects.filter((o) => o.file !== manifestFileName)
                : stored.objects
      const manifest =
        fault === "no manifest"
          ? ({ _tag: "Absent" } as const)
          : fault === "unreadable"
            ? ({ _tag: "Unreadable", reason: "bad JSON" } as const)
            : ({ _tag: "Read", files } as const)
      const c = backupCompleteness({ id: "b", objects }, manifest)
      expect(c._tag).toBe("Incomplete")
      if (c._tag === "Incomplete")
        expect(c.reasons.join("\n")).toMatch(
          fault === "no manifest"
            ? /no backup-manifest\.json/
            : fault === "unreadable"
              ? /unreadable: bad JSON/
              : new RegExp(target.name.replace(/[.+=~@-]/g, "\\$&")),
        )
    },
  )

  test.prop([
    fc.array(
      segmentArb.filter((n) => !/^(snapshot_|static_kuberesources_|backup-manifest\.json|verification\.json)/.test(n)),
      { minLength: 1, maxLength: 5 },
    ),
    fc.option(
      fc.constantFrom(
        manifestFileName,
        "backup-manifest.json.sig",
        "verification.json",
        "snapshot_2026-03-01_000000.db",
        "static_kuberesources_2026-03-01_000000__POSSIBLY_DIRTY__.tar.gz.age",
      ),
      { nil: undefined },
    ),
  ])("objects none of which backup-upload would write are another program's: incomplete, flagged foreign, never garbage", (names, ours) => {
    const objects = [...names, ...(ours === undefined ? [] : [ours])].map((file) => ({ key: `p/b/${file}`, file, size: 1, modifiedAt: 0 }))
    const c = backupCompleteness({ id: "b", objects }, { _tag: "Absent" })
    expect(c._tag).toBe("Incomplete")
    expect(c._tag === "Incomplete" && c.foreign === true).toBe(ours === undefined)
    expect(c._tag === "Incomplete" && c.reasons.some((r) => r.includes("the upload did not finish"))).toBe(ours !== undefined)
    expect(garbage([c], [], 10 * 86_400_000, 0, "p").incomplete).toHaveLength(ours === undefined ? 0 : 1)
  })

  it("objects the manifest does not name are reported, not counted against the backup", () => {
    const files = [{ name: "snapshot.db", size: 3, sha256: sha(1) }]
    const stored = storedAs("b", files, false)
    const c = backupCompleteness(
      { id: "b", objects: [...stored.objects, { key: "p/b/stray", file: "stray", size: 1, modifiedAt: 1 }] },
      { _tag: "Read", files },
    )
    expect(c).toMatchObject({ _tag: "Complete", extra: ["stray"] })
  })

  it("the other form of a file the manifest names (plain beside its .age, .age beside its plain) is a stray form prune removes; nothing else is", () => {
    const files = [
      { name: "snapshot_2026-03-01_000000.db.age", size: 3, sha256: sha(1) },
      { name: "static_kuberesources_2026-03-01_000000.tar.gz", size: 4, sha256: sha(2) },
    ]
    const stray = (file: string) => ({ key: `p/b/${file}`, file, size: 9, modifiedAt: 1 })
    const objects = [
      ...storedAs("b", files, false).objects,
      ...["snapshot_2026-03-01_000000.db", "static_kuberesources_2026-03-01_000000.tar.gz.age", "notes.txt", "notes.txt.age.age"].map(stray),
    ]
    const c = backupCompleteness({ id: "b", objects }, { _tag: "Read", files })
    expect(c).toMatchObject({
      _tag: "Complete",
      strayForms: [
        { ...stray("snapshot_2026-03-01_000000.db"), encrypted: false },
        { ...stray("static_kuberesources_2026-03-01_000000.tar.gz.age"), encrypted: true },
      ],
    })
  })

  test.prop([fc.array(fc.tuple(fc.boolean(), fc.constantFrom("other form", "not upload's", "none")), { minLength: 1, maxLength: 4 })])(
    "the stray forms are exactly the other forms of the files the manifest names; no other object is one",
    (shapes) => {
      const files = shapes.map(([encrypted], i) => ({ name: `snapshot_2026-03-01_00000${i}.db${encrypted ? ".age" : ""}`, size: 3, sha256: sha(i) }))
      const other = (name: string) => (name.endsWith(".age") ? name.slice(0, -4) : `${name}.age`)
      const expected = files.flatMap((f, i) => (shapes[i]![1] === "other form" ? [{ file: other(f.name), encrypted: !f.name.endsWith(".age") }] : []))
      // `<name>.age` of an encrypted name (`x.db.age.age`) and `<name>.bak` are no names backup-upload writes.
      const foreign = files.flatMap((f, i) => (shapes[i]![1] === "not upload's" ? [`${f.name}${f.name.endsWith(".age") ? ".age" : ".bak"}`] : []))
      const objects = [...expected.map((e) => e.file), ...foreign].map((file) => ({ key: `p/b/${file}`, file, size: 1, modifiedAt: 1 }))
      const c = backupCompleteness({ id: "b", objects: [...storedAs("b", files, false).objects, ...objects] }, { _tag: "Read", files })
      if (c._tag !== "Complete") throw new Error(`complete expected: ${JSON.stringify(c)}`)
      expect(c.strayForms.map((o) => ({ file: o.file, encrypted: o.encrypted }))).toEqual(expected)
      expect([...c.extra].sort()).toEqual([...expected.map((e) => e.file), ...foreign].sort())
    },
  )

  it("verify's record beside the manifest is part of the backup, never an extra prune removes", () => {
    const files = [{ name: "snapshot.db", size: 3, sha256: sha(1) }]
    const stored = storedAs("b", files, false)
    const c = backupCompleteness(
      { id: "b", objects: [...stored.objects, { key: "p/b/verification.json", file: "verification.json", size: 1, modifiedAt: 1 }] },
      { _tag: "Read", files },
    )
    expect(c).toMatchObject({ _tag: "Complete", extra: [] })
  })
})

const listingArb = fc
  .uniqueArray(fc.tuple(segmentArb, segmentArb), { maxLength: 40, selector: ([id, f]) => `${id}/${f}` })
  .map((pairs) => [...pairs.map(([id, f]) => `p/${id}/${f}`), "p/loose", "p/a/b/c"].sort().map((key): StoredObject => ({ key, size: 1, modifiedAt: 0 })))

const foldAll = (pages: ReadonlyArray<ReadonlyArray<StoredObject>>) => {
  let state: ListingState = emptyListing
  const backups: Array<BackupObjects> = []
  const foreign: Array<string> = []
  pages.forEach((page, i) => {
    const r = Result.getOrThrow(foldListingPage("p", state, page, i === pages.length - 1))
    state = r.state
    backups.push(...r.backups)
    foreign.push(...r.foreign)
  })
  return { backups, foreign, state }
}

describe("foldListingPage", () => {
  test.prop([listingArb, fc.array(fc.nat(), { maxLength: 8 })])(
    "any split of a sorted listing into pages gives the same backups, each once, with all its objects",
    (objects, cuts) => {
      const points = [...new Set(cuts.map((c) => c % (objects.length + 1)))].sort((a, b) => a - b)
      const pages = [0, ...points, objects.length].slice(0, -1).map((from, i, all) => objects.slice(from, all[i + 1] ?? objects.length))
      const whole = foldAll([objects])
      const paged = foldAll(pages.length === 0 ? [[]] : pages)
      expect(paged.backups).toEqual(whole.backups)
      expect(paged.foreign).toEqual(["p/a/b/c", "p/loose"])
      expect(paged.state.open).toBeUndefined()
      const ids = paged.backups.map((b) => b.id)
      expect(new Set(ids).size).toBe(ids.length)
      expect(paged.backups.flatMap((b) => b.objects.map((o) => o.key))).toEqual(objects.map((o) => o.key).filter((k) => parseObjectKey("p", k) !== undefined))
    },
  )
})

describe("compareKeys", () => {
  test.prop([fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" })])("orders keys as S3 does: by their UTF-8 bytes", (a, b) => {
    expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))))
  })

  it("differs from JavaScript's order where UTF-16 and UTF-8 disagree", () => {
    // U+FF61 is one UTF-16 unit above a surrogate pair's first; in UTF-8 (and S3) it comes before U+1F600.
    expect("\u{1F600}" < "\uFF61").toBe(true)
    expect(compareKeys("\u{1F600}", "\uFF61")).toBeGreaterThan(0)
  })
})

describe("foldListingPage on a listing out of order", () => {
  test.prop([listingArb.filter((o) => o.length >= 2), fc.nat(), fc.nat()])(
    "a key not after the one before it, on the same page or the next, fails the fold with both keys",
    (objects, i, j) => {
      const [x, y] = [i % objects.length, j % objects.length]
      fc.pre(x !== y)
      const swapped = [...objects]
      ;[swapped[x], swapped[y]] = [swapped[y]!, swapped[x]!]
      const cut = Math.min(x, y) + 1
      for (const pages of [[swapped], [swapped.slice(0, cut), swapped.slice(cut)]]) {
        let state: ListingState = emptyListing
        let failure: unknown
        for (const [n, page] of pages.entries()) {
          const r = foldListingPage("p", state, page, n === pages.length - 1)
          if (Result.isFailure(r)) {
            failure = r.failure
            break
          }
          state = r.success.state
        }
        expect(failure).toMatchObject({ previous: expect.any(String), key: expect.any(String) })
      }
    },
  )

  it("a page repeated (a server handing back the same continuation) fails at its first key", () => {
    const page = [{ key: "p/a/x", size: 1, modifiedAt: 0 }]
    const first = Result.getOrThrow(foldListingPage("p", emptyListing, page, false))
    expect(foldListingPage("p", first.state, page, false)).toEqual(Result.fail({ previous: "p/a/x", key: "p/a/x" }))
  })
})

describe("garbage", () => {
  const backupArb = fc
    .record({ complete: fc.boolean(), newestAt: fc.integer({ min: 0, max: 100 }) })
    .map(
      ({ complete, newestAt }): BackupCompleteness =>
        complete
          ? { _tag: "Complete", id: `c${newestAt}`, bytes: 1, newestAt, extra: [], strayForms: [] }
          : { _tag: "Incomplete", id: `i${newestAt}`, bytes: 1, newestAt, reasons: ["x"] },
    )
  const uploadArb = fc.record({ key: segmentArb, uploadId: segmentArb, initiatedAt: fc.integer({ min: 0, max: 100 }) })
  test.prop([fc.array(backupArb, { maxLength: 20 }), fc.array(uploadArb, { maxLength: 20 }), fc.integer({ min: 0, max: 100 })])(
    "only incomplete backups and uploads older than the grace period; never a complete backup",
    (backups, uploads: Array<PendingUpload>, grace) => {
      const now = 120
      const g = garbage(backups, uploads, now, grace, "p")
      expect(g.incomplete.every((b) => b._tag === "Incomplete" && now - b.newestAt > grace)).toBe(true)
      // Uploads of keys outside the layout (these single segments are) are another program's: none is garbage.
      expect(g.uploads).toEqual([])
      const ours = uploads.map((u) => ({ ...u, key: objectKey("p", "b", manifestFileName) }))
      const again = garbage(backups, ours, now, grace, "p")
      expect(again.uploads).toEqual(ours.filter((u) => now - u.initiatedAt > grace))
      const inProgress = new Set(ours.some((u) => now - u.initiatedAt <= grace) ? ["b"] : [])
      expect(again.incomplete).toHaveLength(backups.filter((b) => b._tag === "Incomplete" && now - b.newestAt > grace && !inProgress.has(b.id)).length)
    },
  )
  // A part or multipart upload whose writer died (a policy pod lost mid-upload) kept its room, or quota, until the grace (24 h) had passed.
  const shownArb = fc.array(
    fc.record({
      initiatedAt: fc.integer({ min: 0, max: 120 }),
      abandonedAfterMs: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
      activeAfter: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
    }),
    { maxLength: 20 },
  )
  const withKeys = (shown: ReadonlyArray<{ initiatedAt: number; abandonedAfterMs: number | undefined; activeAfter: number | undefined }>) =>
    shown.map(({ initiatedAt, abandonedAfterMs, activeAfter }, n) => ({
      key: objectKey("p", `i${n}`, manifestFileName),
      uploadId: `u${n}`,
      initiatedAt,
      abandonedAfterMs,
      lastActiveAt: activeAfter === undefined ? undefined : Math.min(120, initiatedAt + activeAfter),
    }))
  test.prop([fc.array(backupArb, { maxLength: 20 }), shownArb, fc.integer({ min: 0, max: 100 })])(
    "an upload whose writer the store shows idle for longer than a live one ever is, is garbage before the grace, and no longer keeps its backup",
    (backups, shown, grace) => {
      const now = 120
      const uploads = withKeys(shown)
      const g = garbage(backups, uploads, now, grace, "p")
      const live = (u: (typeof uploads)[number]) =>
        now - u.initiatedAt <= grace && (u.abandonedAfterMs === undefined || u.lastActiveAt === undefined || now - u.lastActiveAt <= u.abandonedAfterMs)
      expect(g.uploads).toEqual(uploads.filter((u) => !live(u)))
      const inProgress = new Set(uploads.filter(live).map((u) => u.key.split("/")[1]))
      expect(g.incomplete.map((b) => b.id)).toEqual(
        backups.filter((b) => b._tag === "Incomplete" && now - b.newestAt > grace && !inProgress.has(b.id)).map((b) => b.id),
      )
    },
  )
  test.prop([shownArb, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 120 })])(
    "an upload's activity is asked for exactly when its answer could change the verdict",
    (shown, grace, activeAt) => {
      const now = 120
      for (const u of withKeys(shown)) {
        // Told already: never asked again.
        if (u.lastActiveAt !== undefined) expect(activityDecides(u, now, grace)).toBe(false)
        const unasked = { ...u, lastActiveAt: undefined }
        const told = { ...u, lastActiveAt: Math.max(u.initiatedAt, activeAt) }
        // Asked for whenever an answer could show it dead; never when none could.
        if (mayBeLive(unasked, now, grace) !== mayBeLive(told, now, grace)) expect(activityDecides(unasked, now, grace)).toBe(true)
        if (activityDecides(unasked, now, grace)) expect(mayBeLive({ ...u, lastActiveAt: u.initiatedAt }, now, grace)).toBe(false)
      }
    },
  )
  // A directory store's `<id>/notes.txt.part` is such an upload: prune removed another program's file.
  test.prop([fc.array(backupArb, { maxLength: 20 }), fc.array(uploadArb, { maxLength: 20 }), fc.integer({ min: 0, max: 100 })])(
    "another program's uploads under a backup's id (<id>/notes.txt) are never garbage, though a young one keeps the backup",
    (backups, uploads: Array<PendingUpload>, grace) => {
      const now = 120
      const theirs = uploads.map((u) => ({ ...u, key: objectKey("p", "i50", `${u.key}.txt`) }))
      const g = garbage(backups, theirs, now, grace, "p")
      expect(g.uploads).toEqual([])
      if (theirs.some((u) => now - u.initiatedAt <= grace)) expect(g.incomplete.map((b) => b.id)).not.toContain("i50")
    },
  )
  test.prop([
    fc.array(backupArb, { maxLength: 20 }),
    fc.array(fc.record({ id: fc.integer({ min: 0, max: 100 }), initiatedAt: fc.integer({ min: 0, max: 100 }) }), { maxLength: 20 }),
    fc.integer({ min: 0, max: 100 }),
  ])("given the prefix, an incomplete backup with an upload in progress under it is never garbage", (backups, started, grace) => {
    const now = 120
    const uploads = started.map((u) => ({ key: objectKey("p", `i${u.id}`, "snapshot.db"), uploadId: "u", initiatedAt: u.initiatedAt }))
    const g = garbage(backups, uploads, now, grace, "p")
    const inProgress = new Set(started.filter((u) => now - u.initiatedAt <= grace).map((u) => `i${u.id}`))
    expect(g.incomplete.every((b) => !inProgress.has(b.id))).toBe(true)
    expect(g.incomplete).toHaveLength(backups.filter((b) => b._tag === "Incomplete" && now - b.newestAt > grace && !inProgress.has(b.id)).length)
  })
})

describe("leftEmptyFolders", () => {
  const now = 10 * emptyFolderIdleMs
  const ageArb = fc.integer({ min: 0, max: 3 * emptyFolderIdleMs })
  const timestampArb = fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true }).map(formatBackupTimestamp)
  const folderArb = fc.record({
    path: fc.array(fc.oneof(segmentArb, timestampArb), { minLength: 1, maxLength: 3 }),
    under: fc.boolean(),
    age: ageArb,
  })
  test.prop([prefixArb, fc.array(folderArb, { maxLength: 12 })])(
    "exactly the folders one segment below the prefix, unchanged for longer than the idle time, in their order",
    (prefix, drawn) => {
      const folders = drawn.map((f) => ({
        key: [...(f.under && prefix !== "" ? [prefix] : []), ...f.path].join("/"),
        modifiedAt: now - f.age,
      }))
      const left = leftEmptyFolders(folders, prefix, now)
      const expected = folders.filter((f) => {
        const rest = prefix === "" ? f.key : f.key.startsWith(`${prefix}/`) ? f.key.slice(prefix.length + 1) : undefined
        return rest !== undefined && Schema.is(BackupTimestamp)(rest) && now - f.modifiedAt > emptyFolderIdleMs
      })
      expect(left).toEqual(expected)
    },
  )
  it("the prefix's own folder, a folder beside the prefix, one deeper than a backup's, one not named as a backup and a young one are kept", () => {
    const old = now - emptyFolderIdleMs - 1
    const folders = [
      { key: "p", modifiedAt: old },
      { key: "pq/2026-01-01_000000", modifiedAt: old },
      { key: "p/2026-01-01_000000/sub", modifiedAt: old },
      { key: "p/2026-01-02_000000", modifiedAt: now - emptyFolderIdleMs },
      { key: "p/2026-01-03_000000", modifiedAt: old },
      { key: "p/not a backup id", modifiedAt: old },
      { key: "p/2026-02-30_000000", modifiedAt: old },
      { key: "p/lost+found", modifiedAt: old },
    ]
    expect(leftEmptyFolders(folders, "p", now).map((f) => f.key)).toEqual(["p/2026-01-03_000000"])
    expect(leftEmptyFolders([{ key: "lost+found", modifiedAt: old }], "", now)).toEqual([])
  })
})
