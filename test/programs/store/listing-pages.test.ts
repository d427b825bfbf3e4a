import { fc, test } from "@fast-check/vitest"
import { Effect, Stream } from "effect"
import { describe, expect } from "vitest"
import { listingPages } from "../../../src/programs/store/listing-pages.ts"
import { makeMemoryStore, unavailable } from "../../../src/services/store/memory-store.ts"

/** A memory store of `keys` (under "p/", and one beside it) that lists `pageSize` keys a page, counting its listings and failing the `failAt`-th. */
const storeOf = (keys: ReadonlyArray<string>, pageSize: number, failAt?: number) => {
  let listings = 0
  const store = makeMemoryStore({
    pageSize,
    retry: { retries: 0, retryBaseMs: 0 },
    faults: (operation, key) =>
      Effect.suspend(() => {
        if (operation !== "ListObjectsV2") return Effect.void
        listings++
        return listings === failAt ? Effect.fail(unavailable(operation, key)) : Effect.void
      }),
  })
  return Effect.gen(function* () {
    for (const key of ["q/other", ...keys.map((k) => `p/${k}`)]) yield* store.putBytes(key, new Uint8Array([1]))
    return { store, listings: () => listings }
  })
}

const keysArb = fc.uniqueArray(fc.stringMatching(/^[a-z0-9/]{1,8}$/), { maxLength: 30 })

describe("listingPages", () => {
  test.prop([keysArb, fc.integer({ min: 1, max: 7 })])("holds every key under the prefix once, in the store's order, a listing a page", (keys, pageSize) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const { store, listings } = yield* storeOf(keys, pageSize)
        const pages = yield* Stream.runCollect(listingPages(store, "p/"))
        expect(pages.flatMap((p) => p.objects.map((o) => o.key))).toEqual(keys.map((k) => `p/${k}`).sort())
        expect(pages).toHaveLength(Math.max(1, Math.ceil(keys.length / pageSize)))
        expect(pages.slice(0, -1).every((p) => p.next !== undefined)).toBe(true)
        expect(pages.at(-1)?.next).toBeUndefined()
        expect(listings()).toBe(pages.length)
      }),
    ),
  )

  test.prop([keysArb, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 4 })])(
    "taken a few pages at most, asks for no more; a failed page ends it, the pages before kept when the failure is ignored",
    (keys, pageSize, most) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const all = Math.max(1, Math.ceil(keys.length / pageSize))
          const taken = yield* storeOf(keys, pageSize)
          const first = yield* Stream.runCollect(listingPages(taken.store, "p/").pipe(Stream.take(most)))
          expect(first).toHaveLength(Math.min(most, all))
          expect(taken.listings()).toBe(Math.min(most, all))

          const failing = yield* storeOf(keys, pageSize, most)
          const failed = yield* Stream.runCollect(listingPages(failing.store, "p/")).pipe(Effect.flip, Effect.option)
          expect(failed._tag).toBe(most <= all ? "Some" : "None")
          const kept = yield* Stream.runCollect(listingPages((yield* storeOf(keys, pageSize, most)).store, "p/").pipe(Stream.ignore({ log: false })))
          expect(kept).toHaveLength(most <= all ? most - 1 : all)
        }),
      ),
  )
})
