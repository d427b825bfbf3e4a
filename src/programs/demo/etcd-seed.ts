/**
 * Fills the demo's etcd like an API server would: every object of the simulated cluster stored
 * as JSON under `/kubernetes.io/<resource>/<namespace>/<name>` (custom resources under
 * `/kubernetes.io/<group>/<plural>/<name>`, where backup-init reads the operator CRs back), secrets
 * and configmaps encrypted with the fixture's aescbc key where its kube-apiserver has an
 * encryption-config (encryption at rest), the ClusterVersion, plus bulk keys so the snapshot has some size.
 */
import { Effect, FileSystem, Result, Schema } from "effect"
import { Etcd3 } from "etcd3"
import { defaultEtcdPrefix } from "../../domain/etcd-prefix.ts"
import { type OperandName, operandList } from "../../domain/operands.ts"
import { operatorTypes } from "../../services/kube/resources.ts"
import type { OpenShiftFixture } from "../../simulation/openshift-fixtures.ts"
import { aescbcStoredValue } from "../../simulation/encrypted-storage.ts"
import type { EtcdConnection } from "../../services/etcd/etcd.ts"
import { operatorCrKey } from "../backup/etcd-operator-revisions.ts"
import { clusterVersionKey } from "../backup/bundle-facts.ts"
import type { Obj, SimulatedCluster } from "../../simulation/simulated-cluster.ts"
import { failureText } from "../../domain/failure-text.ts"
import { describeFileSystemFailure } from "../../services/file-system-error.ts"

export class EtcdSeedFailed extends Schema.TaggedError<EtcdSeedFailed>()("EtcdSeedFailed", {
  message: Schema.String,
}) {}

export interface SeedObjects {
  readonly operators: ReadonlyArray<Obj>
  readonly configMaps: ReadonlyArray<Obj>
  readonly secrets: ReadonlyArray<Obj>
}

const meta = (o: Obj) => o.metadata as { readonly name: string; readonly namespace?: string }

/** The key an API server stores an object under. */
export const storageKey = (resource: string, o: Obj): string => {
  const m = meta(o)
  return m.namespace === undefined ? `${defaultEtcdPrefix}/${resource}/${m.name}` : `${defaultEtcdPrefix}/${resource}/${m.namespace}/${m.name}`
}

/** The key of the operator CR of this kind, where backup-init reads it back (`operatorCrKey`). */
const operatorKey = (kind: string): string => {
  const operand = operandList().find((o) => o.kind === kind)
  if (operand === undefined) throw new Error(`no operand has kind ${kind}`)
  return operatorCrKey(operand)
}

/** The TLS file at `path`, read for the etcd3 client; a failure says which file and what to do. */
const readTlsFile = (path: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs.readFile(path).pipe(Effect.mapError((e) => new EtcdSeedFailed({ message: describeFileSystemFailure("read", path, e).message })))
    return Buffer.from(bytes)
  })

/** An etcd3 client for the connection (for writing seed data), closed with the scope. */
export const etcdClient = (connection: EtcdConnection) =>
  Effect.gen(function* () {
    const tls = connection.tls
    const credentials =
      tls === undefined
        ? undefined
        : { rootCertificate: yield* readTlsFile(tls.cacert), certChain: yield* readTlsFile(tls.cert), privateKey: yield* readTlsFile(tls.key) }
    return yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Etcd3({
            hosts: [...connection.endpoints],
            grpcOptions: { "grpc.max_receive_message_length": -1 },
            ...(credentials === undefined ? {} : { credentials }),
          }),
      ),
      (client) => Effect.sync(() => client.close()),
    )
  })

const attempt = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (e) => new EtcdSeedFailed({ message: `${what}: ${failureText(e)}` }) })

/** Writes one operator CR (after a revision bump, so the next snapshot holds it). */
export const putOperatorCr = (client: Etcd3, cr: Obj) =>
  attempt(`store ${String(cr.kind)}`, () =>
    client
      .put(operatorKey(String(cr.kind)))
      .value(JSON.stringify(cr))
      .exec(),
  )

/**
 * A new revision of `operand`, as its revision controller makes one: in the simulated cluster, and the operator CR in
 * etcd, so the next snapshot holds it. Its number.
 */
export const newRevision = (cluster: SimulatedCluster, fixture: OpenShiftFixture, client: Etcd3, operand: OperandName) =>
  Effect.gen(function* () {
    const bumped = fixture.bumpRevision(cluster, operand)
    if (Result.isFailure(bumped)) return yield* new EtcdSeedFailed({ message: `cannot make a new ${operand} revision: ${bumped.failure.message}` })
    yield* putOperatorCr(client, cluster.get(operatorTypes[operand], undefined, "cluster")!)
    return bumped.success
  })

/** Stores the fixture's objects and `bulkKeys` extra keys of about 1 KiB; returns how many keys it wrote. */
export const seedEtcd = (client: Etcd3, fixture: Pick<OpenShiftFixture, "state" | "encryptionKey" | "clusterVersion">, bulkKeys: number) =>
  Effect.gen(function* () {
    const objects: SeedObjects = fixture.state
    const key = fixture.encryptionKey
    const encrypted = (o: Obj) => (key === undefined ? JSON.stringify(o) : aescbcStoredValue(key, Buffer.from(JSON.stringify(o))))
    const puts: Array<readonly [string, string | Buffer]> = [
      ...objects.operators.map((cr) => [operatorKey(String(cr.kind)), JSON.stringify(cr)] as const),
      [clusterVersionKey(defaultEtcdPrefix), JSON.stringify(fixture.clusterVersion)] as const,
      ...objects.configMaps.map((cm) => [storageKey("configmaps", cm), encrypted(cm)] as const),
      ...objects.secrets.map((s) => [storageKey("secrets", s), encrypted(s)] as const),
      ...Array.from({ length: bulkKeys }, (_, i) => {
        const name = `demo-event-${String(i).padStart(6, "0")}`
        const event = { kind: "Event", metadata: { name, namespace: "openshift-etcd" }, message: `demo event ${i} `.padEnd(1000, "."), count: i }
        return [`${defaultEtcdPrefix}/events/openshift-etcd/${name}`, JSON.stringify(event)] as const
      }),
    ]
    let next = 0
    const worker = async () => {
      while (next < puts.length) {
        const [key, value] = puts[next++]!
        await client.put(key).value(value)
      }
    }
    yield* attempt("seed etcd", () => Promise.all(Array.from({ length: 16 }, worker)))
    return puts.length
  })
