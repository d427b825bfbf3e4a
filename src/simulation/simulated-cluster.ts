/**
 * An in-memory Kubernetes API: the object store with the API's semantics (`object-store.ts`), the
 * watch log that replays from a resourceVersion out of a bounded history and answers 410 Expired
 * when it is gone (`watch-log.ts`), and the entry that logs requests and applies the fault injector
 * (`fault-front.ts`).
 *
 * It stores the JSON wire form. Two fronts serve it — `SimulatedKube.inMemory` in process and the
 * stub HTTP server — both through `serve`/`serveWatch`; `execute` and the helpers below are the
 * fault-free back door for fixtures and the simulated kubelet.
 */
import { Result } from "effect"
import type { KubeStatus } from "../services/kube/errors.ts"
import { knownResourceTypes, type ResourceType } from "../services/kube/resources.ts"
import { definedFields } from "./defined-fields.ts"
import { makeFaultFront, type RequestRecord, type Served } from "./fault-front.ts"
import { makeFaultInjector, type FaultInjector } from "./faults.ts"
import { parseSelection } from "./object-selection.ts"
import { makeObjectStore, type Admission, type ApiRequest } from "./object-store.ts"
import { seededRandom } from "./seeded-random.ts"
import { terminatedPodStatus, type PodOutcome } from "./simulated-kubelet.ts"
import { badRequest } from "./simulated-validation.ts"
import { startExec, type ExecHandler, type ExecProcess, type ExecRequest } from "./simulated-exec.ts"
import { makeWatchLog, type WatchRequest, type WatchSession } from "./watch-log.ts"
import { apiTime, clone, metaOf, scopeOf, stringField, typeKey, type Obj } from "./wire-object.ts"

export type { RequestRecord, Served } from "./fault-front.ts"
export type { Admission, ApiRequest } from "./object-store.ts"
export type { PodOutcome } from "./simulated-kubelet.ts"
export type { ExecHandler, ExecProcess, ExecRequest } from "./simulated-exec.ts"
export type { WatchHandlers, WatchLine, WatchRequest, WatchSession } from "./watch-log.ts"
export type { Obj } from "./wire-object.ts"

export interface SimulatedClusterOptions {
  /** Seeds uids and generated names (default 1). */
  readonly seed?: number
  /** Clock for creationTimestamp and pod status times (default: the real clock). */
  readonly now?: () => Date
  /** Watch events kept for resuming; older resourceVersions answer 410 (default 1000). */
  readonly historyLimit?: number
  /** Entries kept in `requests` (oldest dropped first; default 10000). */
  readonly requestLogLimit?: number
  /** The types it serves (default all known); any other answers 404 on both fronts, as for a CRD not installed. */
  readonly types?: ReadonlyArray<ResourceType>
  /** Defaults and validation of custom resources from their CRDs (tests plug in the CRDs of deploy/); default none. */
  readonly admission?: Admission
}

export interface SimulatedCluster {
  readonly faults: FaultInjector
  readonly types: ReadonlyArray<ResourceType>
  /** The newest resourceVersion. */
  readonly resourceVersion: () => string
  /** The requests served through a front (after authentication), in order; the newest `requestLogLimit`. */
  readonly requests: ReadonlyArray<RequestRecord>
  /** One request through the fault injector (what the fronts call). */
  readonly serve: (request: ApiRequest) => Served<unknown>
  /** One watch through the fault injector (what the fronts call). */
  readonly serveWatch: (request: WatchRequest) => Served<WatchSession>
  /** A command in a pod's container (get and create on `pods/exec`), through the fault injector: run by the exec handler. */
  readonly serveExec: (request: ExecRequest) => Served<ExecProcess>
  /** Who runs the commands of `serveExec` (none: each answers 500). */
  readonly setExecHandler: (handler: ExecHandler | undefined) => void
  /** API semantics without faults or logging. */
  readonly execute: (request: ApiRequest) => Result.Result<unknown, KubeStatus>
  readonly watch: (request: WatchRequest) => Result.Result<WatchSession, KubeStatus>
  // Fault-free helpers for fixtures, tests and the demo.
  readonly get: (type: ResourceType, namespace: string | undefined, name: string) => Obj | undefined
  readonly list: (type: ResourceType, namespace?: string, labelSelector?: string) => ReadonlyArray<Obj>
  /** Creates `object` in `metadata.namespace`. */
  readonly create: (type: ResourceType, object: Obj) => Result.Result<Obj, KubeStatus>
  /** Unconditional update (any resourceVersion in `object` is ignored). */
  readonly replace: (type: ResourceType, object: Obj) => Result.Result<Obj, KubeStatus>
  readonly remove: (type: ResourceType, namespace: string | undefined, name: string) => Result.Result<void, KubeStatus>
  /** Writes `.status` (the status subresource). */
  readonly updateStatus: (type: ResourceType, namespace: string | undefined, name: string, status: unknown) => Result.Result<Obj, KubeStatus>
  /** The simulated kubelet: pod phase and container states, from the pod's own container names; a pod being deleted is then removed. */
  readonly terminatePod: (namespace: string, name: string, outcome: PodOutcome) => Result.Result<Obj, KubeStatus>
  /** Forget the watch history: resuming from any earlier resourceVersion answers 410. */
  readonly compact: () => void
  /** End every open watch connection (an API server restart). */
  readonly dropWatches: (abrupt?: boolean) => void
}

