/** One scope for everything a bench run starts (etcd members, API servers): closed once at the end, on failure too. */
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"

export interface BenchScope {
  /** Runs `effect` with its resources tied to this scope. */
  readonly use: <A, E>(effect: Effect.Effect<A, E, Scope.Scope | NodeServices.NodeServices>) => Promise<A>
  readonly close: () => Promise<void>
}

export const makeBenchScope = (): BenchScope => {
  const scope = Scope.makeUnsafe()
  return {
    use: (effect) => Effect.runPromise(effect.pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}
