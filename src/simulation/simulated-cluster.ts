/**
 * An in-memory Kubernetes API with the semantics programs rely on: one monotonically increasing
 * resourceVersion, optimistic concurrency (a stale resourceVersion is a `Conflict`; none means
 * unconditional), `AlreadyExists`/`NotFound`, `generateName`, uid and creationTimestamp, label
 * selectors, JSON merge patch, no-op writes that change nothing (no new resourceVersion, no
 * event), status subresources, and watches that replay from a resourceVersion out of a bounded
 * history (410 Expired when it is gone).
 *
 * It stores the JSON wire form. Two fronts serve it — `SimulatedKube.inMemory` in process and the stub
 * HTTP server — both through `serve`/`serveWatch`, which apply the fault injector; `execute` and
 * the helpers below are the fault-free back door for fixtures and the simulated kubelet.
 */
import { Result } from "effect"
import type { KubeStatus } from "../services/kube/errors.ts"
import { makeFaultInjector, type FaultInjector, type RequestInfo } from "./faults.ts"
import { matchesLabelSelector, parseLabelSelector, type LabelSelector } from "../services/kube/label-selector.ts"
import { applyMergePatch, isJsonObject, jsonEqual } from "../services/kube/merge-patch.ts"
import { apiVersionOf, knownResourceTypes, type ResourceType, type Verb } from "../services/kube/resources.ts"
import { seededRandom } from "./seeded-random.ts"
import { terminatedPodStatus, type PodOutcome } from "./simulated-kubelet.ts"
import { badRequest, invalid, validateObject } from "./simulated-validation.ts"

export type { PodOutcome } from "./simulated-kubelet.ts"

export type Obj = Record<string, unknown>

export interface SimulatedClusterOptions {
  /** Seeds uids and generated names (default 1). */
  readonly seed?: number
  /** Clock for creationTimestamp and pod status times (default: the real clock). */
  readonly now?: () => Date
  /** Watch events kept for resuming; older resourceVersions answer 410 (default 1000). */
  readonly historyLimit?: number
  /** Entries kept in `requests` (oldest dropped first; default 10000). */
  readonly requestLogLimit?: number
  readonly types?: ReadonlyArray<ResourceType>
}

export interface ApiRequest {
  readonly type: ResourceType
  readonly verb: Exclude<Verb, "watch">
  readonly namespace?: string
  readonly name?: string
  readonly body?: unknown
  readonly labelSelector?: string
  readonly fieldSelector?: string
}

export interface WatchRequest {
  readonly type: ResourceType
  readonly namespace?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  /** Replay the changes after it; absent, "" or "0": start with the current objects as ADDED. */
  readonly resourceVersion?: string
}

export interface WatchLine {
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly object: Obj
}

export interface WatchHandlers {
  readonly onEvent: (event: WatchLine) => void
  /** The connection ended: dropped by fault injection (`abrupt` = reset) or closed by the cluster. */
  readonly onEnd: (abrupt: boolean) => void
}

/** An accepted watch: `start` replays and then delivers live changes, synchronously. */
export interface WatchSession {
  readonly start: (handlers: WatchHandlers) => void
  readonly close: () => void
}

/** What a front does with a request: answer it, or (timeout fault) never answer. */
export type Served<A> =
  | { readonly _tag: "Answered"; readonly result: Result.Result<A, KubeStatus> }
  | { readonly _tag: "NoAnswer" }

export interface RequestRecord {
  readonly verb: Verb
  readonly resource: string
  readonly namespace?: string
  readonly name?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  readonly resourceVersion?: string
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
  /** The simulated kubelet: pod phase and container states, from the pod's own container names. */
  readonly terminatePod: (namespace: string, name: string, outcome: PodOutcome) => Result.Result<Obj, KubeStatus>
  /** Forget the watch history: resuming from any earlier resourceVersion answers 410. */
  readonly compact: () => void
  /** End every open watch connection (an API server restart). */
  readonly dropWatches: (abrupt?: boolean) => void
}

