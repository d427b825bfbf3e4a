import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import type { BackupPolicyStatus } from "../../src/domain/backup-policy.ts"
import { describeProgress, followedRequest, initContainerNames, podStep, requestProgress, type RequestedPolicy } from "../../src/domain/backup-request.ts"
import { backupRequestAnnotation } from "../../src/domain/policy-pod.ts"

const time = "2026-12-07T10:00:00Z"
const pods = fc.constantFrom("backup-p-1", "backup-p-2", "backup-p-3")
const requests = fc.constantFrom("r1", "r2", "r3")
const condition = (type: string, status: "True" | "False", reason: string) => ({ type, status, reason, message: `${reason} words`, lastTransitionTime: time })
const statusArb: fc.Arbitrary<BackupPolicyStatus> = fc.record(
  {
    // The operator records the request's pod's end there (an older one does not: no outcome).
    lastRequest: fc.tuple(requests, pods, fc.constantFrom("none", "backup", "failure")).map(([id, pod, outcome]) => ({
      id,
      pod,
      time,
      ...(outcome === "backup" ? { backup: { id: "own", pod, time } } : outcome === "failure" ? { failure: { pod, reason: "BackupInitFailed", time } } : {}),
    })),
    lastSuccessfulBackup: fc.record({ id: fc.constant("b"), pod: pods, time: fc.constant(time) }),
    lastFailure: fc.record({ pod: pods, reason: fc.constant("BackupUploadFailed"), time: fc.constant(time) }),
    active: pods.map((name) => [{ kind: "Pod" as const, name }]),
    conditions: fc.subarray([
      condition("Degraded", "True", "InvalidSpec"),
      condition("Degraded", "True", "RevisionsUnavailable"),
      condition("Progressing", "True", "BackupPodNotStarting"),
    ]),
  },
  { requiredKeys: [] },
)
const policyArb = fc.record({
  annotations: fc.option(
    requests.map((r) => ({ [backupRequestAnnotation]: r })),
    { nil: undefined },
  ),
  deleting: fc.boolean(),
  status: statusArb,
})

describe("requestProgress", () => {
  test.prop([policyArb, requests])("ends only by the pod the status records for the request, as that pod's success or failure", (policy, request) => {
    const p = requestProgress(policy, request)
    const pod = policy.status.lastRequest?.id === request ? policy.status.lastRequest.pod : undefined
    if (pod === undefined) expect(p._tag).toBe("NotStarted")
    else expect(p._tag).not.toBe("NotStarted")
    const recorded = pod === undefined ? undefined : policy.status.lastRequest
    // What the operator recorded of the request's pod decides, whatever later backups the status names since.
    if (recorded?.backup !== undefined) expect(p).toEqual({ _tag: "Succeeded", pod, backup: recorded.backup })
    else if (recorded?.failure !== undefined) expect(p).toEqual({ _tag: "Failed", pod, failure: recorded.failure })
    else {
      if (p._tag === "Succeeded") expect(policy.status.lastSuccessfulBackup?.pod).toBe(pod)
      if (p._tag === "Failed") {
        expect(policy.status.lastFailure?.pod).toBe(pod)
        expect(policy.status.lastSuccessfulBackup?.pod).not.toBe(pod)
      }
    }
    expect(describeProgress(p)).not.toBe("")
  })

  test.prop([policyArb, requests, pods])("a pod once known is followed, whatever request the status records since", (policy, request, pod) => {
    const p = requestProgress(policy, request, pod)
    expect(p._tag).not.toBe("NotStarted")
    expect((p as { pod: string }).pod).toBe(pod)
  })

  test.prop([policyArb, requests])("is blocked only by a policy being deleted or Degraded for what needs a person, never once started", (policy, request) => {
    const p = requestProgress(policy, request)
    if (p._tag !== "NotStarted" || p.blocked === undefined) return
    expect(policy.status.lastRequest?.id).not.toBe(request)
    expect(policy.deleting || policy.status.conditions?.some((c) => c.reason === "InvalidSpec")).toBe(true)
  })

  it("names the backup running ahead of it, and the kubelet's words for its own pod that cannot start", () => {
    const behind: RequestedPolicy = { annotations: undefined, deleting: false, status: { active: [{ kind: "Pod", name: "backup-p-1" }] } }
    expect(describeProgress(requestProgress(behind, "r1"))).toBe("waiting: pod backup-p-1, a backup already running, ends first")
    const stuck: RequestedPolicy = {
      annotations: undefined,
      deleting: false,
      status: {
        lastRequest: { id: "r1", pod: "backup-p-2", time },
        active: [{ kind: "Pod", name: "backup-p-2" }],
        conditions: [{ ...condition("Progressing", "True", "BackupPodNotStarting"), message: "ImagePullBackOff" }],
      },
    }
    expect(describeProgress(requestProgress(stuck, "r1"))).toBe("pod backup-p-2 cannot start: ImagePullBackOff")
  })
})

describe("followedRequest", () => {
  test.prop([policyArb, requests])(
    "the request itself once started; before, the annotation's current value (a later request), or none when withdrawn",
    (policy, request) => {
      const followed = followedRequest(policy, request)
      if (policy.status.lastRequest?.id === request) expect(followed).toBe(request)
      else expect(followed).toBe(policy.annotations?.[backupRequestAnnotation])
    },
  )
})

describe("podStep", () => {
  const names = ["backup-init", "backup-etcd-resources", "backup-create", "backup-upload"]
  test.prop([
    fc.array(fc.record({ name: fc.constantFrom(...names), exitCode: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }) }), { maxLength: 6 }),
  ])("names the first init container, in the spec's order, that has not ended well, counting as oc get pod does", (statuses) => {
    const view = statuses.map((s) => ({ name: s.name, state: s.exitCode === undefined ? {} : { terminated: { exitCode: s.exitCode } } }))
    const step = podStep(names, view)
    const ok = (name: string) => view.find((s) => s.name === name)?.state.terminated?.exitCode === 0
    const at = names.findIndex((n) => !ok(n))
    if (at === -1) expect(step).toBeUndefined()
    else expect(step).toBe(`${names[at]} (init container ${at + 1} of 4)`)
  })

  test.prop([fc.array(fc.oneof(fc.record({ name: fc.string() }), fc.constant(null), fc.record({ image: fc.string() })))])(
    "initContainerNames: the named init containers, in the spec's order",
    (initContainers) => {
      expect(initContainerNames({ initContainers })).toEqual(initContainers.flatMap((c) => (c !== null && "name" in c ? [c.name] : [])))
    },
  )

  it("a pod with no init containers has no step", () => {
    expect(podStep([], [])).toBeUndefined()
  })
})
