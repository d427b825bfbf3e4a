import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  actionPaths,
  isUpfront,
  planStep,
  type Precondition,
  type RestoreAction,
  runTimePreconditions,
  stepIds,
  upfrontPreconditions,
} from "../../src/domain/host-steps.ts"

const pathArb = fc.constantFrom("/a", "/a/b", "/c", "/var/lib/etcd/member", "/etc/kubernetes/manifests/etcd-pod.yaml")

const actionArb: fc.Arbitrary<RestoreAction> = fc.oneof(
  fc.record({ _tag: fc.constant("Move" as const), from: pathArb, to: pathArb }),
  fc.record({ _tag: fc.constant("CreateDirectory" as const), path: pathArb, mode: fc.constant(0o700) }),
  fc.record({ _tag: fc.constant("RemoveEmptyDirectory" as const), path: pathArb }),
  fc.record({ _tag: fc.constant("CopyFile" as const), from: pathArb, to: pathArb, mode: fc.constant(0o600) }),
  fc.record({
    _tag: fc.constant("RunCommand" as const),
    argv: fc.constant(["etcdutl"]),
    reads: fc.array(pathArb, { maxLength: 2 }),
    writes: fc.array(pathArb, { maxLength: 2 }),
  }),
)

const preconditionArb: fc.Arbitrary<Precondition> = fc.oneof(
  fc.record({ _tag: fc.constant("PathExists" as const), path: pathArb }),
  fc.record({ _tag: fc.constant("PathAbsent" as const), path: pathArb }),
  fc.record({ _tag: fc.constant("FreeSpace" as const), path: pathArb, bytes: fc.nat() }),
  fc.record({ _tag: fc.constant("IsDirectory" as const), path: pathArb, linkAllowed: fc.boolean(), mayBeAbsent: fc.boolean() }),
  fc.record({ _tag: fc.constant("EtcdutlSupports" as const), flags: fc.constant(["--bump-revision"]) }),
)

const stepArb = fc.record({
  id: fc.constantFrom(...stepIds),
  preconditions: fc.array(preconditionArb, { maxLength: 4 }),
  actions: fc.array(actionArb, { maxLength: 4 }),
  undo: fc.array(actionArb, { maxLength: 2 }),
})

type StepSpec = typeof stepArb extends fc.Arbitrary<infer T> ? T : never

const stepsOf = (specs: ReadonlyArray<StepSpec>) => specs.map((s) => planStep({ ...s, title: s.id, description: "", onFailure: "" }))

describe("host steps", () => {
  it("property: a step touches exactly the paths its actions and its undo name, each once", () => {
    fc.assert(
      fc.property(stepArb, (spec) => {
        const [step] = stepsOf([spec])
        const expected = new Set([...spec.actions.flatMap(actionPaths), ...spec.undo.flatMap(actionPaths)])
        expect(new Set(step!.touches)).toEqual(expected)
        expect(step!.touches.length).toBe(expected.size)
      }),
    )
  })

  it("property: every precondition is checked once up front or right before its step, never both", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 5 }), (specs) => {
        const plan = { root: "/", steps: stepsOf(specs) }
        const upfront = upfrontPreconditions(plan)
        expect(new Set(upfront.map((p) => JSON.stringify(p))).size).toBe(upfront.length)
        expect(upfront.every(isUpfront)).toBe(true)
        for (const p of plan.steps.flatMap((s) => s.preconditions).filter(isUpfront)) expect(upfront).toContainEqual(p)
        const atRunTime = runTimePreconditions(plan)
        expect(atRunTime.length).toBe(plan.steps.flatMap((s) => s.preconditions).filter((p) => !isUpfront(p)).length)
        for (const r of atRunTime) {
          expect(isUpfront(r.precondition)).toBe(false)
          expect(plan.steps[r.number - 1]!.id).toBe(r.step)
          expect(plan.steps[r.number - 1]!.preconditions).toContainEqual(r.precondition)
        }
      }),
    )
  })
})
