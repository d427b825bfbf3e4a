/** The byte pump of the tests' TCP proxies in front of a server (Swift): one client connection relayed to its upstream. */
import type net from "node:net"

/** Pipes `client` and `upstream` into each other, kept in `sockets`; when either closes, both are destroyed and dropped. */
export const relay = (client: net.Socket, upstream: net.Socket, sockets: Set<net.Socket>): void => {
  sockets.add(client).add(upstream)
  client.pipe(upstream).pipe(client)
  for (const s of [client, upstream]) {
    s.on("error", () => undefined)
    s.on("close", () => {
      sockets.delete(s)
      client.destroy()
      upstream.destroy()
    })
  }
}
