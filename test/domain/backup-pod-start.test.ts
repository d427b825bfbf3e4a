import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { mountWaitLimitMs, mountWaitWords, notStartingFrom, notStartingOf } from "../../src/domain/backup-pod-start.ts"

const podArb = fc.record({
  name: fc.constantFrom("cluster-backup-a", "cluster-backup-b"),
  stuck: fc.option(fc.constantFrom("container backup-init: ImagePullBackOff", "container backup-upload: CreateContainerConfigError"), {
    nil: undefined,
  }),
  mountWaitSince: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
})
const nowArb = fc.integer({ min: 0, max: 20_000_000 })

describe("backup-pod-start", () => {
  test.prop([podArb, nowArb])("the kubelet's words come first, at once", (pod, now) => {
    if (pod.stuck !== undefined) expect(notStartingOf(pod, now)).toBe(pod.stuck)
  })

  test.prop([podArb, nowArb])("a pod on its node with no container started counts as not starting exactly from the limit on", (pod, now) => {
    if (pod.stuck !== undefined) return
    const expected = pod.mountWaitSince !== undefined && now - pod.mountWaitSince >= mountWaitLimitMs ? mountWaitWords(pod.name) : undefined
    expect(notStartingOf(pod, now)).toBe(expected)
  })

  test.prop([podArb, nowArb])("the time to look again is ahead of now, and from it on the pod counts as not starting", (pod, now) => {
    const at = notStartingFrom(pod, now)
    if (at === undefined) {
      // Nothing to wait for: it is either not starting already or never will be by waiting.
      expect(notStartingOf(pod, now + 10 * mountWaitLimitMs)).toBe(notStartingOf(pod, now))
      return
    }
    expect(at).toBeGreaterThan(now)
    expect(notStartingOf(pod, at - 1)).toBeUndefined()
    expect(notStartingOf(pod, at)).toBe(mountWaitWords(pod.name))
  })

  test("the words name the pod to describe and the two-minute limit", () => {
    expect(mountWaitWords("cluster-backup-a")).toContain("oc describe pod cluster-backup-a")
    expect(mountWaitWords("cluster-backup-a")).toContain("within 2m on its node")
  })
})
