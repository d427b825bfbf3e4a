/**
 * backup-init's program alone, without the CLI around it: only effect, Node's services, the Etcd
 * live Layer and the program are loaded. The benchmark runs it beside `cluster-backup
 * backup-init` to separate what the snapshot path costs from what the whole command line loads.
 *
 *   node bench/backup-init-program.ts <backup-dir> <endpoint> <cert> <key> <cacert>
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Layer } from "effect"
import { backupInit } from "../src/programs/backup-init.ts"
import { DiskSpace } from "../src/services/disk-space.ts"
import { layerLive } from "../src/services/etcd/etcd-live.ts"

const [backupDir, endpoint, cert, key, cacert] = process.argv.slice(2)
if (backupDir === undefined || endpoint === undefined || cert === undefined || key === undefined || cacert === undefined) {
  process.stderr.write("usage: node bench/backup-init-program.ts <backup-dir> <endpoint> <cert> <key> <cacert>\n")
  process.exit(2)
}

NodeRuntime.runMain(
  backupInit({ backupDir }).pipe(
    Effect.provide(Layer.mergeAll(layerLive({ endpoints: [endpoint], tls: { cert, key, cacert } }), DiskSpace.layerLive)),
    Effect.provide(NodeServices.layer),
  ),
)
