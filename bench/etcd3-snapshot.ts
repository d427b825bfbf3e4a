/**
 * The Maintenance snapshot through the etcd3 package (grpc-js, protobufjs), written as backup-init
 * writes it: a part file, the sha256 trailer checked while streaming, fsync, rename. No Effect, no
 * command line: the benchmark runs it to show what etcd3's transport costs, which is why the Etcd
 * live Layer speaks gRPC over node:http2 itself (bench/README.md). grpc-js gets the HTTP/2 window
 * of the live Layer (4 MiB) instead of its default 64 KiB, its best case here.
 *
 *   node bench/etcd3-snapshot.ts <backup-dir> <endpoint> <cert> <key> <cacert>
 */
import { open, readFile, rename } from "node:fs/promises"
import { join } from "node:path"
import { Etcd3 } from "etcd3"
import { TrailerCheck } from "../src/services/etcd/snapshot-trailer.ts"

const [backupDir, endpoint, cert, key, cacert] = process.argv.slice(2)
if (backupDir === undefined || endpoint === undefined || cert === undefined || key === undefined || cacert === undefined) {
  process.stderr.write("usage: node bench/etcd3-snapshot.ts <backup-dir> <endpoint> <cert> <key> <cacert>\n")
  process.exit(2)
}

const client = new Etcd3({
  hosts: endpoint,
  credentials: { rootCertificate: await readFile(cacert), certChain: await readFile(cert), privateKey: await readFile(key) },
  grpcOptions: { "grpc-node.flow_control_window": 4 * 1024 * 1024 },
})
const final = join(backupDir, "snapshot.db")
const file = await open(`${final}.part`, "w", 0o600)
const check = new TrailerCheck()
const stream = (await client.maintenance.snapshot()) as unknown as AsyncIterable<{ blob: Uint8Array }>
for await (const message of stream) {
  for (const part of check.push(message.blob)) await file.write(part)
}
const verified = check.finish()
if (!("trailer" in verified)) throw new Error(verified.message)
await file.write(verified.trailer)
await file.sync()
await file.close()
await rename(`${final}.part`, final)
client.close()
