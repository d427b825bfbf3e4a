/** The resilient watch over scripted connections: what it does on each way a connection ends, and its backoff. */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { errorFromStatus, type KubeError } from "../../../src/services/kube/errors.ts"
import { defaultWatchBackoff, resilientWatch, type ConnectionEvent, type WatchBackoff, type WatchEvent } from "../../../src/services/kube/watch.ts"

const fast: WatchBackoff = { baseMillis: 1, maxMillis: 5 }
const ref = { kind: "Pod", namespace: "ns" }
const added = (name: string, rv: number): ConnectionEvent<string> => ({ type: "ADDED", object: name, resourceVersion: String(rv) })
const bookmark = (rv: number): ConnectionEvent<string> => ({ type: "BOOKMARK", resourceVersion: String(rv) })

type Script = ReadonlyArray<{ readonly events: ReadonlyArray<ConnectionEvent<string>>; readonly failWith?: KubeError }>

/** Connections follow the script; after it, connections stay open and silent. Records each resourceVersion asked for. */
const scripted = (script: Script) => {
  const asked: Array<string> = []
  let lists = 0
  const connect = (resourceVersion: string): Stream.Stream<ConnectionEvent<string>, KubeError> => {
    const step = script[asked.length]
    asked.push(resourceVersion)
    if (step === undefined) return Stream.never
    const events = Stream.fromIterable(step.events)
    return step.failWith === undefined ? events : Stream.concat(events, Stream.fail(step.failWith))
  }
  const list = Effect.sync(() => {
    lists++
    return { items: [`listed-${lists}`], resourceVersion: String(100 * lists) }
  })
  return { asked, connect, list, lists: () => lists }
}

const collect = (stream: Stream.Stream<WatchEvent<string>>, n: number) => Effect.runPromise(Stream.runCollect(Stream.take(stream, n)))
const label = (e: WatchEvent<string>) =>
  e.type === "SYNC"
    ? `SYNC ${e.objects.join(",")}@${e.resourceVersion}`
    : e.type === "FAILING"
      ? `FAILING ${e.error._tag}`
      : e.type === "RESTORED"
        ? "RESTORED"
        : `${e.type} ${e.object}`

const unavailable = errorFromStatus({ code: 503 }, ref)
const forbidden = errorFromStatus({ code: 403, reason: "Forbidden" }, ref)

describe("resilient watch", () => {
  it("lists first (a SYNC), then watches from the list's resourceVersion", async () => {
    const s = scripted([{ events: [added("a", 101)] }])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, backoff: fast }), 2)
    expect(events.map(label)).toEqual(["SYNC listed-1@100", "ADDED a"])
    expect(s.asked[0]).toBe("100")
  })

  it("reconnects from the last event or bookmark after clean ends and failures, without emitting bookmarks", async () => {
    const s = scripted([{ events: [added("a", 5), added("b", 6)] }, { events: [bookmark(9)], failWith: unavailable }, { events: [added("c", 10)] }])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, backoff: fast, resourceVersion: "4" }), 3)
    expect(events.map(label)).toEqual(["ADDED a", "ADDED b", "ADDED c"])
    expect(s.asked.slice(0, 3)).toEqual(["4", "6", "9"])
    expect(s.lists()).toBe(0)
  })

  it("relists and emits a new SYNC on 410 Expired", async () => {
    const s = scripted([{ events: [added("a", 5)], failWith: errorFromStatus({ code: 410, reason: "Expired" }, ref) }, { events: [added("b", 101)] }])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, backoff: fast, resourceVersion: "4" }), 3)
    expect(events.map(label)).toEqual(["ADDED a", "SYNC listed-1@100", "ADDED b"])
    expect(s.asked.slice(0, 2)).toEqual(["4", "100"])
  })

  it("lists again when the server has not reached the resourceVersion (504 Too large resource version), instead of resuming from it for ever", async () => {
    const tooLarge = errorFromStatus({ code: 504, reason: "Timeout", message: "Timeout: Too large resource version: 1000, current: 120" }, ref)
    const s = scripted([{ events: [], failWith: tooLarge }, { events: [added("b", 121)] }])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, backoff: fast, resourceVersion: "1000" }), 4)
    expect(events.map(label)).toEqual(["FAILING Timeout", "RESTORED", "SYNC listed-1@100", "ADDED b"])
    expect(s.asked.slice(0, 2)).toEqual(["1000", "100"])
  })

  it("never gives up: consecutive failures, even Forbidden, are reported once as FAILING and once as RESTORED", async () => {
    const s = scripted([
      { events: [], failWith: unavailable },
      { events: [], failWith: forbidden },
      { events: [], failWith: unavailable },
      { events: [added("late", 9)] },
    ])
    const events = await collect(resilientWatch({ list: s.list, connect: s.connect, backoff: fast, resourceVersion: "1" }), 3)
    expect(events.map(label)).toEqual(["FAILING Unavailable", "RESTORED", "ADDED late"])
    // Resumed from where it was each time; after the delivering connection ended, from its last event.
    expect(s.asked.slice(0, 5)).toEqual(["1", "1", "1", "1", "9"])
  })

  it("a list that fails is retried with backoff and reported once", async () => {
    let calls = 0
    const list = Effect.suspend(() => (++calls <= 3 ? Effect.fail(unavailable) : Effect.succeed({ items: ["x"], resourceVersion: "7" })))
    const events = await collect(resilientWatch({ list, connect: () => Stream.never, backoff: fast }), 3)
    expect(events.map(label)).toEqual(["FAILING Unavailable", "RESTORED", "SYNC x@7"])
    expect(calls).toBe(4)
  })
})

