/**
 * The demo's node for the pods a BackupPolicy makes: the operator creates them through the API, this
 * finds each new one (the policy label, not ended), runs it with the local kubelet and ends it with
 * the status a node reports, termination messages included, so the operator reads its report.
 */
import { join } from "node:path"
import { Effect, FileSystem, type Layer, Result } from "effect"
import { policyNameLabel } from "../../domain/policy-pod.ts"
import type { Kube } from "../../services/kube/kube.ts"
import { podType } from "../../services/kube/resources.ts"
import type { Obj, SimulatedCluster } from "../../simulation/simulated-cluster.ts"
import { decodeRunnablePodObject, LocalPodFailed, type LocalPodOptions, type LocalPodRun, runLocalPod } from "./local-kubelet.ts"

export interface PolicyPodRunnerOptions {
  readonly namespace: string
  /** Each pod runs in its own directory under this one, removed once the pod ended. */
  readonly podsDir: string
  readonly kube: Layer.Layer<Kube>
  readonly local: Omit<LocalPodOptions, "dir" | "volumeDirs">
  /** Once a pod ended: its name, the policy that made it and how it ran. */
  readonly onEnded: (pod: string, policy: string, run: LocalPodRun) => Effect.Effect<void>
  readonly pollMs?: number
}

const field = (object: Obj, key: string) => object[key] as Record<string, unknown> | undefined

/** The policy pods not yet ended (no status, or Pending/Running), oldest first. */
export const pendingPolicyPods = (cluster: SimulatedCluster, namespace: string): ReadonlyArray<{ name: string; policy: string; object: Obj }> =>
  cluster.list(podType, namespace).flatMap((object) => {
    const metadata = field(object, "metadata") ?? {}
    const policy = (metadata.labels as Record<string, string> | undefined)?.[policyNameLabel]
    const phase = field(object, "status")?.phase
    return policy === undefined || phase === "Succeeded" || phase === "Failed" ? [] : [{ name: String(metadata.name), policy, object }]
  })

/** Runs the policies' pods one at a time as they appear, until interrupted. */
export const runPolicyPods = (cluster: SimulatedCluster, options: PolicyPodRunnerOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    while (true) {
      for (const pod of pendingPolicyPods(cluster, options.namespace)) {
        const decoded = decodeRunnablePodObject(pod.object)
        const dir = join(options.podsDir, pod.name)
        const run: LocalPodRun = Result.isFailure(decoded)
          ? { outcome: { phase: "Failed", containers: {} }, failure: decoded.failure }
          : yield* runLocalPod(decoded.success, { ...options.local, dir }).pipe(
              Effect.provide(options.kube),
              // A volume that cannot be filled (the API failing) ends the pod here rather than the node.
              Effect.catch((e) =>
                Effect.succeed<LocalPodRun>({
                  outcome: { phase: "Failed", containers: {} },
                  failure: new LocalPodFailed({ container: "", exitCode: -1, message: `the pod's volumes cannot be set up: ${e.message}` }),
                }),
              ),
            )
        yield* fs.remove(dir, { recursive: true, force: true }).pipe(Effect.ignore)
        // A pod deleted meanwhile (its policy deleted) has no status to write.
        cluster.terminatePod(options.namespace, pod.name, run.outcome)
        yield* options.onEnded(pod.name, pod.policy, run)
      }
      yield* Effect.sleep(options.pollMs ?? 100)
    }
  })
