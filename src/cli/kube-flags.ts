import { Effect, Layer } from "effect"
import { Flag } from "effect/cli"
import type { Kube } from "../services/kube/kube.ts"
import { nonEmpty } from "./flag-checks.ts"
import type { KubeConfigInvalid } from "../services/kube/live-transport.ts"

/** `--kubeconfig`: a kubeconfig file; absent, `KUBECONFIG`, then in-cluster, then `~/.kube/config`. */
export const kubeconfigFlag = Flag.String("kubeconfig").pipe(
  nonEmpty("path"),
  Flag.optional,
  Flag.withDescription("Path of a kubeconfig file (default: KUBECONFIG, the pod's service account, or ~/.kube/config)"),
)

/**
 * The live Kube Layer for the `--kubeconfig` flag's value. The client is loaded on use, so
 * commands that never talk to the API do not carry it in memory.
 */
export const liveKubeLayer = (
  kubeconfig: { readonly _tag: "Some"; readonly value: string } | { readonly _tag: "None" },
): Layer.Layer<Kube, KubeConfigInvalid> =>
  Layer.unwrap(
    Effect.promise(async () => {
      const [{ Kube }, { KubeConfigSource }] = await Promise.all([import("../services/kube/kube.ts"), import("../services/kube/live-transport.ts")])
      return Kube.live(KubeConfigSource.fromFlag(kubeconfig._tag === "Some" ? kubeconfig.value : undefined))
    }),
  )
