import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { exampleManifest, requested, sha } from "../support/example-manifest.ts"
import { describe, expect, it } from "vitest"
import { expectedResources, resourceFilePath, podManifestPath } from "../../src/domain/archive-layout.ts"
import { backupFileNames, formatBackupTimestamp } from "../../src/domain/archive-names.ts"
import {
  decodeBackupManifest,
  encodeBackupManifest,
  manifestDigest,
  pairingVerdict,
  type BackupManifest,
  type SnapshotRevisions,
} from "../../src/domain/backup-manifest.ts"
import { operandNames } from "../../src/domain/operands.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"
import { dataKeyArb, dnsSubdomainArb, instantArb, operandArb, revisionArb, revisionSetArb } from "./arbitraries.ts"
import { failure } from "../support/result-failure.ts"

const example = exampleManifest

describe("pairingVerdict", () => {
  it("is consistent when the snapshot's CRs report the requested revisions", () => {
    expect(pairingVerdict(requested, { ...requested })).toEqual({ verdict: "consistent", reasons: [] })
  })

  it("names each mismatch and each missing CR", () => {
    const inSnapshot: SnapshotRevisions = { ...requested, "kube-apiserver": 6, "kube-scheduler": null }
    const { verdict, reasons } = pairingVerdict(requested, inSnapshot)
    expect(verdict).toBe("dirty")
    expect(reasons).toEqual([
      "kube-apiserver: the resources are revision 7 but kubeapiservers.operator.openshift.io/cluster in the snapshot reports revision 6",
      "kube-scheduler: the snapshot holds no kubeschedulers.operator.openshift.io/cluster, so it cannot show revision 7 (the resources' revision)",
    ])
  })

  const inSnapshotArb = (req: RevisionSet) =>
    fc.record(
      Object.fromEntries(operandNames.map((o) => [o, fc.oneof(fc.constant(req[o]), fc.constant(null), revisionArb)])) as Record<
        keyof RevisionSet,
        fc.Arbitrary<number | null>
      >,
    )

  test.prop([revisionSetArb.chain((req) => fc.tuple(fc.constant(req), inSnapshotArb(req)))], { numRuns: 500 })(
    "consistent iff every operand matches; one reason per operand that does not, naming it",
    ([req, inSnapshot]) => {
      const { verdict, reasons } = pairingVerdict(req, inSnapshot as SnapshotRevisions)
      const off = operandNames.filter((o) => inSnapshot[o] !== req[o])
      expect(verdict).toBe(off.length === 0 ? "consistent" : "dirty")
      expect(reasons).toHaveLength(off.length)
      for (const [i, o] of off.entries()) expect(reasons[i]!.startsWith(`${o}: `)).toBe(true)
    },
  )
})

const optionalResources = expectedResources(requested)
  .filter((r) => r.optional)
  .map((r) => ({ operand: r.operand, kind: r.kind, name: r.name }))

