/**
 * A throwaway etcd member over TLS (client-certificate auth, 8 GiB quota, no fsync: only to build
 * the data quickly; snapshots read the database either way) and a database grown to a size with
 * distinct keys of 1 KiB..100 KiB of pseudo-random bytes.
 */
import { join } from "node:path"
import type { Etcd3 } from "etcd3"
import { etcdClient } from "../../src/programs/demo/etcd-seed.ts"
import { startLocalEtcd } from "../../src/services/local-etcd.ts"
import { clientTls, generateTlsBundle } from "../../src/services/tls-certs.ts"
import { MiB } from "./report.ts"
import type { BenchScope } from "./scope.ts"

export interface BenchEtcd {
  readonly clientUrl: string
  readonly tls: { readonly cert: string; readonly key: string; readonly cacert: string }
  readonly client: Etcd3
  /** etcdctl's connection flags for this member. */
  readonly etcdctlFlags: ReadonlyArray<string>
  /** Adds keys until the member reports a database of at least `bytes`; returns its size. */
  readonly growTo: (bytes: number, log: (line: string) => void) => Promise<DatabaseSize>
}

export interface DatabaseSize {
  readonly keys: number
  readonly valueBytes: number
  readonly dbBytes: number
}

export const startBenchEtcd = async (scope: BenchScope, dir: string, name: string): Promise<BenchEtcd> => {
  const tlsBundle = await scope.use(generateTlsBundle(join(dir, "tls"), { serverHosts: ["127.0.0.1", "localhost"] }))
  const member = await scope.use(startLocalEtcd({ dataDir: join(dir, "etcd"), name, tls: tlsBundle, quotaBackendBytes: 8 * 1024 ** 3, unsafeNoFsync: true }))
  const client = await scope.use(etcdClient(member.connection))
  const tls = clientTls(tlsBundle)
  let seed = 12345
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const pool = Buffer.alloc(100 * 1024)
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(random() * 256)
  let keys = 0
  let valueBytes = 0
  const dbBytes = async () => Number((await client.maintenance.status()).dbSize)
  return {
    clientUrl: member.clientUrl,
    tls,
    client,
    etcdctlFlags: ["--endpoints", member.clientUrl, "--cert", tls.cert, "--key", tls.key, "--cacert", tls.cacert],
    growTo: async (bytes, log) => {
      let size = await dbBytes()
      while (size < bytes) {
        // Values average ~50 KiB: a batch of at most 2000 keys, fewer near the target so small sizes are not overshot by 100 MiB.
        const batchEnd = keys + Math.min(2000, Math.max(16, Math.ceil((bytes - size) / (50 * 1024))))
        const worker = async () => {
          while (keys < batchEnd) {
            const i = keys++
            const length = 1024 + Math.floor(random() * 99 * 1024)
            await client.put(`/registry/bench/${String(i).padStart(8, "0")}`).value(pool.subarray(0, length))
            valueBytes += length
          }
        }
        await Promise.all(Array.from({ length: 16 }, worker))
        size = await dbBytes()
        log(`${keys} keys, ${(valueBytes / MiB).toFixed(0)} MiB of values, database ${(size / MiB).toFixed(0)} MiB`)
      }
      return { keys, valueBytes, dbBytes: size }
    },
  }
}
