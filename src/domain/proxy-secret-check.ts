/**
 * Whether Secret `cluster-backup-proxy` can give the backup pods the proxy variables that carry credentials
 * (`proxySecretKeys`). The pods mount those keys as a volume; without the Secret, or one of those keys, the kubelet
 * leaves the pod in Init (FailedMount events on the pod) and nobody else is told. The operator reads the Secret's keys
 * (never its values) and says what is missing, with the command that fixes it.
 */
import { proxySecretName } from "./pod-proxy-env.ts"

/** What the operator could read of the Secret: the names of its keys, or why not. */
export type ProxySecretRead =
  | { readonly _tag: "Found"; readonly keys: ReadonlyArray<string> }
  | { readonly _tag: "NotFound" }
  /** The operator may not read it (a Role older than the operator): the API server's words. */
  | { readonly _tag: "Forbidden"; readonly message: string }

export type ProxySecretProblem =
  /** The pods cannot start: the Secret or a key is missing. */
  | { readonly _tag: "ProxySecretMissing"; readonly message: string }
  /** The operator cannot tell: it may not read the Secret. */
  | { readonly _tag: "ProxySecretUnchecked"; readonly message: string }

const placeholder = "<the proxy URL with credentials>"

/** What is wrong with the Secret for pods that need `keys` of it; undefined when nothing (or no key is needed). */
export const proxySecretProblem = (keys: ReadonlyArray<string>, read: ProxySecretRead | undefined, namespace: string): ProxySecretProblem | undefined => {
  if (keys.length === 0 || read === undefined) return undefined
  const named = keys.join(", ")
  switch (read._tag) {
    case "Forbidden":
      return {
        _tag: "ProxySecretUnchecked",
        message: `cannot check Secret ${proxySecretName} in ${namespace}, which the backup pods take ${named} from: ${read.message}; the operator's Role lacks get on that Secret (an older deploy/operator-rbac.yaml): apply the current one (oc apply -f deploy/operator-rbac.yaml). Backup pods are still created; without the Secret they do not start`,
      }
    case "NotFound":
      return {
        _tag: "ProxySecretMissing",
        message: `Secret ${proxySecretName} in ${namespace} does not exist: the backup pods take ${named} from it (the proxy URL has credentials) and cannot start without it. Create it: oc -n ${namespace} create secret generic ${proxySecretName} ${keys.map((k) => `--from-literal=${k}=${placeholder}`).join(" ")}`,
      }
    case "Found": {
      const missing = keys.filter((k) => !read.keys.includes(k))
      return missing.length === 0
        ? undefined
        : {
            _tag: "ProxySecretMissing",
            message: `Secret ${proxySecretName} in ${namespace} has no key ${missing.join(", ")}: the backup pods take it from there (the proxy URL has credentials) and cannot start without it. Add it: oc -n ${namespace} set data secret/${proxySecretName} ${missing.map((k) => `${k}=${placeholder}`).join(" ")}`,
          }
    }
  }
}