interface HistoryEntry {
  readonly rv: number
  readonly typeKey: string
  readonly namespace: string | undefined
  readonly type: WatchLine["type"]
  readonly object: Obj
  readonly previous: Obj | undefined
}

interface Watcher {
  readonly typeKey: string
  readonly namespace: string | undefined
  readonly selection: Selection
  readonly handlers: WatchHandlers
  closed: boolean
}

/** Which objects a list or watch selects: a label selector and, optionally, `metadata.name=<name>`. */
interface Selection {
  readonly labels: LabelSelector
  readonly name: string | undefined
}

/** The API server's field selectors, as far as the project uses them: `metadata.name=<name>` (or `==`). */
const parseSelection = (labelSelector: string | undefined, fieldSelector: string | undefined): Result.Result<Selection, string> => {
  const labels = parseLabelSelector(labelSelector ?? "")
  if (Result.isFailure(labels)) return Result.fail(labels.failure)
  const field = (fieldSelector ?? "").trim()
  if (field === "") return Result.succeed({ labels: labels.success, name: undefined })
  const m = /^metadata\.name==?([^,=!]+)$/.exec(field)
  if (m === null) return Result.fail(`field selector "${field}" is not supported by the simulated API server: only metadata.name=<name>`)
  return Result.succeed({ labels: labels.success, name: m[1]! })
}

const typeKey = (type: ResourceType): string => `${type.group}/${type.resource}`
const objectKey = (namespace: string | undefined, name: string): string => `${namespace ?? ""}/${name}`
const metaOf = (obj: Obj): Obj => (isJsonObject(obj["metadata"]) ? (obj["metadata"] as Obj) : {})
const labelsOf = (obj: Obj): Record<string, string> | undefined => {
  const labels = metaOf(obj)["labels"]
  return isJsonObject(labels) ? (labels as Record<string, string>) : undefined
}
const stringField = (obj: Obj, key: string): string | undefined => {
  const value = obj[key]
  return typeof value === "string" && value !== "" ? value : undefined
}
const clone = <A>(value: A): A => structuredClone(value)
const time = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z")
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

