/** Reads the names of Secret `cluster-backup-proxy`'s keys, only when the backup pods refer to it (a proxy URL with credentials). */
import { Effect } from "effect"
import { type ProxyEnv, proxySecretKeys, proxySecretName } from "../../domain/pod-proxy-env.ts"
import type { ProxySecretRead } from "../../domain/proxy-secret-check.ts"
import { Kube } from "../../services/kube/kube.ts"

/**
 * The Secret's key names (its values are dropped at once, never logged nor kept), NotFound, or Forbidden (an older
 * Role); undefined when no pod needs it. Other API errors fail the effect: the sync is retried.
 */
export const readProxySecret = Effect.fn("readProxySecret")(function* (namespace: string, proxy: ProxyEnv | undefined) {
  if (proxySecretKeys(proxy).length === 0) return undefined
  const kube = yield* Kube
  return yield* kube.secrets.get(namespace, proxySecretName).pipe(
    Effect.map((secret): ProxySecretRead => ({ _tag: "Found", keys: Object.keys(secret.data ?? {}) })),
    Effect.catchIf(
      (e) => e._tag === "NotFound" || e._tag === "Forbidden",
      (e): Effect.Effect<ProxySecretRead> => Effect.succeed(e._tag === "NotFound" ? { _tag: "NotFound" } : { _tag: "Forbidden", message: e.message }),
    ),
  )
})
