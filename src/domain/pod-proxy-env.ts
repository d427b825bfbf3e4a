/**
 * The proxy variables the backup pod's backup-upload gets from the operator's environment (OpenShift's
 * cluster-wide proxy), and the container env that carries them: a URL with credentials by Secret reference.
 */
import { Schema } from "effect"

/**
 * The proxy variables, both cases, as OpenShift's cluster-wide proxy (OLM, the CVO) sets them in
 * the operator's environment; the order is the one the pod's env lists them in.
 */
export const proxyVariableNames = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"] as const
export const ProxyEnv = Schema.Struct(
  Object.fromEntries(proxyVariableNames.map((n) => [n, Schema.optionalKey(Schema.String)])) as {
    readonly [K in (typeof proxyVariableNames)[number]]: Schema.optionalKey<Schema.String>
  },
)
export type ProxyEnv = typeof ProxyEnv.Type

/** The proxy variables of `env` that are set and not empty. */
export const proxyEnvOf = (env: Readonly<Record<string, string | undefined>>): ProxyEnv =>
  Object.fromEntries(proxyVariableNames.flatMap((n) => (env[n] === undefined || env[n]!.trim() === "" ? [] : [[n, env[n]!]])))

/**
 * The Secret (in the pod's namespace, created by the administrator) a proxy URL with credentials
 * comes from, under the variable's name as its key: the rendered spec is stored in ConfigMap
 * `cluster-backup-pod` and shown by `oc describe`, read by more people than Secrets are.
 */
export const proxySecretName = "cluster-backup-proxy"

/** Whether a proxy variable's value holds credentials (`user:password@`), or may: one that is no URL but has an `@`. */
const hasCredentials = (value: string): boolean => {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim()) ? value.trim() : `http://${value.trim()}`
  return URL.canParse(text) ? new URL(text).username !== "" || new URL(text).password !== "" : value.includes("@")
}

/** A container's environment variable: a value, or a Secret's key. */
export type EnvVar =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly valueFrom: { readonly secretKeyRef: { readonly name: string; readonly key: string } } }

/** The env that gives a container the proxy variables: plain values, but a URL with credentials from `proxySecretName`. */
export const proxyContainerEnv = (proxy: ProxyEnv | undefined): ReadonlyArray<EnvVar> =>
  proxyVariableNames.flatMap((name): Array<EnvVar> => {
    const value = proxy?.[name]
    if (value === undefined) return []
    return hasCredentials(value) ? [{ name, valueFrom: { secretKeyRef: { name: proxySecretName, key: name } } }] : [{ name, value }]
  })

/** The keys of `proxySecretName` the pods' env refers to: the proxy variables whose values hold credentials. */
export const proxySecretKeys = (proxy: ProxyEnv | undefined): ReadonlyArray<string> =>
  proxyContainerEnv(proxy).flatMap((e) => ("valueFrom" in e ? [e.valueFrom.secretKeyRef.key] : []))
