/** Properties of the pure parts: planning a revision's files, the record's checks, and the staged-content comparison. */
import { createHash } from "node:crypto"
import { fc, test } from "@fast-check/vitest"
import { Redacted, Result } from "effect"
import { describe, expect } from "vitest"
import { classifyEntry } from "../../../src/domain/archive-layout.ts"
import type { ManifestEntry } from "../../../src/domain/backup-manifest.ts"
import { defaultOperands, operandNames, type OperandName } from "../../../src/domain/operands.ts"
import type { RevisionSet } from "../../../src/domain/revisions.ts"
import { stagedContentDifference } from "../../../src/programs/backup/backup-create.ts"
import { resourcesRecordProblem, type ResourcesRecord } from "../../../src/programs/backup/resources-record.ts"
import { planRevisionTree, type FetchedResource } from "../../../src/programs/backup/revision-files.ts"
import { dataKeyArb, dnsSubdomainArb, operandArb, revisionArb } from "../../domain/arbitraries.ts"

const bytesArb = fc.uint8Array({ maxLength: 24 })
const dataArb = fc.dictionary(dataKeyArb, bytesArb, { maxKeys: 4 })

const resourceArb = fc.record({ kind: fc.constantFrom("configmap" as const, "secret" as const), name: dnsSubdomainArb(200), data: dataArb, binary: dataArb })

/** Resources of one revision: unique (kind, name), the pod ConfigMap with its pod.yaml among them. */
const revisionArbFor = fc.tuple(operandArb, revisionArb, fc.array(resourceArb, { maxLength: 6 }), bytesArb).map(([operand, revision, raw, manifest]) => {
  const pod = defaultOperands[operand].podConfigMap
  const seen = new Set<string>([`configmap/${pod}`])
  const resources: Array<FetchedResource> = [{ kind: "configmap", name: pod, data: { "pod.yaml": Redacted.make(manifest) } }]
  for (const r of raw) {
    if (seen.has(`${r.kind}/${r.name}`)) continue
    seen.add(`${r.kind}/${r.name}`)
    const redact = (d: Record<string, Uint8Array>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Redacted.make(v)]))
    const binary = Object.fromEntries(Object.entries(r.binary).filter(([k]) => !(k in r.data)))
    resources.push(
      r.kind === "configmap"
        ? { kind: r.kind, name: r.name, data: redact(r.data), binaryData: redact(binary) }
        : { kind: r.kind, name: r.name, data: redact(r.data) },
    )
  }
  return { operand, revision, resources }
})

const sameRevision = (revision: number) => Object.fromEntries(operandNames.map((n) => [n, revision])) as RevisionSet
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

describe("planRevisionTree", () => {
  test.prop([revisionArbFor], { numRuns: 200 })(
    "every key becomes one file of the operand's layout with the layout's mode and the key's bytes, plus <pod>.yaml",
    ({ operand, revision, resources }) => {
      const planned = planRevisionTree(operand, revision, resources)
      expect(Result.isSuccess(planned)).toBe(true)
      if (Result.isFailure(planned)) return
      const { files, directories } = planned.success
      const keys = resources.reduce((n, r) => n + Object.keys(r.data).length + Object.keys(r.binaryData ?? {}).length, 0)
      expect(files.length).toBe(keys + 1)
      const paths = files.map((f) => f.path)
      expect(paths).toEqual([...new Set(paths)].sort())
      for (const file of files) {
        const c = classifyEntry(file.path, sameRevision(revision))
        expect(Result.isSuccess(c)).toBe(true)
        if (Result.isFailure(c)) return
        expect(c.success.kind === "resource-file" || c.success.kind === "pod-manifest").toBe(true)
        expect("operand" in c.success && c.success.operand).toBe(operand)
        expect("mode" in c.success && c.success.mode).toBe(file.mode)
        expect(directories).toContain(file.path.slice(0, file.path.lastIndexOf("/")))
        if (c.success.kind === "resource-file") {
          const { resourceKind, name, key } = c.success
          const source = resources.find((r) => r.kind === resourceKind && r.name === name)!
          // Own keys only: `toString` is a valid data key.
          const expected = Object.hasOwn(source.data, key) ? source.data[key] : source.binaryData?.[key]
          expect(Redacted.value(file.content)).toEqual(Redacted.value(expected!))
        }
      }
    },
  )

  const hostileKeyArb = fc.oneof(
    fc.constantFrom("", ".", "..", "..data", "../x", "a/b", "/etc/passwd", "a\\b", "a\u0000b", "é"),
    fc.tuple(dataKeyArb, dataKeyArb).map(([a, b]) => `${a}/${b}`),
  )
  test.prop([revisionArbFor, hostileKeyArb, fc.boolean()], { numRuns: 200 })(
    "a key Kubernetes would refuse is refused, whatever else the revision holds",
    ({ operand, revision, resources }, key, secret) => {
      const bad: FetchedResource = { kind: secret ? "secret" : "configmap", name: "victim", data: { [key]: Redacted.make(new Uint8Array([1])) } }
      const planned = planRevisionTree(operand, revision, [...resources.filter((r) => r.name !== "victim"), bad])
      expect(Result.isFailure(planned) && planned.failure._tag).toBe("RevisionContentRefused")
    },
  )

  test.prop([operandArb, revisionArb, dataKeyArb], { numRuns: 50 })("a ConfigMap key in both data and binaryData is refused", (operand, revision, key) => {
    const pod = defaultOperands[operand].podConfigMap
    const both = Redacted.make(new Uint8Array([1]))
    const planned = planRevisionTree(operand, revision, [
      { kind: "configmap", name: pod, data: { "pod.yaml": both } },
      { kind: "configmap", name: "twice", data: { [key]: both }, binaryData: { [key]: both } },
    ])
    expect(Result.isFailure(planned) && planned.failure.message).toContain("in both data and binaryData")
  })

  test.prop([operandArb, revisionArb], { numRuns: 20 })("without the pod ConfigMap's pod.yaml there is no plan", (operand, revision) => {
    const pod = defaultOperands[operand].podConfigMap
    const planned = planRevisionTree(operand, revision, [{ kind: "configmap", name: pod, data: { version: Redacted.make(new Uint8Array()) } }])
    expect(Result.isFailure(planned) && planned.failure._tag).toBe("PodManifestMissing")
  })
})

