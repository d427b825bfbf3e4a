/** Shorthands for the simulated cluster's tests: results, metadata, a ConfigMap, a request in namespace "ns", a watch's lines. */
import { Result } from "effect"
import { configMapType } from "../../src/services/kube/resources.ts"
import type { ApiRequest, Obj, SimulatedCluster, WatchLine } from "../../src/simulation/simulated-cluster.ts"

export const ok = <A>(result: Result.Result<A, unknown>): A => Result.getOrThrow(result)
export const failure = (result: Result.Result<unknown, { code: number; reason: string; message: string }>) => {
  if (Result.isSuccess(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}
export const meta = (obj: unknown) => (obj as { metadata: Record<string, unknown> }).metadata
export const rv = (obj: unknown) => Number(meta(obj).resourceVersion)
export const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>): Obj => ({
  metadata: { name, ...(labels === undefined ? {} : { labels }) },
  data,
})
export const exec = (cluster: SimulatedCluster, request: Omit<ApiRequest, "type"> & { type?: ApiRequest["type"] }) =>
  cluster.execute({ type: configMapType, namespace: "ns", ...request })

/** Collects the lines of a watch session. */
export const watchLines = (cluster: SimulatedCluster, request: Parameters<SimulatedCluster["watch"]>[0]) => {
  const lines: Array<WatchLine> = []
  const ends: Array<boolean> = []
  const session = ok(cluster.watch(request))
  session.start({ onEvent: (l) => lines.push(l), onEnd: (abrupt) => ends.push(abrupt) })
  return { lines, ends, session }
}
