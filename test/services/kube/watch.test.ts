/** The resilient watch over scripted connections: what it does on each way a connection ends. */
import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { errorFromStatus, type KubeError } from "../../../src/services/kube/errors.ts"
import type { RetryPolicy } from "../../../src/services/kube/retry.ts"
import { resilientWatch, type ConnectionEvent, type WatchEvent } from "../../../src/services/kube/watch.ts"

const retry: RetryPolicy = { maxRetries: 2, baseDelayMillis: 0, maxDelayMillis: 0, jitter: 0 }
const ref = { kind: "Pod", namespace: "ns" }
const added = (name: string, rv: number): ConnectionEvent<string> => ({ type: "ADDED", object: name, resourceVersion: String(rv) })
const bookmark = (rv: number): ConnectionEvent<string> => ({ type: "BOOKMARK", resourceVersion: String(rv) })

type Script = ReadonlyArray<{ readonly events: ReadonlyArray<ConnectionEvent<string>>; readonly then?: KubeError }>

/** Connections follow the script; after it, connections stay open and silent. Records each resourceVersion asked for. */
const scripted = (script: Script) => {
  const asked: Array<string> = []
  let lists = 0
  const connect = (resourceVersion: string): Stream.Stream<ConnectionEvent<string>, KubeError> => {
    const step = script[asked.length]
    asked.push(resourceVersion)
    if (step === undefined) return Stream.never
    const events = Stream.fromIterable(step.events)
    return step.then === undefined ? events : Stream.concat(events, Stream.fail(step.then))
  }
  const list = Effect.sync(() => {
    lists++
    return { items: [`listed-${lists}`], resourceVersion: String(100 * lists) }
  })
  return { asked, connect, list, lists: () => lists }
}

const collect = (stream: Stream.Stream<WatchEvent<string>, KubeError>, n: number) =>
  Effect.runPromise(Stream.runCollect(Stream.take(stream, n)))
const label = (e: WatchEvent<string>) => (e.type === "SYNC" ? `SYNC ${e.objects.join(",")}@${e.resourceVersion}` : `${e.type} ${e.object}`)

const unavailable = errorFromStatus({ code: 503 }, ref)

describe("resilient watch", () => {
  it("lists first (a SYNC), then watches from the list's resourceVersion", async () => {
    const s = scripted([{ events: [added("a", 101)] }])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, retry }), 2)
    expect(events.map(label)).toEqual(["SYNC listed-1@100", "ADDED a"])
    expect(s.asked[0]).toBe("100")
  })

  it("reconnects from the last event or bookmark after clean ends and failures, without emitting bookmarks", async () => {
    const s = scripted([
      { events: [added("a", 5), added("b", 6)] },
      { events: [bookmark(9)], then: unavailable },
      { events: [added("c", 10)] },
    ])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, retry, resourceVersion: "4" }), 3)
    expect(events.map(label)).toEqual(["ADDED a", "ADDED b", "ADDED c"])
    expect(s.asked.slice(0, 3)).toEqual(["4", "6", "9"])
    expect(s.lists()).toBe(0)
  })

  it("relists and emits a new SYNC on 410 Expired", async () => {
    const s = scripted([{ events: [added("a", 5)], then: errorFromStatus({ code: 410, reason: "Expired" }, ref) }, { events: [added("b", 101)] }])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, retry, resourceVersion: "4" }), 3)
    expect(events.map(label)).toEqual(["ADDED a", "SYNC listed-1@100", "ADDED b"])
    expect(s.asked.slice(0, 2)).toEqual(["4", "100"])
  })

  it("fails with the last error once consecutive connection failures exceed the retry budget", async () => {
    const s = scripted([{ events: [], then: unavailable }, { events: [], then: unavailable }, { events: [], then: unavailable }, { events: [added("late", 9)] }])
    const exit = await Effect.runPromise(Effect.flip(Stream.runDrain(resilientWatch({ list: s.list, connect: s.connect, retry, resourceVersion: "1" }))))
    expect(exit).toMatchObject({ _tag: "Unavailable", code: 503 })
    expect(s.asked).toHaveLength(3)
  })

  it("resets the failure count when a connection delivers events", async () => {
    const s = scripted([
      { events: [], then: unavailable },
      { events: [], then: unavailable },
      { events: [added("a", 2)], then: unavailable },
      { events: [], then: unavailable },
      { events: [added("b", 3)] },
    ])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, retry, resourceVersion: "1" }), 2)
    expect(events.map(label)).toEqual(["ADDED a", "ADDED b"])
  })

  it("ends at once on an error that retrying cannot fix", async () => {
    const s = scripted([{ events: [added("a", 2)], then: errorFromStatus({ code: 403, reason: "Forbidden" }, ref) }])
    const stream = resilientWatch({ list: s.list, connect: s.connect, retry, resourceVersion: "1" })
    const error = await Effect.runPromise(Effect.flip(Stream.runDrain(stream)))
    expect(error).toMatchObject({ _tag: "Forbidden" })
    expect(s.asked).toHaveLength(1)
  })
})
