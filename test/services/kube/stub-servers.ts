/** Stub API servers for one test file: each `serve` starts one with its kubeconfig; after the file all are closed and the kubeconfigs removed. */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import {
  startSimulatedApiServer,
  writeKubeconfig,
  type SimulatedApiServer,
  type SimulatedApiServerOptions,
} from "../../../src/simulation/simulated-api-server.ts"
import type { SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"

export const stubServers = (prefix: string) => {
  let dir = ""
  let serial = 0
  const servers: Array<SimulatedApiServer> = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix))
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()))
    await rm(dir, { recursive: true, force: true })
  })
  return {
    /** The file's temporary directory (for kubeconfigs of its own). */
    dir: () => dir,
    /** A server for `cluster` (with `options`), and a kubeconfig that reaches it with `token` (default: the server's own). */
    serve: async (
      cluster: SimulatedCluster,
      token?: string,
      options?: SimulatedApiServerOptions,
    ): Promise<{ readonly server: SimulatedApiServer; readonly kubeconfig: string }> => {
      const server = await startSimulatedApiServer(cluster, options)
      servers.push(server)
      const kubeconfig = join(dir, `kubeconfig-${++serial}`)
      await Effect.runPromise(writeKubeconfig(kubeconfig, { url: server.url, token: token ?? server.token }))
      return { server, kubeconfig }
    },
  }
}
