/**
 * The demo's cluster without OpenShift, the parts the demo and the end-to-end tests share: a simulated
 * cluster holding a fixture's OpenShift state and the backup pod's etcd client credentials, served by
 * the stub API server, with the same objects in a real etcd; and the operator running against it.
 */
import { Effect, FileSystem, Layer, Result } from "effect"
import { ControllerMetrics } from "../../services/controller-metrics.ts"
import type { Kube } from "../../services/kube/kube.ts"
import { configMapType, secretType } from "../../services/kube/resources.ts"
import type { LocalEtcd } from "../../services/local-etcd.ts"
import type { TlsBundle } from "../../services/tls-certs.ts"
import type { OpenShiftFixture } from "../../simulation/openshift-fixtures.ts"
import { simulatedApiServer, writeKubeconfig } from "../../simulation/simulated-api-server.ts"
import type { SimulatedCluster } from "../../simulation/simulated-cluster.ts"
import { startController } from "../operator/controller.ts"
import { defaultReconcileConfig } from "../operator/reconcile.ts"
import { DemoFailed } from "./demo-wait.ts"
import { etcdClient, seedEtcd } from "./etcd-seed.ts"

export const demoNamespace = "openshift-etcd"

const b64 = (text: string) => Buffer.from(text).toString("base64")

/** Replaces an object's data in the simulated cluster (the demo's own set-up writes). */
const replaceData = (cluster: SimulatedCluster, type: typeof secretType, name: string, data: Record<string, string>) =>
  Effect.suspend(() => {
    const current = cluster.get(type, demoNamespace, name)
    const result =
      current === undefined ? cluster.create(type, { metadata: { name, namespace: demoNamespace }, data }) : cluster.replace(type, { ...current, data })
    return Result.isSuccess(result)
      ? Effect.void
      : Effect.fail(new DemoFailed({ stage: "cluster", message: `cannot write ${name}: ${result.failure.message}` }))
  })

/**
 * Loads `fixture` into `cluster` with `tls`'s client certificate as Secret etcd-client and its CA as ConfigMap
 * etcd-ca-bundle, serves it over HTTPS (a kubeconfig for it at `kubeconfig`, with the bundle's CA) and stores the same objects in `etcd`
 * plus `bulkKeys` keys of ~1 KiB. The API server and the etcd client close with the scope.
 */
export const startDemoCluster = Effect.fn("startDemoCluster")(function* (options: {
  readonly cluster: SimulatedCluster
  readonly fixture: OpenShiftFixture
  readonly tls: TlsBundle
  readonly etcd: LocalEtcd
  readonly kubeconfig: string
  readonly bulkKeys: number
}) {
  const { cluster, fixture, tls, etcd } = options
  const fs = yield* FileSystem.FileSystem
  const loaded = fixture.load(cluster)
  if (Result.isFailure(loaded)) return yield* new DemoFailed({ stage: "cluster", message: loaded.failure.message })
  const read = (file: string) => fs.readFileString(file).pipe(Effect.orDie)
  yield* replaceData(cluster, secretType, "etcd-client", { "tls.crt": b64(yield* read(tls.clientCert)), "tls.key": b64(yield* read(tls.clientKey)) })
  yield* replaceData(cluster, configMapType, "etcd-ca-bundle", { "ca-bundle.crt": yield* read(tls.caCert) })
  // Over HTTPS, as a cluster's API server: its certificate is the bundle's server one (it names 127.0.0.1), its CA in the kubeconfig.
  const server = yield* simulatedApiServer(cluster, { tls: { cert: yield* read(tls.serverCert), key: yield* read(tls.serverKey), urlHost: "127.0.0.1" } })
  yield* writeKubeconfig(options.kubeconfig, { url: server.url, token: server.token, certificateAuthority: yield* read(tls.caCert) })
  // By name, not IP: the certificate names both, and TLS server names must not be IP addresses.
  const client = yield* etcdClient({ ...etcd.connection, endpoints: etcd.connection.endpoints.map((e) => e.replace("//127.0.0.1:", "//localhost:")) })
  const keys = yield* seedEtcd(client, fixture, options.bulkKeys)
  return { server, client, keys }
})

/** The operator against `kube` (renders once revisions are stable for 2 s; acts on BackupPolicies), until the scope closes. */
export const startDemoOperator = (kube: Layer.Layer<Kube>, metrics: typeof ControllerMetrics.Service) =>
  startController({
    reconcile: defaultReconcileConfig({ namespace: demoNamespace, settleMs: 2000, minIntervalMs: 0, identity: "demo-operator" }),
    election: {
      namespace: demoNamespace,
      leaseName: "cluster-backup-operator",
      identity: "demo-operator",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 500,
    },
    resyncMs: 60_000,
    minBackoffMs: 200,
    maxBackoffMs: 5000,
  }).pipe(Effect.provide(Layer.merge(kube, Layer.succeed(ControllerMetrics, metrics))))