/** The record backup-resources writes for a plan. */
const recordOf = (operand: OperandName, revision: number, resources: ReadonlyArray<FetchedResource>): ResourcesRecord => {
  const planned = Result.getOrThrow(planRevisionTree(operand, revision, resources))
  return {
    operand,
    revision,
    namespace: defaultOperands[operand].namespace,
    directory: `static-pod-resources/${defaultOperands[operand].podConfigMap}-${revision}`,
    files: planned.files.map((f) => ({ path: f.path, size: Redacted.value(f.content).length, mode: f.mode, sha256: sha256(Redacted.value(f.content)) })),
    skippedOptional: [],
  }
}

describe("resources records", () => {
  test.prop([revisionArbFor], { numRuns: 100 })(
    "a record of a plan is consistent; out of order, another mode or another operand's revision is not",
    ({ operand, revision, resources }) => {
      const record = recordOf(operand, revision, resources)
      expect(resourcesRecordProblem(record)).toBeUndefined()
      const [first, ...rest] = record.files
      if (rest.length > 0) expect(resourcesRecordProblem({ ...record, files: [...rest, first!] })).toContain("out of order")
      expect(resourcesRecordProblem({ ...record, files: [{ ...first!, mode: 0o644 }, ...rest] })).toContain("the layout gives")
      expect(resourcesRecordProblem({ ...record, revision: revision === 1 ? 2 : revision - 1 })).toBeDefined()
    },
  )

  test.prop([operandArb, revisionArb], { numRuns: 20 })("a skipped resource must be an optional one of the operand", (operand, revision) => {
    const base = recordOf(operand, revision, [
      { kind: "configmap", name: defaultOperands[operand].podConfigMap, data: { "pod.yaml": Redacted.make(new Uint8Array([1])) } },
    ])
    expect(resourcesRecordProblem({ ...base, skippedOptional: [{ operand, kind: "configmap", name: defaultOperands[operand].podConfigMap }] })).toContain(
      "not an optional resource",
    )
  })
})

describe("stagedContentDifference", () => {
  const entryArb = fc.record({ size: fc.nat(1000), mode: fc.constantFrom(0o600, 0o700, 0o755), sha256: fc.stringMatching(/^[0-9a-f]{64}$/) })
  const entriesArb = fc
    .uniqueArray(fc.tuple(dnsSubdomainArb(30), entryArb), { selector: ([p]) => p, minLength: 1, maxLength: 8 })
    .map((pairs) => pairs.map(([path, e]): ManifestEntry => ({ path: `static-pod-resources/etcd-pod-1/configmaps/${path}/k`, ...e })))
  test.prop([entriesArb, fc.nat(), fc.constantFrom("missing", "extra", "content", "mode")], { numRuns: 200 })(
    "equal lists have no difference; one missing, extra or changed file is named",
    (entries, pick, change) => {
      expect(stagedContentDifference(entries, [...entries].reverse())).toBeUndefined()
      const i = pick % entries.length
      const victim = entries[i]!
      const others = entries.filter((_, j) => j !== i)
      const archived =
        change === "missing"
          ? others
          : change === "extra"
            ? [...entries, { ...victim, path: `${victim.path}x` }]
            : change === "content"
              ? [...others, { ...victim, sha256: victim.sha256 === "0".repeat(64) ? "1".repeat(64) : "0".repeat(64) }]
              : [...others, { ...victim, mode: victim.mode === 0o600 ? 0o700 : 0o600 }]
      expect(stagedContentDifference(entries, archived)?.path).toBe(change === "extra" ? `${victim.path}x` : victim.path)
    },
  )
})
