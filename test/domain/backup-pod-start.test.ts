import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import {
  mountWaitLimitMs,
  notStartingFrom,
  notStartingOf,
  pullWaitLimitMs,
  pullingOf,
  startEventIn,
  unreadEventsRetryMs,
  startEventsWanted,
  startWaitWords,
} from "../../src/domain/backup-pod-start.ts"

const startEventArb = fc.option(
  fc.constantFrom(
    { kind: "mount" as const, words: 'FailedMount: MountVolume.SetUp failed for volume "proxy" : secret "cluster-backup-proxy" not found' },
    { kind: "pull" as const, words: 'Pulling: Pulling image "quay.io/openshift/cluster-backup:1"' },
    { kind: "unread" as const, words: "Event in namespace openshift-etcd: the API server at https://api:6443 refused the connection" },
  ),
  { nil: undefined },
)
const podArb = fc.record({
  name: fc.constantFrom("cluster-backup-a", "cluster-backup-b"),
  stuck: fc.option(fc.constantFrom("container backup-init: ImagePullBackOff", "container backup-upload: CreateContainerConfigError"), {
    nil: undefined,
  }),
  mountWaitSince: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
  startEvent: startEventArb,
})
const eventArb = fc.record({
  reason: fc.option(fc.constantFrom("FailedMount", "FailedAttachVolume", "Scheduled", "Pulling", "Pulled", "BackOff"), { nil: undefined }),
  message: fc.option(fc.constantFrom("", "  ", "MountVolume.SetUp failed", "AttachVolume.Attach failed", 'Pulling image "x"'), { nil: undefined }),
  at: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
})
/** A pod and a time around its limits (most often after it came on its node). */
const podNowArb = fc
  .tuple(podArb, fc.integer({ min: -mountWaitLimitMs, max: 2 * pullWaitLimitMs }))
  .map(([pod, elapsed]) => [pod, Math.max(0, (pod.mountWaitSince ?? 0) + elapsed)] as const)
const kindOf: Record<string, "mount" | "pull"> = { FailedMount: "mount", FailedAttachVolume: "mount", Pulling: "pull" }

describe("backup-pod-start", () => {
  test.prop([podNowArb])("the kubelet's words come first, at once", ([pod, now]) => {
    if (pod.stuck !== undefined) expect(notStartingOf(pod, now)).toBe(pod.stuck)
  })

  test.prop([podNowArb])(
    "a pod on its node with no container started counts as not starting exactly from its limit on: a pull's when its Events show one, or could not be read",
    ([pod, now]) => {
      if (pod.stuck !== undefined) return
      const limit = pod.startEvent?.kind === "pull" || pod.startEvent?.kind === "unread" ? pullWaitLimitMs : mountWaitLimitMs
      const expected = pod.mountWaitSince !== undefined && now - pod.mountWaitSince >= limit ? startWaitWords(pod.name, pod.startEvent) : undefined
      expect(notStartingOf(pod, now)).toBe(expected)
      // Its Events are wanted from the mount wait's limit on, a pull's too: they are what tells a pull.
      expect(startEventsWanted(pod, now)).toBe(pod.mountWaitSince !== undefined && now - pod.mountWaitSince >= mountWaitLimitMs)
      expect(pullingOf(pod, now)).toBe(pod.startEvent?.kind === "pull" && expected === undefined ? pod.startEvent.words : undefined)
    },
  )

  test.prop([podNowArb])("the time to look again is ahead of now, and from it on the pod counts as not starting", ([pod, now]) => {
    const at = notStartingFrom(pod, now)
    if (at === undefined) {
      // Nothing to wait for: it is either not starting already or never will be by waiting.
      expect(notStartingOf(pod, now + 10 * pullWaitLimitMs)).toBe(notStartingOf(pod, now))
      return
    }
    expect(at).toBeGreaterThan(now)
    expect(notStartingOf(pod, at - 1)).toBeUndefined()
    // Events that could not be read are read again soon: before the limit, that is only a time to look again.
    if (pod.startEvent?.kind === "unread" && at === now + unreadEventsRetryMs && notStartingOf(pod, at) === undefined) return
    expect(at).toBeLessThanOrEqual(pod.startEvent?.kind === "unread" ? now + unreadEventsRetryMs : Number.POSITIVE_INFINITY)
    expect(notStartingOf(pod, at)).toBe(startWaitWords(pod.name, pod.startEvent))
  })

  test.prop([fc.array(eventArb, { maxLength: 6 })])("the start Event is the newest volume or pull Event with words, and only such an Event", (events) => {
    const candidates = events.filter((e) => e.reason !== undefined && kindOf[e.reason] !== undefined && e.message !== undefined && e.message.trim() !== "")
    const found = startEventIn(events)
    if (candidates.length === 0) {
      expect(found).toBeUndefined()
      return
    }
    const newest = Math.max(...candidates.map((e) => e.at ?? 0))
    expect(
      candidates.filter((e) => (e.at ?? 0) === newest).map((e) => ({ kind: kindOf[e.reason!], words: `${e.reason}: ${e.message!.trim()}` })),
    ).toContainEqual(found)
  })

  test("the words name the pod to describe and the limit, or quote its Events when they were read", () => {
    expect(startWaitWords("cluster-backup-a")).toContain("oc describe pod cluster-backup-a")
    expect(startWaitWords("cluster-backup-a")).toContain("within 2m on its node")
    expect(startWaitWords("cluster-backup-a", { kind: "mount", words: "FailedMount: secret not found" })).toBe(
      "containers: none started within 2m on its node (FailedMount: secret not found)",
    )
    expect(startWaitWords("cluster-backup-a", { kind: "pull", words: 'Pulling: Pulling image "x"' })).toBe(
      'containers: none started within 10m on its node, its image still being pulled (Pulling: Pulling image "x")',
    )
    expect(startWaitWords("cluster-backup-a", { kind: "unread", words: "no answer" })).toBe(
      "containers: none started within 10m on its node; its Events could not be read (no answer): those of oc describe pod cluster-backup-a say why",
    )
  })
})