/** The API server's answer for a path no installed type serves. */
export const notServed: KubeStatus = { code: 404, reason: "NotFound", message: "the server could not find the requested resource" }

export const makeSimulatedCluster = (options: SimulatedClusterOptions = {}): SimulatedCluster => {
  const now = options.now ?? (() => new Date())
  const types = options.types ?? knownResourceTypes
  const faults = makeFaultInjector()
  // A real cluster's list never has resourceVersion "0" (which a watch reads as "any version"):
  // start after one bootstrap write so an empty list can be watched from exactly.
  const startRevision = 1
  const store = makeObjectStore({
    random: seededRandom(options.seed ?? 1),
    now,
    startRevision,
    onChange: (change) => watchLog.record(change),
    ...(options.admission === undefined ? {} : { admission: options.admission }),
  })
  const watchLog = makeWatchLog(store, Math.max(1, options.historyLimit ?? 1000), startRevision)
  const serves = (type: ResourceType) => types.some((t) => typeKey(t) === typeKey(type))
  const front = makeFaultFront(
    {
      execute: (request) => (serves(request.type) ? store.execute(request) : Result.fail(notServed)),
      watch: (request) => (serves(request.type) ? watchLog.watch(request) : Result.fail(notServed)),
    },
    faults,
    Math.max(1, options.requestLogLimit ?? 10_000),
  )
  const podType = types.find((t) => t.group === "" && t.resource === "pods")
  // create and update answer the object they wrote.
  const written = (result: Result.Result<unknown, KubeStatus>) => result as Result.Result<Obj, KubeStatus>
  let execHandler: ExecHandler | undefined

  return {
    faults,
    types,
    resourceVersion: () => String(store.revision()),
    get requests() {
      return front.requests
    },
    serve: front.serve,
    serveWatch: front.serveWatch,
    serveExec: (request) =>
      podType === undefined
        ? { _tag: "Answered", result: Result.fail(notServed) }
        : front.serveExec({ type: podType, namespace: request.namespace, name: request.pod }, () =>
            startExec(store.find(podType, request.namespace, request.pod), request, execHandler),
          ),
    setExecHandler: (handler) => {
      execHandler = handler
    },
    execute: store.execute,
    watch: watchLog.watch,
    get: (type, namespace, name) => Result.getOrUndefined(Result.map(store.find(type, scopeOf(type, namespace), name), clone)),
    list: (type, namespace, labelSelector) => {
      const selector = parseSelection(labelSelector, undefined)
      return Result.isSuccess(selector) ? store.list(type, scopeOf(type, namespace), selector.success) : []
    },
    create: (type, object) =>
      written(store.execute({ type, verb: "create", body: object, ...definedFields({ namespace: stringField(metaOf(object), "namespace") }) })),
    replace: (type, object) => {
      const meta = metaOf(object)
      const { resourceVersion: _ignored, ...unconditional } = meta
      return written(
        store.execute({
          type,
          verb: "update",
          name: stringField(meta, "name") ?? "",
          body: { ...object, metadata: unconditional },
          ...definedFields({ namespace: stringField(meta, "namespace") }),
        }),
      )
    },
    remove: (type, namespace, name) => Result.map(store.execute({ type, verb: "delete", name, ...definedFields({ namespace }) }), () => undefined),
    updateStatus: store.updateStatus,
    terminatePod: (namespace, name, outcome) => {
      if (podType === undefined) return Result.fail(badRequest("this simulated cluster has no pods"))
      const existing = store.find(podType, namespace, name)
      if (Result.isFailure(existing)) return existing
      const ended = store.updateStatus(podType, namespace, name, terminatedPodStatus(existing.success, outcome, apiTime(now())))
      // A pod being deleted is removed by its kubelet once its containers stopped.
      if (Result.isSuccess(ended) && metaOf(ended.success).deletionTimestamp !== undefined) store.execute({ type: podType, verb: "delete", namespace, name })
      return ended
    },
    compact: () => watchLog.compact(store.revision()),
    dropWatches: (abrupt = false) => watchLog.dropWatches(abrupt),
  }
}
