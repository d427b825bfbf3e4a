import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  controlPlaneManifests,
  decidePrune,
  downloadsDir,
  type EntryType,
  type KeptItem,
  type KeptKind,
  keptDirectories,
  keptKindOf,
  keptKinds,
  removingPrefix,
  renderPruneDecisions,
  stillNeededReasons,
} from "../../src/domain/kept-on-host.ts"
import { defaultOperands } from "../../src/domain/operands.ts"
import { hostLayout } from "../../src/domain/host-layout.ts"

const uuidArb = fc.uuid({ version: 4 })
const withOptionalRunId = (base: string) => fc.option(uuidArb, { nil: undefined }).map((id) => (id === undefined ? base : `${base}.${id}`))
const manifestNames = ["etcd-pod.yaml", "kube-apiserver-pod.yaml", "kube-controller-manager-pod.yaml", "kube-scheduler-pod.yaml"]

/** Names restore and stand-down give what they keep, with the directory and entry type they keep it as. */
const keptEntryArb: fc.Arbitrary<{ dir: string; name: string; type: EntryType; kind: KeptKind }> = fc.oneof(
  withOptionalRunId("member").map((name) => ({ dir: hostLayout.keptDataDir, name, type: "Directory" as const, kind: "OldMember" as const })),
  withOptionalRunId("revision.json").map((name) => ({ dir: hostLayout.keptDataDir, name, type: "File" as const, kind: "OldRevisionJson" as const })),
  fc.tuple(uuidArb, fc.option(uuidArb, { nil: undefined })).map(([id, run]) => ({
    dir: hostLayout.keptDataDir,
    name: `failed-restore-${id}${run === undefined ? "" : `.${run}`}`,
    type: "Directory" as const,
    kind: "FailedRestoreOutput" as const,
  })),
  withOptionalRunId("snapshot.db").map((name) => ({ dir: hostLayout.keptDataDir, name, type: "File" as const, kind: "SnapshotCopy" as const })),
  fc
    .constantFrom(...manifestNames)
    .chain(withOptionalRunId)
    .map((name) => ({ dir: hostLayout.stoppedManifestsDir, name, type: "File" as const, kind: "StoppedManifest" as const })),
  uuidArb.map((id) => ({
    dir: hostLayout.configDir,
    name: `static-pod-resources-replaced-by-restore-${id}`,
    type: "Directory" as const,
    kind: "ReplacedResources" as const,
  })),
  uuidArb.map((id) => ({
    dir: hostLayout.configDir,
    name: `static-pod-resources-restored-by-restore-${id}`,
    type: "Directory" as const,
    kind: "RestoredResources" as const,
  })),
  fc.stringMatching(/^[a-z0-9][-a-z0-9_]{0,40}$/).map((name) => ({ dir: downloadsDir, name, type: "Directory" as const, kind: "Download" as const })),
)

const otherType = (type: EntryType): fc.Arbitrary<EntryType> => fc.constantFrom(...(["File", "Directory", "Other"] as const).filter((t) => t !== type))

describe("keptKindOf", () => {
  it("property: every name restore and stand-down keep something under is recognised, as that kind, in its directory and of its type only", () => {
    fc.assert(
      fc.property(keptEntryArb, fc.constantFrom(...keptDirectories), (entry, dir) => {
        expect(keptKindOf(defaultOperands, entry.dir, entry.name, entry.type)).toBe(entry.kind)
        // The downloads directory holds only downloads: any backup id names one there.
        if (dir !== entry.dir && dir !== downloadsDir) {
          expect(keptKindOf(defaultOperands, dir, entry.name, entry.type)).toBeUndefined()
        }
      }),
    )
    fc.assert(
      fc.property(
        keptEntryArb.chain((entry) => otherType(entry.type).map((type) => ({ ...entry, type }))),
        (entry) => {
          expect(keptKindOf(defaultOperands, entry.dir, entry.name, entry.type)).toBeUndefined()
        },
      ),
    )
  })

  it("property: the records, hidden names (work in progress, removals under way), links and other names are never kept entries", () => {
    const hidden = fc.oneof(
      fc.string().map((s) => `.${s}`),
      fc.string().map((s) => `${removingPrefix}${s}`),
      fc.string().map((s) => `${s}.lock`),
    )
    const ours = fc.oneof(
      hidden,
      fc.constantFrom("restored-member.json", "stood-down.json", "static-pod-resources", "manifests", "manifests-stopped", "downloads", "member-old"),
      fc
        .tuple(fc.constantFrom("member", "snapshot.db", "revision.json", "etcd-pod.yaml"), fc.string({ minLength: 1 }))
        .map(([base, tail]) => `${base}.x${tail}`),
    )
    const types = fc.constantFrom<EntryType>("File", "Directory", "Other")
    fc.assert(
      fc.property(fc.constantFrom(...keptDirectories.filter((d) => d !== downloadsDir)), ours, types, (dir, name, type) => {
        expect(keptKindOf(defaultOperands, dir, name, type)).toBeUndefined()
      }),
    )
    fc.assert(
      fc.property(fc.oneof(hidden, fc.constantFrom("a/b", "..", ".")), types, (name, type) => {
        expect(keptKindOf(defaultOperands, downloadsDir, name, type)).toBeUndefined()
      }),
    )
    fc.assert(
      fc.property(keptEntryArb, (entry) => {
        expect(keptKindOf(defaultOperands, entry.dir, entry.name, "Other")).toBeUndefined()
      }),
    )
  })
})

