/**
 * `boundedChunks`, the pull side of the gRPC server stream: items in order across batches of
 * chunks, waiting while a batch decodes to nothing, backpressure past the high-water mark, and
 * failures (the decoder's and the readable's) surfacing through `onError`.
 */
import { PassThrough } from "node:stream"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Pull, Stream } from "effect"
import { boundedChunks } from "../../../src/services/etcd/grpc-http2.ts"

class Failed {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}
const onError = (e: unknown) => new Failed(e)
const bytes = (...values: Array<number>) => Buffer.from(values)
/** One item per byte; a 0 byte yields nothing, a 255 byte throws. */
const perByte = (chunk: Uint8Array): ReadonlyArray<number> => {
  if (chunk.includes(255)) throw new Error("bad byte")
  return [...chunk].filter((b) => b !== 0)
}

/** A readable and the pull of the stream `boundedChunks` makes of it (needs a scope). */
const pulling = (highWaterBytes = 1024) =>
  Effect.gen(function* () {
    const readable = new PassThrough()
    const pull = yield* Stream.toPull(boundedChunks(readable, highWaterBytes, perByte, onError))
    return { readable, pull }
  })
/** `pulling`, after `chunks` were written and had a moment to arrive. */
const pullingAfter = (chunks: ReadonlyArray<Buffer>, highWaterBytes = 1024) =>
  Effect.gen(function* () {
    const pulled = yield* pulling(highWaterBytes)
    for (const chunk of chunks) pulled.readable.write(chunk)
    yield* Effect.sleep(5)
    return pulled
  })

describe("boundedChunks", () => {
  it.live("delivers the decoded items of every chunk in order, skipping chunks that decode to nothing", () =>
    Effect.gen(function* () {
      const readable = new PassThrough()
      const stream = boundedChunks(readable, 1024, perByte, onError)
      const collected = yield* Effect.forkChild(Stream.runCollect(stream))
      readable.write(bytes(1, 2))
      readable.write(bytes(0, 0))
      yield* Effect.sleep(5)
      readable.write(bytes(0))
      readable.write(bytes(3))
      readable.end(bytes(4, 0, 5))
      expect(yield* Fiber.join(collected)).toEqual([1, 2, 3, 4, 5])
    }),
  )

  it.live("a pull of a batch that decodes to nothing waits for more data instead of ending", () =>
    Effect.gen(function* () {
      const { readable, pull } = yield* pulling()
      readable.write(bytes(0, 0))
      const first = yield* Effect.forkChild(pull)
      yield* Effect.sleep(20)
      expect(first.pollUnsafe()).toBeUndefined()
      readable.write(bytes(7))
      expect(yield* Fiber.join(first)).toEqual([7])
    }).pipe(Effect.scoped),
  )

  it.live("pauses the readable past the high-water mark and resumes it once pulled", () =>
    Effect.gen(function* () {
      const { readable, pull } = yield* pullingAfter([bytes(1, 2, 3), bytes(4, 5)], 4)
      expect(readable.isPaused()).toBe(true)
      expect(yield* pull).toEqual([1, 2, 3, 4, 5])
      expect(readable.isPaused()).toBe(false)
    }).pipe(Effect.scoped),
  )

  it.live("a decoder's throw fails the stream through onError, and later pulls fail the same way", () =>
    Effect.gen(function* () {
      const { pull } = yield* pullingAfter([bytes(1, 255)])
      const first = yield* Effect.exit(pull)
      const again = yield* Effect.exit(pull)
      for (const exit of [first, again]) {
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
        expect(error).toBeInstanceOf(Failed)
        expect(((error as Failed).cause as Error).message).toBe("bad byte")
      }
    }).pipe(Effect.scoped),
  )

  it.live("data received before a readable's error is delivered first, then the error", () =>
    Effect.gen(function* () {
      const { readable, pull } = yield* pullingAfter([bytes(1, 2)])
      readable.destroy(new Error("connection reset"))
      yield* Effect.sleep(5)
      expect(yield* pull).toEqual([1, 2])
      const failed = yield* Effect.flip(Pull.catchDone(pull, () => Effect.die("ended instead of failing")))
      expect(failed).toBeInstanceOf(Failed)
      expect(((failed as Failed).cause as Error).message).toBe("connection reset")
    }).pipe(Effect.scoped),
  )
})
