import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import { operandList } from "../../../src/domain/operands.ts"
import { readLatestAvailableRevision } from "../../../src/domain/revisions.ts"
import {
  etcdOperatorRevisionOf,
  operatorCrKey,
  sameEtcdOperatorRevisions,
  type EtcdOperatorRevisions,
} from "../../../src/programs/backup/etcd-operator-revisions.ts"

const key = "/kubernetes.io/operator.openshift.io/etcds/cluster"
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe("operator revisions read from etcd", () => {
  it("keys are /kubernetes.io/operator.openshift.io/<plural>/cluster", () => {
    expect(operandList().map(operatorCrKey)).toEqual([
      "/kubernetes.io/operator.openshift.io/etcds/cluster",
      "/kubernetes.io/operator.openshift.io/kubeapiservers/cluster",
      "/kubernetes.io/operator.openshift.io/kubecontrollermanagers/cluster",
      "/kubernetes.io/operator.openshift.io/kubeschedulers/cluster",
    ])
  })

  it("any positive int32 latestAvailableRevision is read as is", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_147_483_647 }), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }), (revision, extra) => {
        expect(etcdOperatorRevisionOf(key, json({ ...extra, status: { ...extra, latestAvailableRevision: revision } }))).toEqual({ revision })
      }),
      { numRuns: 200 },
    )
  })

  it("anything else is null with a reason naming the key", () => {
    const invalid = fc.oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: 2_147_483_648, max: Number.MAX_SAFE_INTEGER }),
      fc.double({ noInteger: true }),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
    )
    fc.assert(
      fc.property(invalid, (value) => {
        const observed = etcdOperatorRevisionOf(key, json({ status: { latestAvailableRevision: value } }))
        expect(observed.revision).toBeNull()
        expect(observed.reason).toContain(key)
      }),
      { numRuns: 200 },
    )
    expect(etcdOperatorRevisionOf(key, undefined).reason).toMatch(
      new RegExp(`^${key} does not exist at that revision \\(read under the etcd key prefix /kubernetes.io; .*--etcd-prefix\\)$`),
    )
    expect(etcdOperatorRevisionOf("/registry/x", undefined, "/registry").reason).toContain("read under the etcd key prefix /registry")
    expect(etcdOperatorRevisionOf(key, json({ spec: {} }))).toEqual({ revision: null, reason: `${key} has no status.latestAvailableRevision yet` })
    expect(etcdOperatorRevisionOf(key, Uint8Array.of(0x6b, 0x38, 0x73, 0x00, 0xff)).reason).toBe(`${key} is not JSON (5 bytes)`)
    expect(etcdOperatorRevisionOf(key, json([1, 2])).reason).toContain("is not an object with a status")
  })

  it("reads a CR stored in etcd as the API path reads it (one decoder of latestAvailableRevision)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.integer({ min: -5, max: 2_147_483_650 })), (value) => {
        const object = { status: { latestAvailableRevision: value } }
        const api = readLatestAvailableRevision(object)
        expect(etcdOperatorRevisionOf(key, json(object)).revision).toBe(Result.isSuccess(api) ? api.success : null)
      }),
      { numRuns: 200 },
    )
  })

  it("two observations agree when every operand has the same revision or none", () => {
    const at = (kas: number | null): EtcdOperatorRevisions => ({
      etcd: { revision: 3 },
      "kube-apiserver": kas === null ? { revision: null, reason: "absent" } : { revision: kas },
      "kube-controller-manager": { revision: 5 },
      "kube-scheduler": { revision: 4 },
    })
    expect(sameEtcdOperatorRevisions(at(7), at(7))).toBe(true)
    expect(sameEtcdOperatorRevisions(at(null), at(null))).toBe(true)
    expect(sameEtcdOperatorRevisions(at(7), at(8))).toBe(false)
    expect(sameEtcdOperatorRevisions(at(null), at(1))).toBe(false)
  })
})