describe("resilient watch backoff (TestClock)", () => {
  /** Connections fail while `down()`; records when each was attempted. */
  const outage = (down: (now: number) => boolean) => {
    const attempts: Array<number> = []
    const connect = (): Stream.Stream<ConnectionEvent<string>, KubeError> =>
      Stream.unwrap(
        Effect.map(Clock.currentTimeMillis, (now) => {
          attempts.push(now)
          return down(now) ? Stream.fail(unavailable) : Stream.concat(Stream.make(added(`at-${now}`, attempts.length + 1)), Stream.never)
        }),
      )
    return { attempts, connect }
  }
  const run = (connect: () => Stream.Stream<ConnectionEvent<string>, KubeError>) =>
    Effect.gen(function* () {
      const events: Array<WatchEvent<string>> = []
      const list = Effect.succeed({ items: [], resourceVersion: "1" })
      const fiber = yield* resilientWatch({ list, connect, backoff: defaultWatchBackoff, resourceVersion: "1" }).pipe(
        Stream.runForEach((e) => Effect.sync(() => events.push(e))),
        Effect.forkChild,
      )
      return { events, fiber }
    })
  /** Milliseconds between two attempts, to the microsecond: jittered delays are fractional, so the
   * clock's readings carry floating-point residue (30000.000000000004 for a 30 s gap). */
  const gapMillis = (from: number, to: number) => Math.round((to - from) * 1000) / 1000
  const advance = (ms: number) =>
    Effect.gen(function* () {
      for (let t = 0; t < ms; t += 100) yield* TestClock.adjust(Duration.millis(100))
    })

  it.effect("a minute of outage costs at most 10 attempts, one FAILING and, once it is back, one RESTORED", () =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const s = outage((now) => now - start < 60_000)
      const { events, fiber } = yield* run(s.connect)
      yield* advance(60_000)
      const during = s.attempts.filter((t) => t - start < 60_000).length
      expect(during).toBeGreaterThanOrEqual(5)
      expect(during).toBeLessThanOrEqual(10)
      // Delays double from ~1 s and never exceed 30 s.
      const gaps = s.attempts.slice(1).map((t, i) => gapMillis(s.attempts[i]!, t))
      expect(gaps[0]).toBeGreaterThanOrEqual(800)
      expect(gaps[0]).toBeLessThanOrEqual(1200)
      expect(Math.max(...gaps)).toBeLessThanOrEqual(30_000)
      yield* advance(31_000)
      expect(events.filter((e) => e.type === "FAILING")).toHaveLength(1)
      expect(events.filter((e) => e.type === "RESTORED")).toHaveLength(1)
      expect(events.at(-1)?.type).toBe("ADDED")
      yield* Fiber.interrupt(fiber)
    }),
  )

  it.effect("a success resets the backoff: the next outage starts again at ~1 s", () =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      // Down for 20 s; the next attempt (after ~31 s of backoff) works: one event, then the connection
      // breaks 10 s later and the API is down again for 5 s.
      let upAt: number | undefined
      const attempts: Array<number> = []
      const connect = (): Stream.Stream<ConnectionEvent<string>, KubeError> =>
        Stream.unwrap(
          Effect.map(Clock.currentTimeMillis, (now) => {
            attempts.push(now)
            const t = now - start
            if (t < 20_000 || (upAt !== undefined && now < upAt + 15_000)) return Stream.fail(unavailable)
            if (upAt !== undefined) return Stream.concat(Stream.make(added("back", attempts.length + 1)), Stream.never)
            upAt = now
            return Stream.concat(
              Stream.make(added(`at-${t}`, attempts.length + 1)),
              Stream.fromEffect(Effect.sleep(Duration.seconds(10))).pipe(Stream.flatMap(() => Stream.fail(unavailable))),
            )
          }),
        )
      const { events, fiber } = yield* run(connect)
      yield* advance(60_000)
      expect(upAt! - start).toBeGreaterThan(20_000)
      const afterBreak = attempts.filter((t) => t > upAt!)
      // The broken connection had worked: it is reopened at once, fails, then waits ~1 s (not the 16-30 s reached before).
      expect(afterBreak[0]).toBe(upAt! + 10_000)
      expect(gapMillis(afterBreak[0]!, afterBreak[1]!)).toBeGreaterThanOrEqual(800)
      expect(gapMillis(afterBreak[0]!, afterBreak[1]!)).toBeLessThanOrEqual(1200)
      expect(events.filter((e) => e.type === "FAILING")).toHaveLength(2)
      expect(events.filter((e) => e.type === "RESTORED")).toHaveLength(2)
      yield* Fiber.interrupt(fiber)
    }),
  )
})
