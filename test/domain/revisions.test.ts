import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { operandNames, type OperandName } from "../../src/domain/operands.ts"
import {
  decodeLatestAvailableRevision,
  decodeObservedRevisions,
  diffRevisions,
  formatRevisionChange,
  formatRevisionSet,
  maxRevision,
  operandCrReference,
  parseRevisionsFlag,
  readLatestAvailableRevision,
  RevisionSet,
  revisionSetsEqual,
} from "../../src/domain/revisions.ts"
import { operandArb, revisionArb, revisionSetArb } from "./arbitraries.ts"
import { failure } from "../support/result-failure.ts"

const cr = (latestAvailableRevision: unknown) => ({ apiVersion: "operator.openshift.io/v1", kind: "Etcd", status: { latestAvailableRevision } })

describe("RevisionSet", () => {
  test.prop([revisionSetArb], { numRuns: 200 })("generated sets are RevisionSets and format in operand order", (set) => {
    expect(Schema.is(RevisionSet)(set)).toBe(true)
    expect(
      formatRevisionSet(set)
        .split(",")
        .map((item) => item.split("=")[0]),
    ).toEqual([...operandNames])
  })

  it.each([0, -1, 1.5, maxRevision + 1, Number.NaN])("refuses revision %d", (n) => {
    expect(Schema.is(RevisionSet)({ etcd: n, "kube-apiserver": 1, "kube-controller-manager": 1, "kube-scheduler": 1 })).toBe(false)
  })
})

