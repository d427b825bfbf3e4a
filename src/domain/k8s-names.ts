/**
 * Kubernetes' own rules for object names and ConfigMap/Secret data keys
 * (k8s.io/apimachinery/pkg/util/validation). A name or key Kubernetes would refuse can never come
 * from a real cluster, so anything else is treated as hostile input (it could name a path).
 */
import { Schema } from "effect"

export const dnsSubdomainMaxLength = 253
export const dnsLabelMaxLength = 63

const dnsLabel = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const dnsSubdomainPattern = new RegExp(`^${dnsLabel}(\\.${dnsLabel})*$`)
const dnsLabelPattern = new RegExp(`^${dnsLabel}$`)
const dataKeyPattern = /^[-._a-zA-Z0-9]+$/

/** A name rule: not empty, at most `maxLength` characters, matching `pattern` (else `shape` says what it must be). */
const nameRule =
  (maxLength: number, pattern: RegExp, shape: string) =>
  (name: string): string | undefined => {
    if (name.length === 0) return "must not be empty"
    if (name.length > maxLength) return `must be at most ${maxLength} characters (has ${name.length})`
    return pattern.test(name) ? undefined : shape
  }

/** Why Kubernetes would refuse `name` as a DNS-1123 subdomain (ConfigMap, Secret, Pod names); `undefined` when it is valid. */
export const dnsSubdomainProblem = nameRule(
  dnsSubdomainMaxLength,
  dnsSubdomainPattern,
  "must consist of lower-case letters, digits, '-' and '.', and start and end with a letter or digit (DNS-1123 subdomain)",
)

/** Why Kubernetes would refuse `name` as a DNS-1123 label (namespaces, container and volume names); `undefined` when valid. */
export const dnsLabelProblem = nameRule(
  dnsLabelMaxLength,
  dnsLabelPattern,
  "must consist of lower-case letters, digits and '-', and start and end with a letter or digit (DNS-1123 label)",
)

const dataKeyShapeProblem = nameRule(dnsSubdomainMaxLength, dataKeyPattern, "must consist of letters, digits, '-', '_' and '.'")

/** Why Kubernetes would refuse `key` as a ConfigMap/Secret data key; `undefined` when valid. */
export const dataKeyProblem = (key: string): string | undefined => {
  const shape = dataKeyShapeProblem(key)
  if (shape !== undefined) return shape
  if (key === "." || key === "..") return `must not be '${key}'`
  if (key.startsWith("..")) return "must not start with '..'"
  return undefined
}

/** A DNS-1123 label, as a Schema (a namespace). */
export const DnsLabel = Schema.String.check(Schema.makeFilter((s: string) => dnsLabelProblem(s) ?? undefined, { expected: "a DNS-1123 label" }))

/** A DNS-1123 subdomain, as a Schema (a Secret's, ConfigMap's or claim's name). */
export const DnsSubdomain = Schema.String.check(Schema.makeFilter((s: string) => dnsSubdomainProblem(s) ?? undefined, { expected: "a DNS-1123 subdomain" }))
