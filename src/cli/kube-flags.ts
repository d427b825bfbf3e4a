import { Effect, Layer, type Option } from "effect"
import { Flag } from "effect/cli"
import type { Kube } from "../services/kube/kube.ts"
import { nonEmpty } from "./flag-checks.ts"
import type { KubeConfigInvalid } from "../services/kube/live-transport.ts"

/** `--kubeconfig` and `--context`: where the API server and the credentials come from, as kubectl takes them. */
export const kubeFlags = {
  /** A kubeconfig file; absent, `KUBECONFIG`, then in-cluster, then `~/.kube/config`. */
  kubeconfig: Flag.String("kubeconfig").pipe(
    nonEmpty("path"),
    Flag.optional,
    Flag.withDescription("Path of a kubeconfig file (default: KUBECONFIG, the pod's service account, or ~/.kube/config)"),
  ),
  context: Flag.String("context").pipe(
    nonEmpty("context name"),
    Flag.optional,
    Flag.withDescription("The kubeconfig's context to use (default: its current-context)"),
  ),
}

/**
 * The live Kube Layer for the `--kubeconfig` and `--context` flags' values. The client is loaded on use, so
 * commands that never talk to the API do not carry it in memory.
 */
export const liveKubeLayer = (flags: {
  readonly kubeconfig: Option.Option<string>
  readonly context: Option.Option<string>
}): Layer.Layer<Kube, KubeConfigInvalid> =>
  Layer.unwrap(
    Effect.promise(async () => {
      const [{ Kube }, { KubeConfigSource }] = await Promise.all([import("../services/kube/kube.ts"), import("../services/kube/live-transport.ts")])
      const value = (option: Option.Option<string>) => (option._tag === "Some" ? option.value : undefined)
      return Kube.live(KubeConfigSource.fromFlags(value(flags.kubeconfig), value(flags.context)))
    }),
  )
