/**
 * The tarball checks of verify as properties: a listing equal to the manifest passes; any one
 * change of a file (size, content, mode, missing, extra) fails and names it; exactly the four
 * operand directories at the manifest's revisions pass, and every extra or missing one is named.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import { podDirectory } from "../../../src/domain/archive-layout.ts"
import { operandList } from "../../../src/domain/operands.ts"
import type { ManifestEntry } from "../../../src/domain/backup-manifest.ts"
import { backupLayout, checkEntries, checkLayout, checkOperandDirectories, resourcesConfinement } from "../../../src/programs/verify/verify-tarball.ts"
import type { ArchiveEntry } from "../../../src/services/tarball/tarball.ts"
import { dataKeyArb, dnsLabelArb, revisionSetArb } from "../../domain/arbitraries.ts"

const hexArb = fc.stringMatching(/^[0-9a-f]{64}$/)

/** Files of the installer layout for `revisions`, as manifest entries (sorted, unique paths). */
const manifestArb = revisionSetArb.chain((revisions) =>
  fc
    .uniqueArray(
      fc.record({
        operand: fc.constantFrom(...operandList()),
        kind: fc.constantFrom("configmaps", "secrets"),
        name: dnsLabelArb(20),
        key: dataKeyArb,
        size: fc.nat({ max: 1 << 20 }),
        sha256: hexArb,
      }),
      { minLength: 1, maxLength: 12, selector: (f) => `${f.operand.name}/${f.kind}/${f.name}/${f.key}` },
    )
    .map((files) => ({
      revisions,
      entries: files
        .map(
          (f): ManifestEntry => ({
            path: `${podDirectory(f.operand.name, revisions[f.operand.name])}/${f.kind}/${f.name}/${f.key}`,
            size: f.size,
            mode: 0o600,
            sha256: f.sha256,
          }),
        )
        .sort((a, b) => (a.path < b.path ? -1 : 1)),
    })),
)

const listingOf = (entries: ReadonlyArray<ManifestEntry>): Array<ArchiveEntry> => entries.map((e) => ({ kind: "file", ...e }))

describe("checkEntries", () => {
  it("property: a listing equal to the manifest passes", () => {
    fc.assert(
      fc.property(manifestArb, ({ entries }) => {
        expect(checkEntries(listingOf(entries), entries).verdict).toBe("PASS")
      }),
      { numRuns: 100 },
    )
  })

  it("property: one changed, missing or extra file fails and is named", () => {
    fc.assert(
      fc.property(manifestArb, fc.nat(), fc.constantFrom("size", "content", "mode", "missing", "extra"), ({ entries }, pick, change) => {
        const listing = listingOf(entries)
        const i = pick % listing.length
        const target = listing[i] as Extract<ArchiveEntry, { kind: "file" }>
        if (change === "size") listing[i] = { ...target, size: target.size + 1 }
        if (change === "content") listing[i] = { ...target, sha256: target.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0")) }
        if (change === "mode") listing[i] = { ...target, mode: 0o644 }
        if (change === "missing") listing.splice(i, 1)
        if (change === "extra") listing.push({ ...target, path: `${target.path}-extra` })
        const check = checkEntries(listing, entries)
        expect(check.verdict).toBe("FAIL")
        expect(check.found).toContain(change === "extra" ? `${target.path}-extra is not in the manifest` : target.path)
      }),
      { numRuns: 200 },
    )
  })
})

describe("checkOperandDirectories", () => {
  it("property: the four directories of the manifest's revisions pass; an extra or a missing one fails and is named", () => {
    fc.assert(
      fc.property(manifestArb, fc.constantFrom(...operandList()), fc.constantFrom("none", "extra", "missing"), ({ revisions, entries }, operand, change) => {
        const units = operandList().map((o) => podDirectory(o.name, revisions[o.name]))
        const listing: Array<ArchiveEntry> = [...units.map((u): ArchiveEntry => ({ kind: "directory", path: u, mode: 0o700 })), ...listingOf(entries)]
        const other = podDirectory(operand.name, revisions[operand.name] === 1 ? 2 : revisions[operand.name] - 1)
        const own = podDirectory(operand.name, revisions[operand.name])
        const changed =
          change === "extra"
            ? [...listing, { kind: "file" as const, path: `${other}/${operand.podConfigMap}.yaml`, size: 1, mode: 0o600, sha256: "0".repeat(64) }]
            : change === "missing"
              ? listing.filter((e) => e.path !== own && !e.path.startsWith(`${own}/`))
              : listing
        const check = checkOperandDirectories(changed, revisions)
        expect(check.verdict).toBe(change === "none" ? "PASS" : "FAIL")
        if (change === "extra") expect(check.found).toContain(`extra directory ${other}`)
        if (change === "missing") expect(check.found).toContain(`missing directory ${own}`)
        expect(checkLayout(changed, revisions).verdict).toBe("PASS")
      }),
      { numRuns: 200 },
    )
  })
})

describe("layouts", () => {
  it("confinement accepts only static-pod-resources/; the backup layout also needs the right revision and entry type", () => {
    const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }
    expect(Result.isSuccess(resourcesConfinement("static-pod-resources/anything", "file"))).toBe(true)
    expect(Result.isFailure(resourcesConfinement("etc/passwd", "file"))).toBe(true)
    const layout = backupLayout(revisions)
    expect(Result.isSuccess(layout("static-pod-resources/etcd-pod-3/etcd-pod.yaml", "file"))).toBe(true)
    expect(Result.isSuccess(layout("static-pod-resources/etcd-pod-3/configmaps", "directory"))).toBe(true)
    expect(Result.isFailure(layout("static-pod-resources/etcd-pod-2/etcd-pod.yaml", "file"))).toBe(true)
    expect(Result.isFailure(layout("static-pod-resources/etcd-pod-3/etcd-pod.yaml", "directory"))).toBe(true)
    expect(Result.isFailure(layout("static-pod-resources/etcd-pod-3/configmaps", "file"))).toBe(true)
  })
})
