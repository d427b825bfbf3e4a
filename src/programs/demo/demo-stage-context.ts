import type { Effect } from "effect"
import type { OpenShiftFixture } from "../../simulation/openshift-fixtures.ts"
import type { SimulatedCluster } from "../../simulation/simulated-cluster.ts"

/** What every group of the demo's stages is given: how to run and narrate a stage, and the demo's machine and cluster. */
export interface DemoStageContext {
  readonly stage: <A, E, R>(title: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly say: (text: string) => Effect.Effect<void>
  readonly work: string
  /** The `cluster-backup` entry point the demo's commands run as. */
  readonly entry: string
  readonly kubeconfig: string
  readonly cluster: SimulatedCluster
  readonly fixture: OpenShiftFixture
}
