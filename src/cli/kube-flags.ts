import { Flag } from "effect/cli"
import { Kube } from "../services/kube/kube.ts"
import { KubeConfigSource } from "../services/kube/live-transport.ts"

/** `--kubeconfig`: a kubeconfig file; absent, `KUBECONFIG`, then in-cluster, then `~/.kube/config`. */
export const kubeconfigFlag = Flag.String("kubeconfig").pipe(
  Flag.optional,
  Flag.withDescription("Path of a kubeconfig file (default: KUBECONFIG, the pod's service account, or ~/.kube/config)"),
)

/** The live Kube Layer for the `--kubeconfig` flag's value. */
export const liveKubeLayer = (kubeconfig: { readonly _tag: "Some"; readonly value: string } | { readonly _tag: "None" }) =>
  Kube.live(KubeConfigSource.fromFlag(kubeconfig._tag === "Some" ? kubeconfig.value : undefined))
