/**
 * A real HTTP forward proxy on a free loopback port, as a cluster-wide proxy (squid) is to the
 * store's client: CONNECT tunnels (https targets) and absolute-URI requests (http targets), each
 * counted by the target it went to. It can demand Basic credentials (answering 407 without them)
 * or refuse every request with a given status (407, 403, 502). A client sends no loopback host to a
 * proxy (as Go), so tests name their loopback servers `<name>.proxied.test` (`viaProxyName`), which
 * only this proxy resolves, to 127.0.0.1.
 */
import { Buffer } from "node:buffer"
import http from "node:http"
import net from "node:net"

export interface ForwardProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Tunnels opened (CONNECT answered 200), by `host:port`. */
  readonly tunnels: Array<string>
  /** Absolute-URI requests forwarded, by `host:port`. */
  readonly forwarded: Array<string>
  /** Requests or CONNECTs it refused, with their status. */
  readonly refused: Array<number>
  readonly close: () => Promise<void>
}

export interface ForwardProxyOptions {
  /** `user:password` the client must send in Proxy-Authorization (Basic), else 407. */
  readonly credentials?: string
  /** Answer every request and CONNECT with this status, forwarding nothing. */
  readonly refuseWith?: number
}

/** The suffix of the names this proxy resolves to 127.0.0.1. */
const proxiedSuffix = ".proxied.test"

/** `url` (a loopback server's) with its host renamed so that a client sends it through the proxy. */
export const viaProxyName = (url: string, name = "loopback"): string => {
  const u = new URL(url)
  u.hostname = `${name}${proxiedSuffix}`
  return u.href.replace(/\/$/, "")
}

const resolved = (host: string): string => (host.endsWith(proxiedSuffix) ? "127.0.0.1" : host.replace(/^\[(.*)\]$/, "$1"))

export const startForwardProxy = async (options: ForwardProxyOptions = {}): Promise<ForwardProxy> => {
  const tunnels: Array<string> = []
  const forwarded: Array<string> = []
  const refused: Array<number> = []
  const sockets = new Set<net.Socket>()
  /** The status to refuse this request with, or undefined to let it through. */
  const refusal = (headers: http.IncomingHttpHeaders): number | undefined => {
    if (options.refuseWith !== undefined) return options.refuseWith
    if (options.credentials === undefined) return undefined
    return headers["proxy-authorization"] === `Basic ${Buffer.from(options.credentials).toString("base64")}` ? undefined : 407
  }
  const server = http.createServer((req, res) => {
    const status = refusal(req.headers)
    if (status !== undefined) {
      refused.push(status)
      res.writeHead(status, status === 407 ? { "proxy-authenticate": 'Basic realm="test"' } : {}).end()
      return
    }
    const target = new URL(req.url ?? "/")
    forwarded.push(target.host)
    const headers = { ...req.headers }
    delete headers["proxy-authorization"]
    delete headers["proxy-connection"]
    const upstream = http.request(
      { host: resolved(target.hostname), port: target.port, method: req.method, path: `${target.pathname}${target.search}`, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on("error", () => res.destroy())
    req.pipe(upstream)
  })
  server.on("connection", (s) => {
    sockets.add(s)
    s.on("close", () => sockets.delete(s))
  })
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const status = refusal(req.headers)
    if (status !== undefined) {
      refused.push(status)
      client.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${status === 407 ? 'Proxy-Authenticate: Basic realm="test"\r\n' : ""}Content-Length: 0\r\n\r\n`,
      )
      return
    }
    const [host, port] = [req.url!.slice(0, req.url!.lastIndexOf(":")), Number(req.url!.slice(req.url!.lastIndexOf(":") + 1))]
    const upstream = net.connect(port, resolved(host), () => {
      tunnels.push(req.url!)
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on("close", () => sockets.delete(upstream))
    upstream.on("error", () => client.destroy())
    client.on("error", () => upstream.destroy())
  })
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening))
  const { port } = server.address() as net.AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    forwarded,
    refused,
    close: () =>
      new Promise((closed) => {
        for (const s of sockets) s.destroy()
        server.close(() => closed())
      }),
  }
}