describe("decodeLatestAvailableRevision", () => {
  test.prop([operandArb, revisionArb], { numRuns: 200 })("reads a positive int32", (operand, n) => {
    expect(decodeLatestAvailableRevision(operand, cr(n))).toEqual(Result.succeed(n))
  })

  const cases: ReadonlyArray<[string, unknown, string]> = [
    ["no CR at all (deleted)", undefined, "OperatorCrMissing"],
    ["a CR without status", { kind: "Etcd" }, "LatestRevisionAbsent"],
    ["a status without the field", { status: { conditions: [] } }, "LatestRevisionAbsent"],
    ["a status that is not an object", { status: "ready" }, "LatestRevisionAbsent"],
    ["zero", cr(0), "LatestRevisionZero"],
    ["minus zero", cr(-0), "LatestRevisionZero"],
    ["a negative number", cr(-3), "LatestRevisionNegative"],
    ["a fraction", cr(2.5), "LatestRevisionNotInteger"],
    ["a number beyond int32", cr(maxRevision + 1), "LatestRevisionNotInteger"],
    ["infinity", cr(Number.POSITIVE_INFINITY), "LatestRevisionNotInteger"],
    ["NaN", cr(Number.NaN), "LatestRevisionNotInteger"],
    ["a string of digits", cr("7"), "LatestRevisionNotNumber"],
    ["null", cr(null), "LatestRevisionNotNumber"],
    ["a boolean", cr(true), "LatestRevisionNotNumber"],
    ["an object", cr({ value: 7 }), "LatestRevisionNotNumber"],
    ["an array", cr([7]), "LatestRevisionNotNumber"],
  ]

  it.each(cases)("%s is its own explained error naming the operand and the CR", (_what, input, tag) => {
    const error = failure(decodeLatestAvailableRevision("kube-apiserver", input))
    expect(error._tag).toBe(tag)
    expect(error.operand).toBe("kube-apiserver")
    expect(error.cr).toBe("kubeapiservers.operator.openshift.io/cluster")
    expect(error.message).toContain("kubeapiservers.operator.openshift.io/cluster")
    expect(error.message).toContain("kube-apiserver")
  })

  it.each([
    [{ value: 7 }, "an object"],
    [[7], "an array"],
    ["7", "a string"],
  ])("a value of another type is named with its article: %j is %s", (value, named) => {
    expect(failure(decodeLatestAvailableRevision("etcd", cr(value))).message).toContain(
      `status.latestAvailableRevision is ${named}, expected a positive integer`,
    )
  })

  it("a missing CR and the five kinds of bad value are six distinct tags", () => {
    expect(new Set(cases.map(([, , tag]) => tag)).size).toBe(6)
  })

  it("a deleted CR is reported as missing, not as one whose operator has not reported yet", () => {
    const error = failure(decodeLatestAvailableRevision("etcd", undefined))
    expect(error.message).toContain("etcds.operator.openshift.io/cluster (etcd) is missing")
    expect(error.message).not.toContain("has not reported")
  })

  const badValueArb = fc.oneof(
    fc.constant(undefined),
    fc.constant(0),
    fc.integer({ min: -maxRevision, max: -1 }),
    fc.double({ noInteger: true }),
    fc.double({ min: maxRevision + 1, noNaN: true }),
    fc.string(),
    fc.constant(null),
    fc.boolean(),
    fc.array(fc.nat()),
    fc.object(),
  )
  test.prop([operandArb, badValueArb], { numRuns: 300 })("every unusable value is an error, never a revision or an exception", (operand, value) => {
    const error = failure(decodeLatestAvailableRevision(operand, value === undefined ? {} : cr(value)))
    expect(error.operand).toBe(operand)
    expect(error.cr).toBe(operandCrReference(operand))
  })

  test.prop([operandArb, fc.oneof(fc.constant(undefined), fc.jsonValue(), fc.double())], { numRuns: 300 })(
    "is readLatestAvailableRevision with the problem told for the operand (one reading of the field)",
    (operand, value) => {
      const object = value === undefined ? undefined : cr(value)
      const read = readLatestAvailableRevision(object)
      const decoded = decodeLatestAvailableRevision(operand, object)
      expect(Result.isSuccess(decoded)).toBe(Result.isSuccess(read))
      if (Result.isSuccess(read)) expect(decoded).toEqual(read)
    },
  )

  it("collects every operand's error from the four CRs", () => {
    const crs: Record<OperandName, unknown> = { etcd: cr(3), "kube-apiserver": cr(0), "kube-controller-manager": undefined, "kube-scheduler": cr(7) }
    const errors = failure(decodeObservedRevisions(crs))
    expect(errors.map((e) => [e._tag, e.operand])).toEqual([
      ["LatestRevisionZero", "kube-apiserver"],
      ["OperatorCrMissing", "kube-controller-manager"],
    ])
  })

  test.prop([revisionSetArb], { numRuns: 100 })("reads the observed set from four good CRs", (set) => {
    const crs = Object.fromEntries(operandNames.map((name) => [name, cr(set[name])])) as Record<OperandName, unknown>
    expect(decodeObservedRevisions(crs)).toEqual(Result.succeed(set))
  })
})

describe("diffRevisions", () => {
  test.prop([revisionSetArb, revisionSetArb], { numRuns: 300 })("is empty iff the sets are equal", (a, b) => {
    expect(diffRevisions(a, b).length === 0).toBe(revisionSetsEqual(a, b))
    expect(diffRevisions(a, a)).toEqual([])
  })

  test.prop([revisionSetArb, revisionSetArb], { numRuns: 300 })("names exactly the operands that moved, from the old to the new revision", (observed, last) => {
    const changes = diffRevisions(observed, last)
    expect(changes.map((c) => c.operand)).toEqual(operandNames.filter((n) => observed[n] !== last[n]))
    for (const c of changes) {
      expect(c.from).toBe(last[c.operand])
      expect(c.to).toBe(observed[c.operand])
    }
  })

  test.prop([revisionSetArb], { numRuns: 100 })("with nothing backed up, every operand changes from undefined", (observed) => {
    expect(diffRevisions(observed, undefined)).toEqual(operandNames.map((operand) => ({ operand, from: undefined, to: observed[operand] })))
  })

  it("formats a change for people", () => {
    expect(formatRevisionChange({ operand: "kube-apiserver", from: 6, to: 7 })).toBe("kube-apiserver 6 -> 7")
    expect(formatRevisionChange({ operand: "etcd", from: undefined, to: 3 })).toBe("etcd (none) -> 3")
  })
})

