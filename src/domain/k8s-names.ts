/**
 * Kubernetes' own rules for object names and ConfigMap/Secret data keys
 * (k8s.io/apimachinery/pkg/util/validation). A name or key Kubernetes would refuse can never come
 * from a real cluster, so anything else is treated as hostile input (it could name a path).
 */

export const dnsSubdomainMaxLength = 253
export const dnsLabelMaxLength = 63

const dnsLabel = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const dnsSubdomainPattern = new RegExp(`^${dnsLabel}(\\.${dnsLabel})*$`)
const dnsLabelPattern = new RegExp(`^${dnsLabel}$`)
const dataKeyPattern = /^[-._a-zA-Z0-9]+$/

/** Why Kubernetes would refuse `name` as a DNS-1123 subdomain (ConfigMap, Secret, Pod names); `undefined` when it is valid. */
export const dnsSubdomainProblem = (name: string): string | undefined => {
  if (name.length === 0) return "must not be empty"
  if (name.length > dnsSubdomainMaxLength) return `must be at most ${dnsSubdomainMaxLength} characters (has ${name.length})`
  if (!dnsSubdomainPattern.test(name)) {
    return "must consist of lower-case letters, digits, '-' and '.', and start and end with a letter or digit (DNS-1123 subdomain)"
  }
  return undefined
}

/** Why Kubernetes would refuse `name` as a DNS-1123 label (namespaces, container and volume names); `undefined` when valid. */
export const dnsLabelProblem = (name: string): string | undefined => {
  if (name.length === 0) return "must not be empty"
  if (name.length > dnsLabelMaxLength) return `must be at most ${dnsLabelMaxLength} characters (has ${name.length})`
  if (!dnsLabelPattern.test(name)) {
    return "must consist of lower-case letters, digits and '-', and start and end with a letter or digit (DNS-1123 label)"
  }
  return undefined
}

/** Why Kubernetes would refuse `key` as a ConfigMap/Secret data key; `undefined` when valid. */
export const dataKeyProblem = (key: string): string | undefined => {
  if (key.length === 0) return "must not be empty"
  if (key.length > dnsSubdomainMaxLength) return `must be at most ${dnsSubdomainMaxLength} characters (has ${key.length})`
  if (!dataKeyPattern.test(key)) return "must consist of letters, digits, '-', '_' and '.'"
  if (key === "." || key === "..") return `must not be '${key}'`
  if (key.startsWith("..")) return "must not start with '..'"
  return undefined
}
