import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { mountTroubleIn, mountWaitLimitMs, mountWaitWords, notStartingFrom, notStartingOf, waitsToMount } from "../../src/domain/backup-pod-start.ts"

const podArb = fc.record({
  name: fc.constantFrom("cluster-backup-a", "cluster-backup-b"),
  stuck: fc.option(fc.constantFrom("container backup-init: ImagePullBackOff", "container backup-upload: CreateContainerConfigError"), {
    nil: undefined,
  }),
  mountWaitSince: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
  mountTrouble: fc.option(fc.constant('FailedMount: MountVolume.SetUp failed for volume "proxy" : secret "cluster-backup-proxy" not found'), {
    nil: undefined,
  }),
})
const eventArb = fc.record({
  reason: fc.option(fc.constantFrom("FailedMount", "FailedAttachVolume", "Scheduled", "Pulling", "BackOff"), { nil: undefined }),
  message: fc.option(fc.constantFrom("", "  ", "MountVolume.SetUp failed", "AttachVolume.Attach failed", "pulling image"), { nil: undefined }),
  at: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
})
const nowArb = fc.integer({ min: 0, max: 20_000_000 })

describe("backup-pod-start", () => {
  test.prop([podArb, nowArb])("the kubelet's words come first, at once", (pod, now) => {
    if (pod.stuck !== undefined) expect(notStartingOf(pod, now)).toBe(pod.stuck)
  })

  test.prop([podArb, nowArb])("a pod on its node with no container started counts as not starting exactly from the limit on", (pod, now) => {
    if (pod.stuck !== undefined) return
    const expected = pod.mountWaitSince !== undefined && now - pod.mountWaitSince >= mountWaitLimitMs ? mountWaitWords(pod.name, pod.mountTrouble) : undefined
    expect(notStartingOf(pod, now)).toBe(expected)
    expect(waitsToMount(pod, now)).toBe(expected !== undefined)
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
    expect(notStartingOf(pod, at)).toBe(mountWaitWords(pod.name, pod.mountTrouble))
  })

  test.prop([fc.array(eventArb, { maxLength: 6 })])("the trouble is the newest volume Event with words, and only such an Event", (events) => {
    const candidates = events.filter(
      (e) => (e.reason === "FailedMount" || e.reason === "FailedAttachVolume") && e.message !== undefined && e.message.trim() !== "",
    )
    const trouble = mountTroubleIn(events)
    if (candidates.length === 0) {
      expect(trouble).toBeUndefined()
      return
    }
    const newest = Math.max(...candidates.map((e) => e.at ?? 0))
    expect(candidates.filter((e) => (e.at ?? 0) === newest).map((e) => `${e.reason}: ${e.message!.trim()}`)).toContain(trouble)
  })

  test("the words name the pod to describe and the two-minute limit, or quote its Events when they were read", () => {
    expect(mountWaitWords("cluster-backup-a")).toContain("oc describe pod cluster-backup-a")
    expect(mountWaitWords("cluster-backup-a")).toContain("within 2m on its node")
    expect(mountWaitWords("cluster-backup-a", "FailedMount: secret not found")).toBe(
      "containers: none started within 2m on its node (FailedMount: secret not found)",
    )
  })
})
