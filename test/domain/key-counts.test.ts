import { fc, test } from "@fast-check/vitest"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { compareKeyCounts, countKeysByPrefix, keyPrefix, KeyCounts } from "../../src/domain/key-counts.ts"

describe("keyPrefix", () => {
  it.each([
    ["/kubernetes.io/secrets/openshift-etcd/etcd-client", "/kubernetes.io/secrets/"],
    ["/kubernetes.io/namespaces/default", "/kubernetes.io/namespaces/"],
    ["/kubernetes.io/operator.openshift.io/etcds/cluster", "/kubernetes.io/operator.openshift.io/etcds/"],
    ["/kubernetes.io/config.openshift.io/clusterversions/version", "/kubernetes.io/config.openshift.io/clusterversions/"],
    ["/openshift.io/routes/ns/r", "/openshift.io/routes/"],
    ["compact_rev_key", "compact_rev_key"],
    ["/kubernetes.io/secrets", "/kubernetes.io/secrets"],
  ])("%s counts under %s", (key, prefix) => {
    expect(keyPrefix(key)).toBe(prefix)
  })

  it.each([
    ["/a/b/secrets/openshift-etcd/etcd-client", "/a/b/secrets/"],
    ["/a/b/operator.openshift.io/etcds/cluster", "/a/b/operator.openshift.io/etcds/"],
    ["/a/b/secrets", "/a/b/secrets"],
    ["/a/c/secrets/ns/s", "/a/c/"],
  ])("under --etcd-prefix /a/b, %s counts under %s", (key, prefix) => {
    expect(keyPrefix(key, "/a/b")).toBe(prefix)
  })

  const segment = fc.stringMatching(/^[a-z0-9.-]{1,8}$/)
  test.prop([fc.array(segment, { minLength: 1, maxLength: 3 }), fc.array(segment, { minLength: 0, maxLength: 4 })])(
    "an etcd prefix of several segments counts as one: the same prefixes as under /kubernetes.io",
    (prefixSegments, rest) => {
      const etcdPrefix = `/${prefixSegments.join("/")}`
      const tail = rest.length === 0 ? "" : `/${rest.join("/")}`
      const single = keyPrefix(`/kubernetes.io${tail}`, "/kubernetes.io")
      const many = keyPrefix(`${etcdPrefix}${tail}`, etcdPrefix)
      expect(many).toBe(single.startsWith("/kubernetes.io/") ? `${etcdPrefix}${single.slice("/kubernetes.io".length)}` : `${etcdPrefix}${tail}`)
    },
  )
})

const keyArb = fc.oneof(
  fc
    .tuple(fc.constantFrom("secrets", "configmaps", "operator.openshift.io/etcds"), fc.stringMatching(/^[a-z0-9-]{1,8}$/))
    .map(([r, n]) => `/kubernetes.io/${r}/${n}`),
  fc.string({ maxLength: 30 }),
)

describe("countKeysByPrefix and compareKeyCounts", () => {
  test.prop([fc.array(keyArb, { maxLength: 60 })], { numRuns: 300 })("counts every key once, whatever the order, readable by the manifest's Schema", (keys) => {
    const counts = countKeysByPrefix(keys)
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(keys.length)
    expect(Schema.decodeUnknownSync(KeyCounts)(counts)).toEqual(counts)
    expect(compareKeyCounts(counts, countKeysByPrefix([...keys].reverse())).verdict).toBe("PASS")
  })

  it("fails a restored member from which keys were deleted, naming the prefixes", () => {
    const recorded = countKeysByPrefix(["/kubernetes.io/secrets/a/1", "/kubernetes.io/secrets/a/2", "/kubernetes.io/configmaps/a/1"])
    const restored = countKeysByPrefix(["/kubernetes.io/secrets/a/1"])
    const comparison = compareKeyCounts(recorded, restored)
    expect(comparison).toMatchObject({
      verdict: "FAIL",
      expectedTotal: 3,
      foundTotal: 1,
      differences: [
        { prefix: "/kubernetes.io/configmaps/", expected: 1, found: 0 },
        { prefix: "/kubernetes.io/secrets/", expected: 2, found: 1 },
      ],
    })
    expect(comparison.message).toContain("/kubernetes.io/secrets/ 2 -> 1")
  })

  it("fails extra keys too: the snapshot is not the one recorded", () => {
    expect(compareKeyCounts({ "/kubernetes.io/secrets/": 1 }, { "/kubernetes.io/secrets/": 1, "/kubernetes.io/pods/": 3 }).verdict).toBe("FAIL")
  })
})