describe("stillNeededReasons", () => {
  it("property: empty exactly when etcd's member and every manifest are in place and no restore was interrupted; each gap is named", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.subarray([...controlPlaneManifests(defaultOperands)]), fc.array(uuidArb, { maxLength: 2 }), (member, missing, partials) => {
        const reasons = stillNeededReasons({ memberInPlace: member, missingManifests: missing, partialRestores: partials })
        expect(reasons.length === 0).toBe(member && missing.length === 0 && partials.length === 0)
        for (const m of missing) {
          expect(reasons.join("\n")).toContain(m)
        }
        for (const id of partials) {
          expect(reasons.join("\n")).toContain(`restore-${id}`)
        }
        expect(reasons.some((r) => r.includes("/var/lib/etcd/member is missing"))).toBe(!member)
      }),
    )
  })
})

const itemArb: fc.Arbitrary<KeptItem> = fc.record({
  path: fc.stringMatching(/^\/[a-z][a-z/.-]{0,30}$/),
  kind: fc.constantFrom(...(Object.keys(keptKinds) as Array<KeptKind>)),
  bytes: fc.nat({ max: 2 ** 40 }),
  keptSinceMs: fc.integer({ min: 0, max: 2 ** 42 }),
  inUse: fc.option(fc.constant("a live run uses it"), { nil: undefined }),
})

describe("decidePrune", () => {
  it("property: an item is removed exactly when no live run uses it and it was kept at least --older-than ago; every item gets one verdict, in path order", () => {
    fc.assert(
      fc.property(fc.array(itemArb, { maxLength: 12 }), fc.integer({ min: 0, max: 2 ** 42 }), fc.nat({ max: 30 * 86_400_000 }), (items, now, olderThan) => {
        const decisions = decidePrune(items, now, olderThan)
        expect(decisions.map((d) => d.item)).toHaveLength(items.length)
        expect(new Set(decisions.map((d) => d.item))).toEqual(new Set(items))
        expect(decisions.map((d) => d.item.path)).toEqual(items.map((i) => i.path).sort())
        for (const { item, verdict } of decisions) {
          expect(verdict._tag === "Remove").toBe(item.inUse === undefined && now - item.keptSinceMs >= olderThan)
          if (verdict._tag === "Keep" && item.inUse !== undefined) {
            expect(verdict.why).toBe(item.inUse)
          }
        }
      }),
    )
  })

  it("property: the listing names every item with its verdict and adds up what is removed and what stays", () => {
    fc.assert(
      fc.property(
        fc.array(itemArb, { minLength: 1, maxLength: 8 }),
        fc.nat({ max: 2 ** 42 }),
        fc.nat({ max: 86_400_000 }),
        fc.boolean(),
        (items, now, olderThan, dryRun) => {
          const decisions = decidePrune(items, now, olderThan)
          const text = renderPruneDecisions("/host", decisions, dryRun)
          const removed = decisions.filter((d) => d.verdict._tag === "Remove")
          for (const { item, verdict } of decisions) {
            expect(text).toContain(`${verdict._tag === "Remove" ? (dryRun ? "would remove" : "remove") : "keep"}  ${item.path}\n`)
          }
          expect(text).toContain(`${dryRun ? "Would remove" : "Removing"} ${removed.length} (`)
          expect(text).toContain(`keeping ${decisions.length - removed.length} (`)
        },
      ),
    )
    expect(renderPruneDecisions("/host", [], true)).toBe("Nothing kept by a restore or stand-down under /host.\n")
  })
})
