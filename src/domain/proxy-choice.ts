/**
 * Which HTTP(S) proxy a request to a URL goes through, from the environment as curl and Go read it
 * (OpenShift's cluster-wide proxy sets these in operators' and their pods' environment):
 * `HTTPS_PROXY`/`https_proxy` for https URLs, `HTTP_PROXY`/`http_proxy` for http ones (upper case
 * first, as Go), unless `NO_PROXY`/`no_proxy` names the host. A NO_PROXY entry is `*` (every
 * host), a domain (`example.com`, `.example.com` or `*.example.com`: it and its subdomains), an IP
 * address, a CIDR (`10.0.0.0/16`, as OpenShift's noProxy lists its networks), each optionally with
 * `:port` (then only that port). As Go (which every OpenShift component's proxy use follows), a
 * loopback host (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) is never sent to a proxy: a proxy
 * cannot reach this host's loopback, and a local store (the demo's) must work from a shell that
 * has a proxy set.
 */
import { BlockList, isIP } from "node:net"

export type ProxyChoice =
  | { readonly _tag: "Direct" }
  | {
      readonly _tag: "Proxy"
      /** The proxy's URL, with its credentials if it has any: for the agent only. */
      readonly url: URL
      /** The proxy's origin without credentials, for messages. */
      readonly shown: string
      /** The variable it came from. */
      readonly variable: string
    }
  | { readonly _tag: "Invalid"; readonly variable: string; readonly message: string }

export type ProxyEnv = Readonly<Record<string, string | undefined>>

/** The first of the variables that is set and not empty, with its name. */
const firstSet = (env: ProxyEnv, names: ReadonlyArray<string>): readonly [string, string] | undefined => {
  for (const name of names) {
    const value = env[name]?.trim()
    if (value !== undefined && value !== "") return [name, value]
  }
  return undefined
}

const unbracketed = (host: string): string => host.replace(/^\[(.*)\]$/, "$1").toLowerCase()

/** The entry split into its host (or CIDR) and port, if it names one. */
const hostAndPort = (entry: string): { readonly host: string; readonly port?: string } => {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
  if (bracketed !== null) return bracketed[2] === undefined ? { host: bracketed[1]! } : { host: bracketed[1]!, port: bracketed[2] }
  // More than one colon and no brackets: an IPv6 address (or CIDR), no port.
  const withPort = /^([^:]+):(\d+)$/.exec(entry)
  return withPort === null ? { host: entry } : { host: withPort[1]!, port: withPort[2] }
}

/** Whether one NO_PROXY entry (trimmed, lower case) names the host (lower case, no brackets) at the port. */
const entryMatches = (entry: string, host: string, port: string): boolean => {
  if (entry === "*") return true
  const e = hostAndPort(entry)
  if (e.port !== undefined && e.port !== port) return false
  const family = isIP(host)
  const slash = e.host.indexOf("/")
  if (slash >= 0) {
    // Prefix lengths as Go's net.ParseCIDR reads them: decimal digits only (`Number("")` would be a /0, every address).
    const [net, bitsText] = [e.host.slice(0, slash), e.host.slice(slash + 1)]
    const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : Number.NaN
    const netFamily = isIP(net)
    if (family === 0 || netFamily === 0 || !Number.isInteger(bits) || bits > (netFamily === 4 ? 32 : 128)) return false
    const list = new BlockList()
    list.addSubnet(net, bits, netFamily === 4 ? "ipv4" : "ipv6")
    return list.check(host, family === 4 ? "ipv4" : "ipv6")
  }
  if (isIP(e.host) !== 0 || family !== 0) {
    if (isIP(e.host) === 0 || family === 0) return false
    const list = new BlockList()
    list.addAddress(e.host, isIP(e.host) === 4 ? "ipv4" : "ipv6")
    return list.check(host, family === 4 ? "ipv4" : "ipv6")
  }
  const domain = e.host.replace(/^\*?\./, "")
  return domain !== "" && (host === domain || host.endsWith(`.${domain}`))
}

/** Whether the host (lower case, no brackets) is this machine's loopback, which no proxy can reach. */
const isLoopback = (host: string): boolean => {
  if (host === "localhost" || host.endsWith(".localhost")) return true
  const family = isIP(host)
  if (family === 0) return false
  const loopback = new BlockList()
  loopback.addSubnet("127.0.0.0", 8, "ipv4")
  loopback.addAddress("::1", "ipv6")
  return loopback.check(host, family === 4 ? "ipv4" : "ipv6")
}

/** Whether NO_PROXY (its comma-separated entries) names the URL's host. */
export const bypassesProxy = (noProxy: string, url: URL): boolean => {
  const host = unbracketed(url.hostname).replace(/\.$/, "")
  const port = url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80"
  return noProxy
    .split(/[,\s]+/)
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== "")
    .some((e) => entryMatches(e, host, port))
}

/** The proxy's URL as messages show it: scheme, host and port, never its credentials. */
export const shownProxy = (url: URL): string => `${url.protocol}//${url.host}`

/** The proxies the store's client speaks: HTTP CONNECT to an http:// or https:// proxy. */
export const httpProxySchemes: ReadonlyArray<string> = ["http:", "https:"]
/** What Go's ProxyFromEnvironment takes, as kubectl and client-go do: SOCKS5 too (`ssh -D`; socks5h: the proxy resolves the name). */
export const kubeProxySchemes: ReadonlyArray<string> = ["http:", "https:", "socks5:", "socks5h:"]

/** The proxy a request to `url` goes through, as the environment says; a proxy of a scheme not in `schemes` is Invalid. */
export const proxyFor = (env: ProxyEnv, url: URL, schemes: ReadonlyArray<string> = httpProxySchemes): ProxyChoice => {
  const chosen = firstSet(env, url.protocol === "https:" ? ["HTTPS_PROXY", "https_proxy"] : ["HTTP_PROXY", "http_proxy"])
  if (chosen === undefined || isLoopback(unbracketed(url.hostname).replace(/\.$/, ""))) return { _tag: "Direct" }
  const noProxy = firstSet(env, ["NO_PROXY", "no_proxy"])
  if (noProxy !== undefined && bypassesProxy(noProxy[1], url)) return { _tag: "Direct" }
  const [variable, value] = chosen
  // `proxy:3128` (no scheme) means http://, as curl and Go read it.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
  const parsed = URL.canParse(text) ? new URL(text) : undefined
  if (parsed === undefined || !schemes.includes(parsed.protocol) || parsed.hostname === "") {
    // The value may hold a password: the message names the variable and what it should be, not the value.
    const kinds = schemes.map((s) => `${s}//`)
    return {
      _tag: "Invalid",
      variable,
      message: `${variable} is not an ${kinds.length > 1 ? `${kinds.slice(0, -1).join(", ")} or ${kinds.at(-1)}` : kinds[0]} proxy URL (as http://proxy.example.com:3128): fix it, or unset it to connect directly`,
    }
  }
  return { _tag: "Proxy", url: parsed, shown: shownProxy(parsed), variable }
}
