/**
 * backup-init's sample of encrypted values reads a prefix's values page by page and keeps only the
 * sample: a prefix holding far more (and larger) values than the pod's memory must not be read whole.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { readBundleFacts } from "../../../src/programs/backup/bundle-facts.ts"
import { Etcd, type KeyValue, type ReadOptions } from "../../../src/services/etcd/etcd.ts"

const encoder = new TextEncoder()

/** An etcd of `count` secrets encrypted under two key names, recording the most values one read returned. */
const countingEtcd = (count: number) => {
  const keys = Array.from({ length: count }, (_, i) => `/kubernetes.io/secrets/ns/s${String(i).padStart(6, "0")}`).sort()
  const value = (key: string) => encoder.encode(`k8s:enc:aescbc:v1:${Number(key.slice(-6)) % 2 === 0 ? "1" : "2"}:${"x".repeat(64)}`)
  const kv = (key: string, keysOnly: boolean): KeyValue => ({
    key,
    value: keysOnly ? new Uint8Array(0) : value(key),
    createRevision: 1,
    modRevision: 1,
    version: 1,
  })
  const seen = { mostValues: 0 }
  const getPrefix = (prefix: string, options?: ReadOptions) =>
    Effect.sync(() => {
      const after = options?.after
      const found = keys.filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).slice(0, options?.limit)
      if (options?.keysOnly !== true) seen.mostValues = Math.max(seen.mostValues, found.length)
      return found.map((k) => kv(k, options?.keysOnly === true))
    })
  const layer = Layer.succeed(
    Etcd,
    Etcd.of({
      endpoint: Effect.succeed("memory"),
      status: Effect.die("not used"),
      get: (key) => Effect.succeed(keys.includes(key) ? kv(key, false) : undefined),
      getPrefix,
      snapshot: Effect.die("not used") as never,
    }),
  )
  return { layer, seen }
}

describe("backup-init's encrypted-value sample", () => {
  it("reads an encrypted prefix's values in bounded pages, keeping the same sample as a whole read", async () => {
    const { layer, seen } = countingEtcd(5000)
    const facts = await Effect.runPromise(readBundleFacts(7, "3.5.16").pipe(Effect.provide(layer)))
    expect(facts.sample.map((v) => v.key)).toEqual([
      "/kubernetes.io/secrets/ns/s000000",
      "/kubernetes.io/secrets/ns/s000001",
      "/kubernetes.io/secrets/ns/s000002",
      "/kubernetes.io/secrets/ns/s000003",
      "/kubernetes.io/secrets/ns/s000004",
      "/kubernetes.io/secrets/ns/s000005",
    ])
    expect(facts.keyCounts).toEqual({ "/kubernetes.io/secrets/": 5000 })
    // A page of values at a time, never the prefix whole.
    expect(seen.mostValues).toBeGreaterThan(0)
    expect(seen.mostValues).toBeLessThanOrEqual(100)
  })
})