/** A manifest that is valid and self-consistent. */
const manifestArb: fc.Arbitrary<BackupManifest> = fc
  .record({
    at: fc.integer({ min: Date.UTC(1000, 0, 1) / 1000, max: Date.UTC(9999, 11, 31) / 1000 }),
    createdAt: instantArb,
    requested: revisionSetArb,
    drift: fc.array(fc.tuple(operandArb, fc.option(revisionArb, { nil: null })), { maxLength: 3 }),
    forcedDirty: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
    etcdRevision: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    memberDbSize: fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
    sizes: fc.tuple(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: Number.MAX_SAFE_INTEGER })),
    digests: fc.tuple(fc.stringMatching(/^[0-9a-f]{64}$/), fc.stringMatching(/^[0-9a-f]{64}$/)),
    files: fc.array(
      fc.record({
        operand: operandArb,
        kind: fc.constantFrom("configmap", "secret") as fc.Arbitrary<"configmap" | "secret">,
        name: dnsSubdomainArb(60),
        key: dataKeyArb,
        size: fc.nat(),
        sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
      }),
      { maxLength: 12 },
    ),
    manifests: fc.subarray([...operandNames]),
    // Optional resources of the table, and names it does not list (a replaced resource list).
    skipped: fc.array(
      fc.oneof(
        fc.constantFrom(...optionalResources),
        fc.record({
          operand: operandArb,
          kind: fc.constantFrom("configmap", "secret") as fc.Arbitrary<"configmap" | "secret">,
          name: dnsSubdomainArb(40).map((n) => `x-${n}`),
        }),
      ),
      { maxLength: 3 },
    ),
    toolVersion: fc.stringMatching(/^\d+\.\d+\.\d+$/),
    formatVersion: fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>,
  })
  .map((g): BackupManifest => {
    const inSnapshot: Record<string, number | null> = { ...g.requested }
    for (const [o, r] of g.drift) inSnapshot[o] = r
    const pairing = pairingVerdict(g.requested, inSnapshot as SnapshotRevisions)
    const dirty = pairing.verdict === "dirty" || g.forcedDirty !== undefined
    const reasons = [...pairing.reasons, ...(g.forcedDirty === undefined ? [] : [`forced: ${g.forcedDirty}`])]
    const timestamp = formatBackupTimestamp(new Date(g.at * 1000))
    const names = backupFileNames(timestamp, dirty)
    const entries = new Map<string, BackupManifest["entries"][number]>()
    const skippedIds = new Set(g.skipped.map((s) => `${s.operand}/${s.kind}/${s.name}`))
    for (const f of g.files) {
      if (skippedIds.has(`${f.operand}/${f.kind}/${f.name}`)) continue
      const file = Result.getOrThrow(resourceFilePath(f.operand, g.requested[f.operand], f.kind, f.name, f.key))
      entries.set(file.path, { path: file.path, size: f.size, mode: file.mode, sha256: f.sha256 })
    }
    for (const o of g.manifests) {
      const path = podManifestPath(o, g.requested[o])
      entries.set(path, { path, size: 1, mode: 0o600, sha256: sha("e") })
    }
    return {
      formatVersion: g.formatVersion,
      tool: { name: "cluster-backup", version: g.toolVersion },
      timestamp,
      createdAt: formatRfc3339Utc(g.createdAt),
      revisions: { requested: g.requested, inSnapshot: inSnapshot as SnapshotRevisions },
      etcd: { revision: g.etcdRevision, ...(g.memberDbSize === undefined ? {} : { memberDbSize: g.memberDbSize }) },
      files: {
        snapshot: { name: names.snapshot, size: g.sizes[0], sha256: g.digests[0] },
        resources: { name: names.resources, size: g.sizes[1], sha256: g.digests[1] },
      },
      entries: [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
      skippedOptional: g.skipped.filter((s, i) => g.skipped.findIndex((t) => t.operand === s.operand && t.kind === s.kind && t.name === s.name) === i),
      verdict: dirty ? "dirty" : "consistent",
      reasons,
    }
  })

/** The example made dirty by its snapshot: the reason the revisions give, then one more. */
const dirtyExample: BackupManifest = {
  ...example,
  revisions: { requested, inSnapshot: { ...requested, etcd: 4 } },
  verdict: "dirty",
  reasons: [pairingVerdict(requested, { ...requested, etcd: 4 }).reasons[0]!, "forced"],
  files: {
    snapshot: { ...example.files.snapshot, name: "snapshot_2024-05-01_120000__POSSIBLY_DIRTY__.db" },
    resources: { ...example.files.resources, name: "static_kuberesources_2024-05-01_120000__POSSIBLY_DIRTY__.tar.gz" },
  },
}

describe("encodeBackupManifest / decodeBackupManifest", () => {
  it("writes canonical pretty JSON: summary first, entries last, trailing newline", () => {
    const text = encodeBackupManifest(example)
    expect(text.endsWith("}\n")).toBe(true)
    expect(
      text.startsWith(
        '{\n  "formatVersion": 2,\n  "tool": {\n    "name": "cluster-backup",\n    "version": "0.1.0"\n  },\n  "timestamp": "2024-05-01_120000",',
      ),
    ).toBe(true)
    expect(Object.keys(JSON.parse(text) as object)).toEqual([
      "formatVersion",
      "tool",
      "timestamp",
      "createdAt",
      "verdict",
      "reasons",
      "revisions",
      "etcd",
      "files",
      "skippedOptional",
      "entries",
      "manifestSha256",
    ])
    expect(text.endsWith(`  ],\n  "manifestSha256": "${manifestDigest(example)}"\n}\n`)).toBe(true)
    expect(text).toContain('"requested": {\n      "etcd": 3,\n      "kube-apiserver": 7,')
    expect(text).toContain('{\n      "path": "static-pod-resources/etcd-pod-3/configmaps/etcd-pod/pod.yaml",\n      "size": 10,\n      "mode": 384,')
    expect(decodeBackupManifest(text)).toEqual(Result.succeed(example))
  })

  test.prop([manifestArb], { numRuns: 300 })("decode(encode(m)) == m", (m) => {
    expect(decodeBackupManifest(encodeBackupManifest(m))).toEqual(Result.succeed(m))
  })

  test.prop([manifestArb], { numRuns: 200 })("one byte form: encoding is independent of key insertion order", (m) => {
    const text = encodeBackupManifest(m)
    const reordered = JSON.parse(JSON.stringify(m, Object.keys(m).reverse().concat(collectKeys(m)))) as BackupManifest
    expect(encodeBackupManifest(reordered)).toBe(text)
    expect(encodeBackupManifest(Result.getOrThrow(decodeBackupManifest(text)))).toBe(text)
  })

  /** Every key in a value, sorted in reverse (to rebuild objects in another order). */
  function collectKeys(v: unknown): Array<string> {
    const keys = new Set<string>()
    const walk = (x: unknown) => {
      if (Array.isArray(x)) for (const c of x) walk(c)
      else if (x !== null && typeof x === "object")
        for (const [k, c] of Object.entries(x)) {
          keys.add(k)
          walk(c)
        }
    }
    walk(v)
    return [...keys].sort().reverse()
  }

  /** The example as written, one value changed (or removed, for `undefined`): its digest is now stale. */
  const set = (path: ReadonlyArray<string | number>, value: unknown) => {
    const copy = JSON.parse(encodeBackupManifest(example)) as Record<string, unknown>
    let at: Record<string | number, unknown> = copy
    for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>
    if (value === undefined) delete at[path.at(-1)!]
    else at[path.at(-1)!] = value
    return `${JSON.stringify(copy, null, 2)}\n`
  }
  const written = (m: BackupManifest) => encodeBackupManifest(m)

  it.each<[string, string, string]>([
    ["text that is not JSON", "{formatVersion: 1}", ""],
    ["an empty file", "", ""],
    ["a JSON list", "[]", ""],
    ["another format version", set(["formatVersion"], 3), "formatVersion"],
    ["another tool", set(["tool", "name"], "etcdctl"), "tool.name"],
    ["an unknown key", set(["extra"], 1), "extra"],
    ["an unknown nested key", set(["files", "snapshot", "md5"], "x"), "files.snapshot.md5"],
    ["a missing key", set(["verdict"], undefined), "verdict"],
    ["a bad timestamp", set(["timestamp"], "2024-05-01T12:00:00Z"), "timestamp"],
    ["a bad createdAt", set(["createdAt"], "2024-05-01_120000"), "createdAt"],
    ["revision zero requested", set(["revisions", "requested", "etcd"], 0), "revisions.requested.etcd"],
    ["a missing inSnapshot operand", set(["revisions", "inSnapshot", "kube-scheduler"], undefined), "revisions.inSnapshot.kube-scheduler"],
    ["a negative etcd revision", set(["etcd", "revision"], -1), "etcd.revision"],
    ["a fractional size", set(["files", "resources", "size"], 1.5), "files.resources.size"],
    ["an upper-case digest", set(["files", "snapshot", "sha256"], sha("A")), "files.snapshot.sha256"],
    ["a short digest", set(["entries", 1, "sha256"], "abc"), "entries[1].sha256"],
    ["an unknown verdict", set(["verdict"], "clean"), "verdict"],
    ["an unknown skipped kind", set(["skippedOptional", 0, "kind"], "pod"), "skippedOptional[0].kind"],
    ["a consistent verdict over mismatched revisions", set(["revisions", "inSnapshot", "etcd"], 4), "verdict"],
    ["a dirty verdict without reasons", set(["verdict"], "dirty"), "reasons"],
    ["a snapshot name for another timestamp", set(["files", "snapshot", "name"], "snapshot_2024-05-01_120001.db"), "files.snapshot.name"],
    [
      "a clean resources name on a dirty backup",
      written({
        ...example,
        verdict: "dirty",
        reasons: ["forced"],
        files: { ...example.files, snapshot: { ...example.files.snapshot, name: "snapshot_2024-05-01_120000__POSSIBLY_DIRTY__.db" } },
      }),
      "files.resources.name",
    ],
    ["a consistent verdict with reasons", written({ ...example, reasons: ["the operator revisions inside the snapshot are uncertain"] }), "reasons"],
    ["a dirty verdict without the reason its revisions give", written({ ...dirtyExample, reasons: ["forced"] }), "reasons[0]"],
    [
      "a dirty verdict with an altered revision reason",
      written({ ...dirtyExample, reasons: [dirtyExample.reasons[0]!.replace("revision 4", "revision 5")] }),
      "reasons[0]",
    ],
    ["an empty reason", written({ ...dirtyExample, reasons: [...dirtyExample.reasons, " "] }), "reasons[2]"],
    ["a repeated reason", written({ ...dirtyExample, reasons: [...dirtyExample.reasons, "forced", "forced"] }), "reasons[2]"],
    [
      "a required resource among the skipped ones",
      written({ ...example, skippedOptional: [...example.skippedOptional, { operand: "etcd", kind: "configmap", name: "etcd-endpoints" }] }),
      "skippedOptional[1]",
    ],
    [
      "a skipped resource named twice",
      written({ ...example, skippedOptional: [...example.skippedOptional, ...example.skippedOptional] }),
      "skippedOptional[1]",
    ],
    [
      "a file of a skipped resource",
      written({ ...example, skippedOptional: [{ operand: "etcd", kind: "configmap", name: "etcd-scripts" }] }),
      "entries[1].path",
    ],
    ["a format 2 manifest without its digest", set(["manifestSha256"], undefined), "manifestSha256"],
    ["a format 1 manifest with a digest", set(["formatVersion"], 1), "manifestSha256"],
    ["a digest that is not the content's", written(example).replace(/"manifestSha256": "[0-9a-f]+"/, `"manifestSha256": "${sha("f")}"`), "manifestSha256"],
    ["a changed value under an intact digest", written(example).replace('"version": "0.1.0"', '"version": "0.1.1"'), "manifestSha256"],
    ["a byte order mark", `\uFEFF${written(example)}`, ""],
    ["compact JSON", JSON.stringify(JSON.parse(written(example))), ""],
    ["a missing final newline", written(example).trimEnd(), ""],
    ["a tab instead of indentation", written(example).replace('\n  "tool"', '\n\t"tool"'), ""],
    ["an entry escaping the layout", set(["entries", 0, "path"], "static-pod-resources/etcd-pod-3/../../../etc/passwd"), "entries[0].path"],
    ["an absolute entry", set(["entries", 0, "path"], "/etc/kubernetes/static-pod-resources/etcd-pod-3/etcd-pod.yaml"), "entries[0].path"],
    ["an entry of another revision", set(["entries", 0, "path"], "static-pod-resources/etcd-pod-2/etcd-pod.yaml"), "entries[0].path"],
    ["a directory entry", set(["entries", 0, "path"], "static-pod-resources/etcd-pod-3/configmaps/etcd-pod"), "entries[0].path"],
    ["an entry with the wrong mode", set(["entries", 1, "mode"], 0o644), "entries[1].mode"],
    ["entries out of order", set(["entries", 2, "path"], "static-pod-resources/etcd-pod-3/configmaps/etcd-pod/a"), "entries[2].path"],
    ["a repeated entry", set(["entries", 2, "path"], example.entries[0]!.path), "entries[2].path"],
  ])("refuses %s, naming the key", (_what, text, key) => {
    const error = failure(decodeBackupManifest(text))
    expect(error._tag).toBe("BackupManifestInvalid")
    expect(error.key).toBe(key)
    expect(error.message.startsWith(`backup manifest: ${key === "" ? "the document" : key} `)).toBe(true)
  })

  test.prop([manifestArb, fc.nat(), fc.constantFrom(null, -1, 1.5, "x", true, [], {})], { numRuns: 300 })(
    "replacing any value with a wrong one is refused or still a valid manifest, never thrown",
    (m, pick, wrong) => {
      const paths: Array<Array<string | number>> = []
      const walk = (v: unknown, path: Array<string | number>) => {
        if (path.length > 0) paths.push(path)
        if (Array.isArray(v)) for (const [i, c] of v.entries()) walk(c, [...path, i])
        else if (v !== null && typeof v === "object") for (const [k, c] of Object.entries(v)) walk(c, [...path, k])
      }
      walk(m, [])
      const path = paths[pick % paths.length]!
      const copy = JSON.parse(JSON.stringify(m)) as Record<string | number, unknown>
      let at = copy
      for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>
      at[path.at(-1)!] = wrong
      const r = decodeBackupManifest(JSON.stringify(copy))
      if (Result.isFailure(r)) expect(r.failure._tag).toBe("BackupManifestInvalid")
      else expect(decodeBackupManifest(encodeBackupManifest(r.success))).toEqual(r)
    },
  )

  test.prop([manifestArb, fc.integer({ min: 3, max: 1000 })], { numRuns: 200 })(
    "a manifest of a later format is refused as written by a newer cluster-backup, naming its version",
    (m, format) => {
      const text = encodeBackupManifest(m).replace(/"formatVersion": [12]/, `"formatVersion": ${format}`)
      const error = failure(decodeBackupManifest(text))
      expect(error.key).toBe("formatVersion")
      expect(error.message).toContain(`formatVersion is ${format}, a format newer than this cluster-backup reads (1 to 2)`)
      expect(error.message).toContain(`written by a newer cluster-backup (${JSON.stringify(m.tool.version)})`)
    },
  )

  test.prop([manifestArb.map((m) => ({ ...m, formatVersion: 2 as const })), fc.array(fc.nat(), { minLength: 1, maxLength: 8 })], { numRuns: 200 })(
    "every single-bit flip of a written format 2 manifest is refused",
    (m, picks) => {
      const bytes = Buffer.from(encodeBackupManifest(m))
      for (const pick of picks) {
        const flipped = Buffer.from(bytes)
        const bit = pick % (bytes.length * 8)
        flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7))
        expect(Result.isFailure(decodeBackupManifest(flipped.toString("utf8"))), `bit ${bit}`).toBe(true)
      }
    },
  )

  test.prop([manifestArb, fc.array(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 3 })], { numRuns: 200 })(
    "a consistent verdict with reasons is refused",
    (m, reasons) => {
      fc.pre(m.verdict === "consistent")
      expect(failure(decodeBackupManifest(encodeBackupManifest({ ...m, reasons }))).key).toBe("reasons")
    },
  )

  const requiredResources = (revisions: RevisionSet) => expectedResources(revisions).filter((r) => !r.optional)
  test.prop([manifestArb, fc.nat()], { numRuns: 200 })("a skippedOptional entry naming a required resource is refused", (m, pick) => {
    const required = requiredResources(m.revisions.requested)
    const r = required[pick % required.length]!
    const skippedOptional = [...m.skippedOptional, { operand: r.operand, kind: r.kind, name: r.name }]
    const entries = m.entries.filter((e) => !e.path.startsWith(`${r.path}/`))
    const error = failure(decodeBackupManifest(encodeBackupManifest({ ...m, skippedOptional, entries })))
    expect(error.key).toBe(`skippedOptional[${m.skippedOptional.length}]`)
    expect(error.message).toContain("a required resource")
  })
})
