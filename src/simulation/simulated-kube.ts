/**
 * The `Kube` service over the simulated cluster, in process (the stub API server is the other
 * front). It lives beside the simulation, not in `services/kube`, so the live client never
 * carries the simulation.
 */
import { Layer } from "effect"
import { Kube, makeKube, type KubeOptions } from "../services/kube/kube.ts"
import { immediateRetries } from "../services/kube/retry.ts"
import type { WatchBackoff } from "../services/kube/watch.ts"
import type { SimulatedCluster } from "./simulated-cluster.ts"
import { simulatedTransport } from "./simulated-transport.ts"

/** The simulated cluster's watch backoff: the live one's shape, short, so tests with injected faults stay fast. */
export const simulatedWatchBackoff: WatchBackoff = { baseMillis: 5, maxMillis: 100 }

/** The in-memory cluster, with its fault injection; retries are immediate by default. */
export const inMemory = (cluster: SimulatedCluster, options: KubeOptions = {}): Layer.Layer<Kube> =>
  Layer.succeed(
    Kube,
    Kube.of(makeKube(simulatedTransport(cluster), { retry: options.retry ?? immediateRetries, watchBackoff: options.watchBackoff ?? simulatedWatchBackoff })),
  )
