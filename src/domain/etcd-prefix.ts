/**
 * The etcd key prefix under which the API server stores its objects (`--etcd-prefix` of
 * kube-apiserver): `/kubernetes.io` on OpenShift, `/registry` upstream. Custom resources live at
 * `<prefix>/<group>/<plural>/<name>`; reading the operator CRs under the wrong prefix finds
 * nothing, and every backup would be marked possibly dirty.
 */

export const defaultEtcdPrefix = "/kubernetes.io"

/** What is wrong with a prefix, as what a prefix must be; undefined when it is usable. */
export const etcdPrefixProblem = (prefix: string): string | undefined => {
  if (!prefix.startsWith("/")) return `an etcd key prefix starting with "/", like /kubernetes.io or /registry: "${prefix}" does not`
  if (prefix.length > 1 && prefix.endsWith("/")) return `an etcd key prefix without a trailing "/", like /registry: "${prefix}" has one`
  if (prefix === "/") return `an etcd key prefix naming a directory, like /kubernetes.io or /registry: "/" alone is none`
  if (/\s/.test(prefix)) return `an etcd key prefix without blanks: "${prefix}" has some`
  if (prefix.includes("//")) return `an etcd key prefix without empty segments ("//"): "${prefix}" has one`
  return undefined
}
