/**
 * etcd's own send rate for the backup-init scaling benchmark: a client that asks for a snapshot
 * over gRPC (HTTP/2, TLS, a 4 MiB window as backup-init uses) and discards every byte, decoding
 * nothing and writing nothing. Prints `{"bytes":N,"seconds":S}`: the HTTP/2 body bytes received
 * and the time from the request to the stream's end (so Node's start-up does not count); exits 1
 * unless etcd ends the stream with grpc-status 0.
 *
 *   node bench/etcd-send-rate.ts <endpoint> <cert> <key> <cacert>
 */
import { readFileSync } from "node:fs"
import { connect, constants } from "node:http2"

const [endpoint, cert, key, cacert] = process.argv.slice(2) as [string, string, string, string]
const window = 4 * 1024 * 1024
const session = connect(endpoint, {
  settings: { initialWindowSize: window },
  ca: readFileSync(cacert),
  cert: readFileSync(cert),
  key: readFileSync(key),
})
session.on("connect", () => session.setLocalWindowSize(window))
session.on("error", (e) => {
  process.stderr.write(`${endpoint}: ${e.message}\n`)
  process.exit(1)
})
const started = performance.now()
const stream = session.request({
  [constants.HTTP2_HEADER_METHOD]: "POST",
  [constants.HTTP2_HEADER_PATH]: "/etcdserverpb.Maintenance/Snapshot",
  "content-type": "application/grpc",
  te: "trailers",
})
// An empty SnapshotRequest: the gRPC frame header alone (not compressed, length 0).
stream.end(Buffer.alloc(5))
let bytes = 0
let status: string | undefined
stream.on("data", (chunk: Buffer) => {
  bytes += chunk.length
})
stream.on("trailers", (trailers) => {
  status = String(trailers["grpc-status"])
})
stream.on("end", () => {
  session.close()
  if (status !== "0") {
    process.stderr.write(`the snapshot stream ended with grpc-status ${status ?? "(none)"}\n`)
    process.exit(1)
  }
  process.stdout.write(`${JSON.stringify({ bytes, seconds: (performance.now() - started) / 1000 })}\n`)
})