describe("parseRevisionsFlag", () => {
  it("parses the pod's flag", () => {
    expect(parseRevisionsFlag("etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7")).toEqual(
      Result.succeed({ etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }),
    )
  })

  test.prop([revisionSetArb], { numRuns: 300 })("is the inverse of formatRevisionSet", (set) => {
    expect(parseRevisionsFlag(formatRevisionSet(set))).toEqual(Result.succeed(set))
  })

  test.prop([revisionSetArb, fc.nat()], { numRuns: 200 })("accepts any order and blanks around items", (set, seed) => {
    const items = formatRevisionSet(set).split(",")
    const rotated = items.map((_, i) => items[(i + seed) % items.length]!)
    expect(parseRevisionsFlag(rotated.join(" , "))).toEqual(Result.succeed(set))
  })

  it.each([
    ["", "empty", ""],
    ["  ", "empty", ""],
    ["etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler", "malformed-item", "kube-scheduler"],
    ["etcd=3,,kube-apiserver=7", "malformed-item", ""],
    ["etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7,openshift-apiserver=2", "unknown-operand", "openshift-apiserver"],
    ["ETCD=3", "unknown-operand", "ETCD"],
    ["etcd=3,etcd=4", "duplicate-operand", "etcd"],
    ["etcd=three", "not-a-revision", "etcd=three"],
    ["etcd=0", "not-a-revision", "etcd=0"],
    ["etcd=-1", "not-a-revision", "etcd=-1"],
    ["etcd=1.5", "not-a-revision", "etcd=1.5"],
    ["etcd=1e3", "not-a-revision", "etcd=1e3"],
    ["etcd=0x10", "not-a-revision", "etcd=0x10"],
    ["etcd=", "not-a-revision", "etcd="],
    [`etcd=${maxRevision + 1}`, "not-a-revision", `etcd=${maxRevision + 1}`],
    ["etcd=3", "missing-operand", "kube-apiserver"],
    ["etcd=3,kube-apiserver=7,kube-scheduler=7", "missing-operand", "kube-controller-manager"],
  ])("%j is refused: %s", (text, problem, item) => {
    const error = failure(parseRevisionsFlag(text))
    expect(error._tag).toBe("RevisionsFlagInvalid")
    expect(error.problem).toBe(problem)
    expect(error.item).toBe(item)
    expect(error.message).toMatch(/^--revisions: .*expected e\.g\. etcd=3,/)
  })

  test.prop([fc.string({ maxLength: 80 })], { numRuns: 500 })("any text is a RevisionSet or a typed error; what parses formats back equivalently", (text) => {
    const r = parseRevisionsFlag(text)
    if (Result.isSuccess(r)) {
      expect(Schema.is(RevisionSet)(r.success)).toBe(true)
      expect(parseRevisionsFlag(formatRevisionSet(r.success))).toEqual(r)
    } else {
      expect(r.failure._tag).toBe("RevisionsFlagInvalid")
    }
  })

  /** The canonical flag with one item dropped, duplicated, renamed or given a bad number. */
  const brokenArb = fc.tuple(revisionSetArb, fc.integer({ min: 0, max: 3 }), fc.constantFrom("drop", "dup", "rename", "number")).map(([set, i, how]) => {
    const items = formatRevisionSet(set).split(",")
    const item = items[i]!
    const name = item.split("=")[0]!
    const broken =
      how === "drop"
        ? items.filter((_, j) => j !== i)
        : how === "dup"
          ? [...items, item]
          : how === "rename"
            ? items.map((it, j) => (j === i ? `x${it}` : it))
            : items.map((it, j) => (j === i ? `${name}=${set[name as OperandName]}.0` : it))
    const problem = { drop: "missing-operand", dup: "duplicate-operand", rename: "unknown-operand", number: "not-a-revision" }[how]
    return { text: broken.join(","), problem }
  })
  test.prop([brokenArb], { numRuns: 300 })("every broken flag names its problem", ({ text, problem }) => {
    expect(failure(parseRevisionsFlag(text)).problem).toBe(problem)
  })
})
