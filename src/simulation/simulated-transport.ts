/**
 * The in-process front of the simulated cluster: the transport `SimulatedKube.inMemory` runs on. Faults
 * surface as a live client would see them: a Status becomes its tagged error, a timeout a
 * client-side `Timeout`, an abrupt watch drop a connection failure.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Cause, Effect, Queue, Result, Stream } from "effect"
import { clientSideError, errorFromStatus, StatusReason, type ExecCommandFailed, type KubeError } from "../services/kube/errors.ts"
import { execVerbs, kubeEndpoints } from "../services/kube/resources.ts"
import { definedFields } from "./defined-fields.ts"
import type { SimulatedCluster } from "./simulated-cluster.ts"
import { assertVerbAllowed, execFailure, refOf, type KubeTransport, type RawWatchEvent } from "../services/kube/transport.ts"

export const simulatedTransport = (cluster: SimulatedCluster): KubeTransport => ({
  exec: (request) =>
    Stream.unwrap(
      Effect.suspend(() => {
        for (const verb of execVerbs) assertVerbAllowed(kubeEndpoints.podExec, verb)
        const ref = { kind: "Pod", namespace: request.namespace, name: request.pod }
        const served = cluster.serveExec(request)
        if (served._tag === "NoAnswer") return Effect.fail(clientSideError(StatusReason.ClientTimeout, "the simulated API server did not answer the exec", ref))
        if (Result.isFailure(served.result)) return Effect.fail(errorFromStatus(served.result.failure, ref))
        const process = served.result.success
        const ended = Stream.fromEffect(Effect.promise(() => process.exit)).pipe(
          Stream.flatMap(({ exitCode, stderr }) =>
            exitCode === 0 ? Stream.empty : Stream.fail(execFailure(request, exitCode, `exit status ${exitCode}`, stderr)),
          ),
        )
        return Effect.succeed(
          NodeStream.fromReadable<Uint8Array, KubeError | ExecCommandFailed>({
            evaluate: () => process.stdout,
            onError: () => clientSideError(StatusReason.ConnectionFailed, "the simulated exec's output broke off", ref),
          }).pipe(Stream.concat(ended), Stream.ensuring(Effect.sync(process.kill))),
        )
      }),
    ),
  request: (request) =>
    Effect.suspend(() => {
      assertVerbAllowed(request.endpoint, request.verb)
      const ref = refOf(request)
      const { namespace, name, body, labelSelector, fieldSelector } = request
      const served = cluster.serve({
        type: request.endpoint.type,
        verb: request.verb,
        ...definedFields({ namespace, name, body, labelSelector, fieldSelector, subresource: request.endpoint.subresource }),
      })
      if (served._tag === "NoAnswer") {
        return Effect.fail(clientSideError(StatusReason.ClientTimeout, "the simulated API server did not answer", ref))
      }
      return Result.isSuccess(served.result) ? Effect.succeed(served.result.success) : Effect.fail(errorFromStatus(served.result.failure, ref))
    }),
  watch: (request) =>
    Stream.callback<RawWatchEvent, KubeError>((queue) =>
      Effect.gen(function* () {
        assertVerbAllowed(request.endpoint, "watch")
        const ref = refOf(request)
        const { namespace, labelSelector, fieldSelector } = request
        const served = cluster.serveWatch({
          type: request.endpoint.type,
          resourceVersion: request.resourceVersion,
          ...definedFields({ namespace, labelSelector, fieldSelector }),
        })
        if (served._tag === "NoAnswer") {
          return yield* Effect.fail(clientSideError(StatusReason.ClientTimeout, "the simulated API server did not answer the watch", ref))
        }
        if (Result.isFailure(served.result)) return yield* Effect.fail(errorFromStatus(served.result.failure, ref))
        const session = served.result.success
        yield* Effect.addFinalizer(() => Effect.sync(session.close))
        session.start({
          onEvent: (line) => {
            Queue.offerUnsafe(queue, { type: line.type, object: line.object })
          },
          onEnd: (abrupt) => {
            if (abrupt) {
              Queue.failCauseUnsafe(queue, Cause.fail(clientSideError(StatusReason.ConnectionFailed, "the simulated watch connection was reset", ref)))
            } else {
              Queue.endUnsafe(queue)
            }
          },
        })
      }),
    ),
})
