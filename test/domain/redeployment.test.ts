import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { operandNames } from "../../src/domain/operands.ts"
import {
  parseOperandList,
  RedeploymentReason,
  recoveryReason,
  redeploymentPatch,
  redeploymentReasonOf,
  revisionMadeFor,
  rolloutProgress,
} from "../../src/domain/redeployment.ts"
import { revisionArb } from "./arbitraries.ts"

const isReason = Schema.is(RedeploymentReason)

describe("parseOperandList", () => {
  test.prop([fc.shuffledSubarray([...operandNames], { minLength: 1 })])("any operands in any order come back once each, in OpenShift's order", (names) => {
    const parsed = Result.getOrThrow(parseOperandList(names.join(",")))
    expect(parsed).toEqual(operandNames.filter((n) => names.includes(n)))
  })

  test.prop([fc.shuffledSubarray([...operandNames], { minLength: 1 }), fc.nat()])("a name given twice is refused", (names, i) => {
    const twice = [...names, names[i % names.length]!]
    expect(Result.isFailure(parseOperandList(twice.join(",")))).toBe(true)
  })

  it.each(["", "etcd,", "etcd,kube-apiserver,kubescheduler", "openshift-apiserver", "ETCD"])("refuses %j, naming the operands", (text) => {
    const parsed = parseOperandList(text)
    expect(Result.isFailure(parsed) && parsed.failure).toContain("etcd, kube-apiserver, kube-controller-manager, kube-scheduler")
  })

  it("takes blanks around the names", () => {
    expect(Result.getOrThrow(parseOperandList(" kube-scheduler , etcd"))).toEqual(["etcd", "kube-scheduler"])
  })
})

describe("the reason", () => {
  test.prop([fc.uuid()])("a restore's reason is valid, and the patch's reason reads back", (id) => {
    const reason = recoveryReason(id)
    expect(isReason(reason)).toBe(true)
    expect(redeploymentReasonOf(redeploymentPatch(reason))).toBe(reason)
  })

  test.prop([fc.string({ unit: fc.constantFrom(..."abc -_:.+XYZ09".split("")), minLength: 1, maxLength: 256 })])(
    "printable ASCII up to 256 characters is valid unless it starts or ends with a blank",
    (text) => {
      expect(isReason(text)).toBe(!text.startsWith(" ") && !text.endsWith(" "))
    },
  )

  it.each(["", "a".repeat(257), "recovery\n", "recovery\u0000x", "récupération", " recovery"])("refuses %j", (text) => {
    expect(isReason(text)).toBe(false)
  })

  test.prop([fc.uuid(), fc.uuid()])("a revision's pod ConfigMap was made for the reason it holds, and for no other", (a, b) => {
    const cm = { metadata: { name: "etcd-pod-4" }, data: { "pod.yaml": "kind: Pod", forceRedeploymentReason: recoveryReason(a) } }
    expect(revisionMadeFor(cm, recoveryReason(a))).toBe(true)
    expect(revisionMadeFor(cm, recoveryReason(b))).toBe(a === b)
    expect(revisionMadeFor({ data: {} }, recoveryReason(a))).toBe(false)
    expect(revisionMadeFor(undefined, recoveryReason(a))).toBe(false)
  })

  it.each([undefined, null, {}, { spec: null }, { spec: { forceRedeploymentReason: 7 } }, { spec: {} }])(
    "reads an absent or malformed reason as empty: %j",
    (cr) => {
      expect(redeploymentReasonOf(cr)).toBe("")
    },
  )
})

const nodeArb = (latest: number) =>
  fc.record(
    {
      currentRevision: fc.oneof(fc.constant(latest), fc.integer({ min: 1, max: Math.max(1, latest - 1) })),
      targetRevision: fc.constantFrom(0, latest),
      lastFailedRevision: fc.constantFrom(latest, Math.max(1, latest - 1)),
      lastFailedRevisionErrors: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 2 }),
    },
    { requiredKeys: ["currentRevision"] },
  )

const crArb = revisionArb.chain((latest) =>
  fc.record({
    latest: fc.constant(latest),
    nodes: fc.array(nodeArb(latest), { minLength: 1, maxLength: 5 }),
    above: fc.option(fc.integer({ min: 0, max: latest + 1 }), { nil: undefined }),
  }),
)

const crOf = (latest: number, nodes: ReadonlyArray<Record<string, unknown>>) => ({
  spec: {},
  status: { latestAvailableRevision: latest, nodeStatuses: nodes.map((n, i) => ({ nodeName: `master-${i}`, ...n })) },
})

describe("rolloutProgress", () => {
  test.prop([crArb])(
    "rolled out exactly when the latest revision is past the one asked from and on every node; a wait names the failing nodes",
    ({ latest, nodes, above }) => {
      const progress = rolloutProgress(crOf(latest, nodes), above)
      const done = (above === undefined || latest > above) && nodes.every((n) => n.currentRevision === latest)
      expect(progress._tag).toBe(done ? "RolledOut" : "Waiting")
      if (progress._tag === "RolledOut") expect(progress).toEqual({ _tag: "RolledOut", revision: latest, nodes: nodes.length })
      else if (above === undefined || latest > above) {
        const failing = nodes.flatMap((n, i) => (n.currentRevision !== latest && n.lastFailedRevision === latest ? [`master-${i}`] : []))
        expect(progress.failing.map((f) => f.node)).toEqual(failing)
        expect(progress.why).toContain(`${nodes.filter((n) => n.currentRevision === latest).length} of ${nodes.length} nodes at revision ${latest}`)
      } else expect(progress.why).toContain(`no revision after ${above}`)
    },
  )

  it.each<[string, unknown]>([
    ["no CR", undefined],
    ["no status", { spec: {} }],
    ["no latestAvailableRevision", { status: { nodeStatuses: [] } }],
    ["a revision that is not a number", { status: { latestAvailableRevision: "4", nodeStatuses: [{ nodeName: "a", currentRevision: 4 }] } }],
    ["no node statuses", { status: { latestAvailableRevision: 4 } }],
    ["empty node statuses", { status: { latestAvailableRevision: 4, nodeStatuses: [] } }],
    ["node statuses the operator would not write", { status: { latestAvailableRevision: 4, nodeStatuses: [{ currentRevision: 4 }] } }],
    ["a fractional current revision", { status: { latestAvailableRevision: 4, nodeStatuses: [{ nodeName: "a", currentRevision: 4.5 }] } }],
  ])("waits, never rolled out, on %s", (_what, cr) => {
    expect(rolloutProgress(cr, undefined)._tag).toBe("Waiting")
  })
})
