/**
 * Connections to the store and to STS through the proxy `domain/proxy-choice.ts` chose, by Node's
 * own proxy support (`http.Agent`'s `proxyEnv`): an https target through a CONNECT tunnel (its
 * certificate checked against the agent's CA, inside the tunnel), an http one by absolute-URI
 * requests to the proxy; keep-alive and the request's deadline hold as without a proxy. The
 * proxy's credentials go to it in Proxy-Authorization, never into a message.
 */
import http from "node:http"
import https from "node:https"
import type { ProxyChoice } from "../../domain/proxy-choice.ts"
import { errnoCode } from "./store-errors.ts"

export type ChosenProxy = Extract<ProxyChoice, { _tag: "Proxy" }>

/** An agent for requests to `protocol` URLs, through `proxy` when there is one. */
export const agentThrough = (
  protocol: string,
  proxy: ChosenProxy | undefined,
  options: { readonly keepAlive: boolean; readonly ca?: string | undefined },
): http.Agent => {
  const proxyEnv = proxy === undefined ? {} : { proxyEnv: protocol === "https:" ? { HTTPS_PROXY: proxy.url.href } : { HTTP_PROXY: proxy.url.href } }
  return protocol === "https:"
    ? new https.Agent({ keepAlive: options.keepAlive, ...(options.ca === undefined ? {} : { ca: options.ca }), ...proxyEnv })
    : new http.Agent({ keepAlive: options.keepAlive, ...proxyEnv })
}

export interface ProxyFailure {
  readonly code: string
  readonly retryable: boolean
  /** What went wrong at the proxy and what to do, naming it without credentials. */
  readonly text: string
}

const refusalAdvice = (status: number): string =>
  status === 407
    ? "it wants credentials, or refused the ones given: put them in the proxy variable's URL (http://user:password@proxy:port), as the cluster-wide proxy's httpsProxy has them"
    : status === 403
      ? "its policy does not allow this host: allow it at the proxy, or list the host in NO_PROXY if it is reachable directly"
      : "the proxy could not reach the host: check the host name and the proxy's own way out"

/**
 * The proxy's part in a failed request, when it had one: the proxy refused the tunnel (its HTTP
 * status; a 407 or 403 is not retryable) or did not answer; undefined without a proxy or when the
 * failure came from beyond it.
 */
export const proxyFailure = (proxy: ChosenProxy | undefined, target: string, cause: unknown, status?: number): ProxyFailure | undefined => {
  if (proxy === undefined) return undefined
  const code = errnoCode(cause)
  const refusal = status ?? (code === "ERR_PROXY_TUNNEL" ? (cause as { statusCode?: number }).statusCode : undefined)
  if (refusal !== undefined) {
    return {
      code: `Proxy${refusal}`,
      retryable: refusal !== 407 && refusal !== 403,
      text: `proxy ${proxy.shown} (${proxy.variable}) refused to connect to ${target}: HTTP ${refusal} ${http.STATUS_CODES[refusal] ?? ""}; ${refusalAdvice(refusal)}`,
    }
  }
  // The proxy took the connection but opened no tunnel: it did not answer the CONNECT in time, or closed the connection.
  if (code === "ERR_PROXY_TUNNEL") {
    const why = cause instanceof Error ? cause.message.replace(/^Connection to establish proxy tunnel /, "") : "failed"
    return {
      code: "ProxyTunnel",
      retryable: true,
      text: `proxy ${proxy.shown} (${proxy.variable}) opened no tunnel to ${target} (the CONNECT ${why}): check that the proxy is up and answers from here, or list the host in NO_PROXY if it is reachable directly`,
    }
  }
  // Every connection goes to the proxy: a connection that fails before any answer failed at it.
  if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"].includes(code)) {
    return {
      code,
      retryable: true,
      text: `proxy ${proxy.shown} (${proxy.variable}) did not answer (${code}): check the proxy's address, or list the host in NO_PROXY if it is reachable directly`,
    }
  }
  return undefined
}
