/**
 * Where a request enters the simulated cluster from either front (the in-process transport and the
 * stub HTTP server): it is logged, then the fault injector decides whether it is served, answered
 * with an injected Status, left unanswered (a timeout, maybe after applying it), or, for a watch,
 * whether its connection drops after some events.
 */
import { Result } from "effect"
import type { KubeStatus } from "../services/kube/errors.ts"
import { execVerbs, rbacResource, type ResourceType, type Verb } from "../services/kube/resources.ts"
import type { FaultInjector, RequestInfo } from "./faults.ts"
import { definedFields } from "./defined-fields.ts"
import type { ApiRequest } from "./object-store.ts"
import type { WatchRequest, WatchSession } from "./watch-log.ts"

/** What a front does with a request: answer it, or (timeout fault) never answer. */
export type Served<A> = { readonly _tag: "Answered"; readonly result: Result.Result<A, KubeStatus> } | { readonly _tag: "NoAnswer" }

export interface RequestRecord {
  readonly verb: Verb
  /** As RBAC names it: the plural, or `<plural>/status` for the status subresource. */
  readonly resource: string
  readonly namespace?: string
  readonly name?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  readonly resourceVersion?: string
}

export interface FaultFront {
  /** The requests served, in order; the newest `requestLogLimit`. */
  readonly requests: ReadonlyArray<RequestRecord>
  readonly serve: (request: ApiRequest) => Served<unknown>
  readonly serveWatch: (request: WatchRequest) => Served<WatchSession>
  /** A pod's exec (`get`, then `create`, on `pods/exec`): each logged and met by the faults, then `run`. */
  readonly serveExec: <A>(
    request: { readonly type: ResourceType; readonly namespace: string; readonly name: string },
    run: () => Result.Result<A, KubeStatus>,
  ) => Served<A>
}

/** What the fronts serve: the API semantics without faults. */
export interface FaultFreeApi {
  readonly execute: (request: ApiRequest) => Result.Result<unknown, KubeStatus>
  readonly watch: (request: WatchRequest) => Result.Result<WatchSession, KubeStatus>
}

const infoOf = (request: { readonly type: ResourceType; readonly namespace?: string; readonly name?: string }, verb: Verb): RequestInfo => ({
  type: request.type,
  verb,
  ...definedFields({ namespace: request.namespace, name: request.name }),
})

export const makeFaultFront = (api: FaultFreeApi, faults: FaultInjector, requestLogLimit: number): FaultFront => {
  const requests: Array<RequestRecord> = []
  const log = (record: RequestRecord) => {
    requests.push(record)
    if (requests.length > requestLogLimit) requests.splice(0, requests.length - requestLogLimit)
  }

  const serve = (request: ApiRequest): Served<unknown> => {
    const { namespace, name, labelSelector, fieldSelector } = request
    log({ verb: request.verb, resource: rbacResource(request.type, request.subresource), ...definedFields({ namespace, name, labelSelector, fieldSelector }) })
    const fault = faults.decide(infoOf(request, request.verb))
    if (fault?._tag === "Status") return { _tag: "Answered", result: Result.fail(fault.status) }
    if (fault?._tag === "Timeout") {
      if (fault.applied) api.execute(request)
      return { _tag: "NoAnswer" }
    }
    return { _tag: "Answered", result: api.execute(request) }
  }

  const serveWatch = (request: WatchRequest): Served<WatchSession> => {
    const { namespace, labelSelector, fieldSelector, resourceVersion } = request
    log({ verb: "watch", resource: request.type.resource, ...definedFields({ namespace, labelSelector, fieldSelector, resourceVersion }) })
    const info = infoOf(request, "watch")
    const fault = faults.decide(info)
    if (fault?._tag === "Status") return { _tag: "Answered", result: Result.fail(fault.status) }
    if (fault?._tag === "Timeout") return { _tag: "NoAnswer" }
    const accepted = api.watch(request)
    if (Result.isFailure(accepted)) return { _tag: "Answered", result: accepted }
    const session = accepted.success
    const dropAfter = fault?._tag === "DropWatch" ? fault : undefined
    return {
      _tag: "Answered",
      result: Result.succeed({
        close: session.close,
        start: (handlers) => {
          let ended = false
          let delivered = 0
          const end = (abrupt: boolean) => {
            if (ended) return
            ended = true
            session.close()
            handlers.onEnd(abrupt)
          }
          if (dropAfter !== undefined && dropAfter.afterEvents <= 0) return end(dropAfter.abrupt)
          session.start({
            onEvent: (line) => {
              if (ended) return
              handlers.onEvent(line)
              delivered++
              if (dropAfter !== undefined && delivered >= dropAfter.afterEvents) end(dropAfter.abrupt)
              else if (faults.dropAfterEvent(info)) end(true)
            },
            onEnd: end,
          })
        },
      }),
    }
  }

  const serveExec = <A>(
    request: { readonly type: ResourceType; readonly namespace: string; readonly name: string },
    run: () => Result.Result<A, KubeStatus>,
  ): Served<A> => {
    // Authorized once per verb, as an API server of Kubernetes 1.35 or later does (before it, get only): each is logged
    // and meets the fault rules, so a rule on either verb refuses the exec.
    for (const verb of execVerbs) {
      log({ verb, resource: rbacResource(request.type, "exec"), namespace: request.namespace, name: request.name })
      const fault = faults.decide({ ...infoOf(request, verb), subresource: "exec" })
      if (fault?._tag === "Status") return { _tag: "Answered", result: Result.fail(fault.status) }
      if (fault?._tag === "Timeout") return { _tag: "NoAnswer" }
    }
    return { _tag: "Answered", result: run() }
  }

  return {
    get requests() {
      return requests
    },
    serve,
    serveWatch,
    serveExec,
  }
}