const notFound = (type: ResourceType, name: string): KubeStatus => ({
  code: 404,
  reason: "NotFound",
  message: `${type.resource}${type.group === "" ? "" : `.${type.group}`} "${name}" not found`,
  details: { name, kind: type.resource, ...(type.group === "" ? {} : { group: type.group }) },
})
const alreadyExists = (type: ResourceType, name: string): KubeStatus => ({
  code: 409,
  reason: "AlreadyExists",
  message: `${type.resource}${type.group === "" ? "" : `.${type.group}`} "${name}" already exists`,
  details: { name, kind: type.resource },
})
const conflict = (type: ResourceType, name: string): KubeStatus => ({
  code: 409,
  reason: "Conflict",
  message: `Operation cannot be fulfilled on ${type.resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
  details: { name, kind: type.resource },
})

export const makeSimulatedCluster = (options: SimulatedClusterOptions = {}): SimulatedCluster => {
  const random = seededRandom(options.seed ?? 1)
  const now = options.now ?? (() => new Date())
  const historyLimit = Math.max(1, options.historyLimit ?? 1000)
  const types = options.types ?? knownResourceTypes
  const faults = makeFaultInjector()
  const store = new Map<string, Map<string, Obj>>()
  const history: Array<HistoryEntry> = []
  const watchers = new Set<Watcher>()
  const requests: Array<RequestRecord> = []
  const requestLogLimit = Math.max(1, options.requestLogLimit ?? 10_000)
  const log = (record: RequestRecord) => {
    requests.push(record)
    if (requests.length > requestLogLimit) requests.splice(0, requests.length - requestLogLimit)
  }
  // A real cluster's list never has resourceVersion "0" (which a watch reads as "any version"):
  // start after one bootstrap write so an empty list can be watched from exactly.
  let revision = 1
  let compactedThrough = 1

  const bucket = (type: ResourceType): Map<string, Obj> => {
    const key = typeKey(type)
    let objects = store.get(key)
    if (objects === undefined) {
      objects = new Map()
      store.set(key, objects)
    }
    return objects
  }
  const scope = (type: ResourceType, namespace: string | undefined) => (type.namespaced ? namespace : undefined)
  const selects = (selection: Selection, obj: Obj): boolean =>
    matchesLabelSelector(selection.labels, labelsOf(obj)) && (selection.name === undefined || metaOf(obj)["name"] === selection.name)

  const project = (watcher: Watcher, entry: HistoryEntry): WatchLine | undefined => {
    if (entry.typeKey !== watcher.typeKey) return undefined
    if (watcher.namespace !== undefined && entry.namespace !== watcher.namespace) return undefined
    const now = selects(watcher.selection, entry.object)
    if (entry.type === "MODIFIED") {
      // A selector watch sees objects enter (ADDED) and leave (DELETED) its selection.
      const before = entry.previous !== undefined && selects(watcher.selection, entry.previous)
      if (now && before) return { type: "MODIFIED", object: clone(entry.object) }
      if (now) return { type: "ADDED", object: clone(entry.object) }
      if (before) return { type: "DELETED", object: clone(entry.object) }
      return undefined
    }
    return now ? { type: entry.type, object: clone(entry.object) } : undefined
  }

  /** Records one change under a new resourceVersion and tells the watchers. */
  const commit = (type: ResourceType, namespace: string | undefined, name: string, kind: WatchLine["type"], next: Obj, previous: Obj | undefined): Obj => {
    revision++
    const stored: Obj = { ...next, metadata: { ...metaOf(next), resourceVersion: String(revision) } }
    if (kind === "DELETED") bucket(type).delete(objectKey(namespace, name))
    else bucket(type).set(objectKey(namespace, name), stored)
    const entry: HistoryEntry = { rv: revision, typeKey: typeKey(type), namespace, type: kind, object: stored, previous }
    history.push(entry)
    while (history.length > historyLimit) compactedThrough = history.shift()?.rv ?? compactedThrough
    for (const watcher of [...watchers]) {
      if (watcher.closed) continue
      const line = project(watcher, entry)
      if (line !== undefined) watcher.handlers.onEvent(line)
    }
    return clone(stored)
  }

  const bodyObject = (body: unknown): Result.Result<Obj, KubeStatus> =>
    isJsonObject(body) ? Result.succeed(clone(body) as Obj) : Result.fail(badRequest("the body of the request is not a JSON object"))

  /** Secrets: `stringData` is folded into `data` (base64), as the API does on write. */
  const normalize = (type: ResourceType, obj: Obj): Obj => {
    const stringData = obj["stringData"]
    if (type.resource !== "secrets" || !isJsonObject(stringData)) return obj
    const data: Record<string, unknown> = isJsonObject(obj["data"]) ? { ...obj["data"] } : {}
    for (const [key, value] of Object.entries(stringData)) {
      if (typeof value === "string") data[key] = Buffer.from(value, "utf8").toString("base64")
    }
    const { stringData: _dropped, ...rest } = obj
    return { ...rest, data }
  }

  const checkScope = (type: ResourceType, namespace: string | undefined, obj: Obj): KubeStatus | undefined => {
    const declared = stringField(metaOf(obj), "namespace")
    if (type.namespaced && declared !== undefined && declared !== namespace) {
      return badRequest("the namespace of the provided object does not match the namespace sent on the request")
    }
    const kind = stringField(obj, "kind")
    if (kind !== undefined && kind !== type.kind) return badRequest(`the kind of the provided object (${kind}) is not ${type.kind}`)
    return undefined
  }

  const create = (type: ResourceType, namespace: string | undefined, body: unknown): Result.Result<Obj, KubeStatus> => {
    const parsed = bodyObject(body)
    if (Result.isFailure(parsed)) return parsed
    const obj = normalize(type, parsed.success)
    const scopeError = checkScope(type, namespace, obj)
    if (scopeError !== undefined) return Result.fail(scopeError)
    const meta = metaOf(obj)
    if (stringField(meta, "resourceVersion") !== undefined) {
      return Result.fail(badRequest("resourceVersion should not be set on objects to be created"))
    }
    const objects = bucket(type)
    let name = stringField(meta, "name")
    const generateName = stringField(meta, "generateName")
    if (name === undefined && generateName !== undefined) {
      for (let i = 0; i < 8 && (name === undefined || objects.has(objectKey(namespace, name))); i++) {
        name = generateName + Array.from({ length: 5 }, () => random.pick([...suffixAlphabet])).join("")
      }
    }
    if (name === undefined) {
      return Result.fail(invalid(type, "", [{ field: "metadata.name", message: "Required value: name or generateName is required" }]))
    }
    if (objects.has(objectKey(namespace, name))) return Result.fail(alreadyExists(type, name))
    const { status: _status, ...withoutStatus } = obj
    const next: Obj = {
      ...(type.statusSubresource === true ? withoutStatus : obj),
      ...(type.resource === "pods" ? { status: { phase: "Pending" } } : {}),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...meta,
        name,
        ...(namespace === undefined ? {} : { namespace }),
        uid: random.uuid(),
        creationTimestamp: time(now()),
      },
    }
    const rejected = validateObject(type, next, name, namespace)
    if (rejected !== undefined) return Result.fail(rejected)
    return Result.succeed(commit(type, namespace, name, "ADDED", next, undefined))
  }

  /** The common end of update and patch: server-owned fields kept, validated, no-op detected. */
  const write = (type: ResourceType, namespace: string | undefined, name: string, existing: Obj, candidate: Obj, keepStatus: boolean): Result.Result<Obj, KubeStatus> => {
    const obj = normalize(type, candidate)
    const meta = metaOf(obj)
    const declaredName = stringField(meta, "name")
    if (declaredName !== undefined && declaredName !== name) {
      return Result.fail(badRequest(`the name of the object (${declaredName}) does not match the name on the URL (${name})`))
    }
    const scopeError = checkScope(type, namespace, obj)
    if (scopeError !== undefined) return Result.fail(scopeError)
    const old = metaOf(existing)
    const { status: _status, ...withoutStatus } = obj
    const next: Obj = {
      ...(keepStatus ? withoutStatus : obj),
      ...(keepStatus && existing["status"] !== undefined ? { status: existing["status"] } : {}),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...meta,
        name,
        ...(namespace === undefined ? {} : { namespace }),
        uid: old["uid"],
        creationTimestamp: old["creationTimestamp"],
        resourceVersion: old["resourceVersion"],
      },
    }
    if (existing["immutable"] === true && (!jsonEqual(next["data"], existing["data"]) || !jsonEqual(next["binaryData"], existing["binaryData"]) || next["immutable"] !== true)) {
      return Result.fail(invalid(type, name, [{ field: "data", message: "Forbidden: field is immutable when `immutable` is set" }]))
    }
    const rejected = validateObject(type, next, name, namespace)
    if (rejected !== undefined) return Result.fail(rejected)
    if (jsonEqual(next, existing)) return Result.succeed(clone(existing))
    return Result.succeed(commit(type, namespace, name, "MODIFIED", next, existing))
  }

  const existingOr404 = (type: ResourceType, namespace: string | undefined, name: string | undefined): Result.Result<Obj, KubeStatus> => {
    if (name === undefined) return Result.fail(badRequest(`a name is required to address one ${type.kind}`))
    const found = bucket(type).get(objectKey(namespace, name))
    return found === undefined ? Result.fail(notFound(type, name)) : Result.succeed(found)
  }

  const preconditionFails = (existing: Obj, obj: Obj): boolean => {
    const wanted = stringField(metaOf(obj), "resourceVersion")
    return wanted !== undefined && wanted !== metaOf(existing)["resourceVersion"]
  }

  const execute = (request: ApiRequest): Result.Result<unknown, KubeStatus> => {
    const { type } = request
    const namespace = scope(type, request.namespace)
    switch (request.verb) {
      case "get":
        return Result.map(existingOr404(type, namespace, request.name), clone)
      case "list": {
        const selector = parseSelection(request.labelSelector, request.fieldSelector)
        if (Result.isFailure(selector)) return Result.fail(badRequest(selector.failure))
        return Result.succeed({
          apiVersion: apiVersionOf(type),
          kind: `${type.kind}List`,
          metadata: { resourceVersion: String(revision) },
          items: listMatching(type, namespace, selector.success),
        })
      }
      case "create":
        return create(type, namespace, request.body)
      // An update replaces the object; a patch is a JSON merge patch onto it.
      case "update":
      case "patch": {
        const name = request.name ?? ""
        const existing = existingOr404(type, namespace, request.name)
        if (Result.isFailure(existing)) return existing
        const body = bodyObject(request.body)
        if (Result.isFailure(body)) return body
        if (preconditionFails(existing.success, body.success)) return Result.fail(conflict(type, name))
        const next = request.verb === "patch" ? (applyMergePatch(existing.success, body.success) as Obj) : body.success
        return write(type, namespace, name, existing.success, next, type.statusSubresource === true)
      }
      case "delete": {
        const existing = existingOr404(type, namespace, request.name)
        if (Result.isFailure(existing)) return existing
        const name = request.name ?? ""
        commit(type, namespace, name, "DELETED", existing.success, existing.success)
        return Result.succeed({
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name, kind: type.resource, uid: metaOf(existing.success)["uid"] },
        })
      }
    }
  }

  const listMatching = (type: ResourceType, namespace: string | undefined, selection: Selection): Array<Obj> =>
    [...bucket(type).entries()]
      .filter(([, obj]) => (namespace === undefined || metaOf(obj)["namespace"] === namespace) && selects(selection, obj))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => clone(obj))

  const watch = (request: WatchRequest): Result.Result<WatchSession, KubeStatus> => {
    const { type } = request
    const namespace = scope(type, request.namespace)
    const selector = parseSelection(request.labelSelector, request.fieldSelector)
    if (Result.isFailure(selector)) return Result.fail(badRequest(selector.failure))
    const from = request.resourceVersion ?? ""
    let replay: () => ReadonlyArray<WatchLine>
    if (from === "" || from === "0") {
      replay = () => listMatching(type, namespace, selector.success).map((object) => ({ type: "ADDED", object }))
    } else {
      const rv = Number(from)
      if (!Number.isSafeInteger(rv) || rv < 0) return Result.fail(badRequest(`invalid resourceVersion "${from}"`))
      if (rv < compactedThrough) {
        return Result.fail({ code: 410, reason: "Expired", message: `too old resource version: ${rv} (${compactedThrough})` })
      }
      replay = () => {
        const probe: Watcher = { typeKey: typeKey(type), namespace, selection: selector.success, handlers: { onEvent: () => {}, onEnd: () => {} }, closed: false }
        return history.filter((e) => e.rv > rv).flatMap((e) => project(probe, e) ?? [])
      }
    }
    let watcher: Watcher | undefined
    let closed = false
    return Result.succeed({
      start: (handlers) => {
        if (closed) return
        watcher = { typeKey: typeKey(type), namespace, selection: selector.success, handlers, closed: false }
        const current = watcher
        for (const line of replay()) {
          if (current.closed) return
          handlers.onEvent(line)
        }
        if (!current.closed) watchers.add(current)
      },
      close: () => {
        closed = true
        if (watcher !== undefined) {
          watcher.closed = true
          watchers.delete(watcher)
        }
      },
    })
  }

  const infoOf = (request: { readonly type: ResourceType; readonly namespace?: string; readonly name?: string }, verb: Verb): RequestInfo => ({
    type: request.type,
    verb,
    ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
    ...(request.name === undefined ? {} : { name: request.name }),
  })

  const serve = (request: ApiRequest): Served<unknown> => {
    log({
      verb: request.verb,
      resource: request.type.resource,
      ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
      ...(request.name === undefined ? {} : { name: request.name }),
      ...(request.labelSelector === undefined ? {} : { labelSelector: request.labelSelector }),
      ...(request.fieldSelector === undefined ? {} : { fieldSelector: request.fieldSelector }),
    })
    const fault = faults.decide(infoOf(request, request.verb))
    if (fault?._tag === "Status") return { _tag: "Answered", result: Result.fail(fault.status) }
    if (fault?._tag === "Timeout") {
      if (fault.applied) execute(request)
      return { _tag: "NoAnswer" }
    }
    return { _tag: "Answered", result: execute(request) }
  }

  const serveWatch = (request: WatchRequest): Served<WatchSession> => {
    log({
      verb: "watch",
      resource: request.type.resource,
      ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
      ...(request.labelSelector === undefined ? {} : { labelSelector: request.labelSelector }),
      ...(request.fieldSelector === undefined ? {} : { fieldSelector: request.fieldSelector }),
      ...(request.resourceVersion === undefined ? {} : { resourceVersion: request.resourceVersion }),
    })
    const info = infoOf(request, "watch")
    const fault = faults.decide(info)
    if (fault?._tag === "Status") return { _tag: "Answered", result: Result.fail(fault.status) }
    if (fault?._tag === "Timeout") return { _tag: "NoAnswer" }
    const accepted = watch(request)
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

  const unwrapOk = <A>(result: Result.Result<unknown, KubeStatus>): Result.Result<A, KubeStatus> => result as Result.Result<A, KubeStatus>

  const updateStatus = (type: ResourceType, namespace: string | undefined, name: string, status: unknown): Result.Result<Obj, KubeStatus> => {
    const ns = scope(type, namespace)
    const existing = existingOr404(type, ns, name)
    if (Result.isFailure(existing)) return existing
    const next = { ...existing.success, status: clone(status) }
    if (jsonEqual(next, existing.success)) return Result.succeed(clone(existing.success))
    return Result.succeed(commit(type, ns, name, "MODIFIED", next, existing.success))
  }

  const podType = types.find((t) => t.group === "" && t.resource === "pods")

  return {
    faults,
    types,
    resourceVersion: () => String(revision),
    get requests() {
      return requests
    },
    serve,
    serveWatch,
    execute,
    watch,
    get: (type, namespace, name) => {
      const found = bucket(type).get(objectKey(scope(type, namespace), name))
      return found === undefined ? undefined : clone(found)
    },
    list: (type, namespace, labelSelector) => {
      const selector = parseSelection(labelSelector, undefined)
      return Result.isSuccess(selector) ? listMatching(type, scope(type, namespace), selector.success) : []
    },
    create: (type, object) =>
      unwrapOk(execute({ type, verb: "create", body: object, ...optionalNamespace(stringField(metaOf(object), "namespace")) })),
    replace: (type, object) => {
      const meta = metaOf(object)
      const { resourceVersion: _ignored, ...unconditional } = meta
      return unwrapOk(
        execute({
          type,
          verb: "update",
          name: stringField(meta, "name") ?? "",
          body: { ...object, metadata: unconditional },
          ...optionalNamespace(stringField(meta, "namespace")),
        }),
      )
    },
    remove: (type, namespace, name) =>
      Result.map(execute({ type, verb: "delete", name, ...optionalNamespace(namespace) }), () => undefined),
    updateStatus,
    terminatePod: (namespace, name, outcome) => {
      if (podType === undefined) return Result.fail(badRequest("this simulated cluster has no pods"))
      const existing = existingOr404(podType, namespace, name)
      if (Result.isFailure(existing)) return existing
      return updateStatus(podType, namespace, name, terminatedPodStatus(existing.success, outcome, time(now())))
    },
    compact: () => {
      compactedThrough = revision
      history.length = 0
    },
    dropWatches: (abrupt = false) => {
      for (const watcher of [...watchers]) {
        watcher.closed = true
        watchers.delete(watcher)
        watcher.handlers.onEnd(abrupt)
      }
    },
  }
}

const optionalNamespace = (namespace: string | undefined) => (namespace === undefined ? {} : { namespace })
