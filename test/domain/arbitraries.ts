/** fast-check arbitraries shared by the domain tests. */
import { fc } from "@fast-check/vitest"
import { operandNames, type OperandName } from "../../src/domain/operands.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"

export const maxInt32 = 2_147_483_647

/** Revisions, biased to small numbers (real clusters) but reaching int32's maximum. */
export const revisionArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: maxInt32 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, maxInt32) },
)

export const revisionSetArb: fc.Arbitrary<RevisionSet> = fc.record({
  etcd: revisionArb,
  "kube-apiserver": revisionArb,
  "kube-controller-manager": revisionArb,
  "kube-scheduler": revisionArb,
})

export const operandArb: fc.Arbitrary<OperandName> = fc.constantFrom(...operandNames)

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789".split("")

/** A DNS-1123 label (1..63 chars). */
export const dnsLabelArb = (maxLength = 63): fc.Arbitrary<string> =>
  fc
    .tuple(fc.constantFrom(...alnum), fc.array(fc.constantFrom(...alnum, "-"), { maxLength: Math.max(0, maxLength - 2) }), fc.constantFrom(...alnum))
    .map(([a, mid, z]) => (maxLength === 1 ? a : `${a}${mid.join("")}${z}`))

/** A DNS-1123 subdomain of at most `maxLength` characters. */
export const dnsSubdomainArb = (maxLength = 253): fc.Arbitrary<string> =>
  fc
    .array(dnsLabelArb(20), { minLength: 1, maxLength: 6 })
    .map((labels) => labels.join("."))
    .filter((s) => s.length <= maxLength)

/** A valid ConfigMap/Secret data key. */
export const dataKeyArb: fc.Arbitrary<string> = fc.stringMatching(/^[-._a-zA-Z0-9]{1,40}$/).filter((k) => k !== "." && !k.startsWith(".."))

/** Instants with a four-digit year, as epoch milliseconds. */
export const instantArb: fc.Arbitrary<number> = fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 })
