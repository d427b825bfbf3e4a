/**
 * The simulated cluster's objects with the API semantics programs rely on: one monotonically
 * increasing resourceVersion, optimistic concurrency (a stale resourceVersion is a `Conflict`; none
 * means unconditional), `AlreadyExists`/`NotFound`, `generateName`, uid and creationTimestamp, label
 * and name selection, JSON merge patch, no-op writes that change nothing (no new resourceVersion,
 * no change recorded), status subresources (a write to the object keeps the stored status; a write to
 * `<object>/status` changes only the status), `metadata.generation` for types that track it, graceful
 * deletion of a pod bound to a node (marked with `deletionTimestamp`, kept until its kubelet ends it), and
 * the garbage collector's background deletion of dependents (see `garbage-collection.ts`). Every change
 * is handed to `onChange` (the watch log).
 */
import { Result } from "effect"
import type { KubeStatus } from "../services/kube/errors.ts"
import { applyMergePatch, isJsonObject, jsonEqual } from "../services/kube/merge-patch.ts"
import { apiVersionOf, type ResourceType, type Subresource, type Verb } from "../services/kube/resources.ts"
import { collectGarbage, objectUid, type StoredObject } from "./garbage-collection.ts"
import { parseSelection, selects, type Selection } from "./object-selection.ts"
import type { SeededRandom } from "./seeded-random.ts"
import { badRequest, invalid, validateObject } from "./simulated-validation.ts"
import { apiTime, clone, metaOf, objectKey, scopeOf, stringField, typeKey, type Obj } from "./wire-object.ts"

export interface ApiRequest {
  readonly type: ResourceType
  readonly verb: Exclude<Verb, "watch">
  readonly namespace?: string
  readonly name?: string
  readonly body?: unknown
  readonly labelSelector?: string
  readonly fieldSelector?: string
  /** `status`: get, update or patch `<object>/status`. */
  readonly subresource?: Subresource
}

/** One committed change, under its own resourceVersion `rv`. */
export interface Change {
  readonly rv: number
  readonly typeKey: string
  readonly namespace: string | undefined
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly object: Obj
  readonly previous: Obj | undefined
}

export interface ObjectStore {
  /** The newest resourceVersion. */
  readonly revision: () => number
  /** One request with the API's semantics. */
  readonly execute: (request: ApiRequest) => Result.Result<unknown, KubeStatus>
  /** The object, or a NotFound Status. */
  readonly find: (type: ResourceType, namespace: string | undefined, name: string) => Result.Result<Obj, KubeStatus>
  /** The selected objects (copies), in key order. */
  readonly list: (type: ResourceType, namespace: string | undefined, selection: Selection) => Array<Obj>
  /** Writes `.status` (the status subresource). */
  readonly updateStatus: (type: ResourceType, namespace: string | undefined, name: string, status: unknown) => Result.Result<Obj, KubeStatus>
}

/**
 * What a real API server does from a CRD's schema before it stores a custom resource: apply its defaults and
 * validate it (structural schema, CEL rules). Answers the object to store, or the Status refusing it (422).
 */
export type Admission = (type: ResourceType, object: Obj, name: string) => Result.Result<Obj, KubeStatus>

export interface ObjectStoreOptions {
  /** Default: every object is admitted as it is. */
  readonly admission?: Admission
  /** uids and generated names. */
  readonly random: SeededRandom
  /** creationTimestamp. */
  readonly now: () => Date
  readonly onChange: (change: Change) => void
  readonly startRevision: number
}

const qualified = (type: ResourceType): string => `${type.resource}${type.group === "" ? "" : `.${type.group}`}`
const notFound = (type: ResourceType, name: string): KubeStatus => ({
  code: 404,
  reason: "NotFound",
  message: `${qualified(type)} "${name}" not found`,
  details: { name, kind: type.resource, ...(type.group === "" ? {} : { group: type.group }) },
})
const alreadyExists = (type: ResourceType, name: string): KubeStatus => ({
  code: 409,
  reason: "AlreadyExists",
  message: `${qualified(type)} "${name}" already exists`,
  details: { name, kind: type.resource },
})
const conflict = (type: ResourceType, name: string): KubeStatus => ({
  code: 409,
  reason: "Conflict",
  message:
    `Operation cannot be fulfilled on ${type.resource} "${name}": the object has been modified; ` +
    "please apply your changes to the latest version and try again",
  details: { name, kind: type.resource },
})

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

const bodyObject = (body: unknown): Result.Result<Obj, KubeStatus> =>
  isJsonObject(body) ? Result.succeed(clone(body) as Obj) : Result.fail(badRequest("the body of the request is not a JSON object"))

/** Secrets: `stringData` is folded into `data` (base64), as the API does on write. */
const normalize = (type: ResourceType, obj: Obj): Obj => {
  const stringData = obj.stringData
  if (type.resource !== "secrets" || !isJsonObject(stringData)) return obj
  const data: Record<string, unknown> = isJsonObject(obj.data) ? { ...obj.data } : {}
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

/** A write to a type with a status subresource ignores the body's `.status`. */
const withoutStatus = (obj: Obj, drop: boolean): Obj => {
  const { status: _status, ...rest } = obj
  return drop ? rest : obj
}

/**
 * The object as the server stores it: `body`, then apiVersion and kind, then metadata with its name, namespace and the server's fields.
 * A cluster-scoped object has no namespace, whatever its body says (the API server clears it).
 */
const asStored = (type: ResourceType, body: Obj, name: string, namespace: string | undefined, serverFields: Obj): Obj => {
  const { namespace: _declared, ...meta } = metaOf(body)
  return {
    ...body,
    apiVersion: apiVersionOf(type),
    kind: type.kind,
    metadata: {
      ...(type.namespaced ? metaOf(body) : meta),
      name,
      ...(namespace === undefined ? {} : { namespace }),
      ...serverFields,
    },
  }
}

/** What `metadata.generation` counts: every field but metadata (and status, when the status has its own subresource). */
const generationContent = (type: ResourceType, obj: Obj): Obj => {
  const { metadata: _metadata, ...rest } = obj
  return withoutStatus(rest, type.statusSubresource === true)
}

/** The server's `metadata.generation` of a write: 1 on create, +1 when what it counts changed; none for types that do not track it. */
const generationOf = (type: ResourceType, next: Obj, existing: Obj | undefined): Obj => {
  if (type.tracksGeneration !== true) return {}
  if (existing === undefined) return { generation: 1 }
  const previous = metaOf(existing).generation
  const current = typeof previous === "number" ? previous : 0
  return { generation: jsonEqual(generationContent(type, next), generationContent(type, existing)) ? current : current + 1 }
}

/**
 * How long a delete waits for the object's kubelet: a pod bound to a node (`spec.nodeName`) and not finished gets its
 * `terminationGracePeriodSeconds` (30); anything else, 0 (removed at once), as the API server's pod strategy decides.
 */
const gracePeriodSeconds = (type: ResourceType, obj: Obj): number => {
  if (type.group !== "" || type.resource !== "pods") return 0
  const spec = isJsonObject(obj.spec) ? obj.spec : {}
  const phase = isJsonObject(obj.status) ? obj.status.phase : undefined
  if (typeof spec.nodeName !== "string" || spec.nodeName === "" || phase === "Succeeded" || phase === "Failed") return 0
  const grace = spec.terminationGracePeriodSeconds
  return typeof grace === "number" && Number.isSafeInteger(grace) && grace >= 0 ? grace : 30
}

const preconditionFails = (existing: Obj, obj: Obj): boolean => {
  const wanted = stringField(metaOf(obj), "resourceVersion")
  return wanted !== undefined && wanted !== metaOf(existing).resourceVersion
}

export const makeObjectStore = (options: ObjectStoreOptions): ObjectStore => {
  const { random, now, onChange } = options
  const admit: Admission = options.admission ?? ((_type, object) => Result.succeed(object))
  const objects = new Map<string, Map<string, Obj>>()
  const typesByKey = new Map<string, ResourceType>()
  let revision = options.startRevision

  const bucket = (type: ResourceType): Map<string, Obj> => {
    const key = typeKey(type)
    let found = objects.get(key)
    if (found === undefined) {
      found = new Map()
      objects.set(key, found)
      typesByKey.set(key, type)
    }
    return found
  }

  const everything = (): Array<StoredObject> =>
    [...objects.entries()].flatMap(([key, found]) => [...found.values()].map((obj) => ({ type: typesByKey.get(key)!, obj })))

  /** Records one change under a new resourceVersion and hands it on. */
  const commit = (type: ResourceType, namespace: string | undefined, name: string, kind: Change["type"], next: Obj, previous: Obj | undefined): Obj => {
    revision++
    const stored: Obj = { ...next, metadata: { ...metaOf(next), resourceVersion: String(revision) } }
    if (kind === "DELETED") bucket(type).delete(objectKey(namespace, name))
    else bucket(type).set(objectKey(namespace, name), stored)
    onChange({ rv: revision, typeKey: typeKey(type), namespace, type: kind, object: stored, previous })
    return clone(stored)
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
    const sameType = bucket(type)
    let name = stringField(meta, "name")
    const generateName = stringField(meta, "generateName")
    if (name === undefined && generateName !== undefined) {
      for (let i = 0; i < 8 && (name === undefined || sameType.has(objectKey(namespace, name))); i++) {
        name = generateName + Array.from({ length: 5 }, () => random.pick([...suffixAlphabet])).join("")
      }
    }
    if (name === undefined) {
      return Result.fail(invalid(type, "", [{ field: "metadata.name", message: "Required value: name or generateName is required" }]))
    }
    if (sameType.has(objectKey(namespace, name))) return Result.fail(alreadyExists(type, name))
    const fields: Obj = { ...withoutStatus(obj, type.statusSubresource === true), ...(type.resource === "pods" ? { status: { phase: "Pending" } } : {}) }
    const admitted = admit(type, asStored(type, fields, name, namespace, { uid: random.uuid(), creationTimestamp: apiTime(now()) }), name)
    if (Result.isFailure(admitted)) return admitted
    const next = admitted.success
    Object.assign(metaOf(next), generationOf(type, next, undefined))
    const rejected = validateObject(type, next, name, namespace)
    if (rejected !== undefined) return Result.fail(rejected)
    return Result.succeed(commit(type, namespace, name, "ADDED", next, undefined))
  }

  /** The common end of update and patch: server-owned fields kept, validated, no-op detected. */
  const write = (
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    existing: Obj,
    candidate: Obj,
    keepStatus: boolean,
  ): Result.Result<Obj, KubeStatus> => {
    const obj = normalize(type, candidate)
    const declaredName = stringField(metaOf(obj), "name")
    if (declaredName !== undefined && declaredName !== name) {
      return Result.fail(badRequest(`the name of the object (${declaredName}) does not match the name on the URL (${name})`))
    }
    const scopeError = checkScope(type, namespace, obj)
    if (scopeError !== undefined) return Result.fail(scopeError)
    const old = metaOf(existing)
    const body: Obj = { ...withoutStatus(obj, keepStatus), ...(keepStatus && existing.status !== undefined ? { status: existing.status } : {}) }
    const admitted = admit(
      type,
      asStored(type, body, name, namespace, { uid: old.uid, creationTimestamp: old.creationTimestamp, resourceVersion: old.resourceVersion }),
      name,
    )
    if (Result.isFailure(admitted)) return admitted
    const next = admitted.success
    Object.assign(metaOf(next), generationOf(type, next, existing))
    if (existing.immutable === true && (!jsonEqual(next.data, existing.data) || !jsonEqual(next.binaryData, existing.binaryData) || next.immutable !== true)) {
      return Result.fail(invalid(type, name, [{ field: "data", message: "Forbidden: field is immutable when `immutable` is set" }]))
    }
    const rejected = validateObject(type, next, name, namespace)
    if (rejected !== undefined) return Result.fail(rejected)
    if (jsonEqual(next, existing)) return Result.succeed(clone(existing))
    return Result.succeed(commit(type, namespace, name, "MODIFIED", next, existing))
  }

  /** The status strategy: the stored object with the candidate's status (none when it has none); nothing else changes. */
  const writeStatus = (type: ResourceType, namespace: string | undefined, name: string, existing: Obj, candidate: Obj): Result.Result<Obj, KubeStatus> => {
    const { status: _stored, ...rest } = existing
    const admitted = admit(type, candidate.status === undefined ? rest : { ...rest, status: clone(candidate.status) }, name)
    if (Result.isFailure(admitted)) return admitted
    const next = admitted.success
    if (jsonEqual(next, existing)) return Result.succeed(clone(existing))
    return Result.succeed(commit(type, namespace, name, "MODIFIED", next, existing))
  }

  /** Background deletion of what the deleted object owned, and of what that owned, and so on. */
  const collectDependents = (deleted: Obj): void => {
    const gone = [objectUid(deleted)]
    for (let uid = gone.pop(); uid !== undefined; uid = gone.pop()) {
      for (const action of collectGarbage(everything(), uid)) {
        const { type, obj } = action.target
        const meta = metaOf(obj)
        const namespace = stringField(meta, "namespace")
        const name = stringField(meta, "name") ?? ""
        if (action._tag === "Delete") {
          commit(type, namespace, name, "DELETED", obj, obj)
          gone.push(objectUid(obj))
        } else {
          commit(type, namespace, name, "MODIFIED", { ...obj, metadata: { ...meta, ownerReferences: action.ownerReferences } }, obj)
        }
      }
    }
  }

  const existingOr404 = (type: ResourceType, namespace: string | undefined, name: string | undefined): Result.Result<Obj, KubeStatus> => {
    if (name === undefined) return Result.fail(badRequest(`a name is required to address one ${type.kind}`))
    const found = bucket(type).get(objectKey(namespace, name))
    return found === undefined ? Result.fail(notFound(type, name)) : Result.succeed(found)
  }

  const list = (type: ResourceType, namespace: string | undefined, selection: Selection): Array<Obj> =>
    [...bucket(type).entries()]
      .filter(([, obj]) => (namespace === undefined || metaOf(obj).namespace === namespace) && selects(selection, obj))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => clone(obj))

  /** A write's body, checked against the stored object: its resourceVersion precondition, then its name and scope. */
  const writeTarget = (request: ApiRequest, namespace: string | undefined): Result.Result<{ existing: Obj; body: Obj }, KubeStatus> => {
    const existing = existingOr404(request.type, namespace, request.name)
    if (Result.isFailure(existing)) return Result.fail(existing.failure)
    const body = bodyObject(request.body)
    if (Result.isFailure(body)) return Result.fail(body.failure)
    if (preconditionFails(existing.success, body.success)) return Result.fail(conflict(request.type, request.name ?? ""))
    return Result.succeed({ existing: existing.success, body: body.success })
  }

  /** `<object>/status`: get reads the object, update and patch go through the status strategy. */
  const executeStatus = (request: ApiRequest, namespace: string | undefined): Result.Result<unknown, KubeStatus> => {
    const { type } = request
    const name = request.name ?? ""
    if (type.statusSubresource !== true) return Result.fail(notFound(type, name))
    if (request.verb === "get") return Result.map(existingOr404(type, namespace, request.name), clone)
    if (request.verb !== "update" && request.verb !== "patch") {
      return Result.fail({ code: 405, reason: "MethodNotAllowed", message: `${request.verb} is not supported on ${type.resource}/status` })
    }
    const target = writeTarget(request, namespace)
    if (Result.isFailure(target)) return target
    const { existing, body } = target.success
    const candidate = request.verb === "patch" ? (applyMergePatch(existing, body) as Obj) : body
    const declaredName = stringField(metaOf(candidate), "name")
    if (declaredName !== undefined && declaredName !== name) {
      return Result.fail(badRequest(`the name of the object (${declaredName}) does not match the name on the URL (${name})`))
    }
    const scopeError = checkScope(type, namespace, candidate)
    if (scopeError !== undefined) return Result.fail(scopeError)
    return writeStatus(type, namespace, name, existing, candidate)
  }

  const execute = (request: ApiRequest): Result.Result<unknown, KubeStatus> => {
    const { type } = request
    const namespace = scopeOf(type, request.namespace)
    if (request.subresource !== undefined) return executeStatus(request, namespace)
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
          items: list(type, namespace, selector.success),
        })
      }
      case "create":
        return create(type, namespace, request.body)
      // An update replaces the object; a patch is a JSON merge patch onto it.
      case "update":
      case "patch": {
        const target = writeTarget(request, namespace)
        if (Result.isFailure(target)) return target
        const { existing, body } = target.success
        const next = request.verb === "patch" ? (applyMergePatch(existing, body) as Obj) : body
        return write(type, namespace, request.name ?? "", existing, next, type.statusSubresource === true)
      }
      case "delete": {
        const existing = existingOr404(type, namespace, request.name)
        if (Result.isFailure(existing)) return existing
        const name = request.name ?? ""
        const grace = gracePeriodSeconds(type, existing.success)
        if (grace > 0) {
          // Graceful: marked, kept until its kubelet reports it stopped (a lost node's never does); a second delete changes nothing.
          const meta = metaOf(existing.success)
          if (meta.deletionTimestamp !== undefined) return Result.succeed(clone(existing.success))
          const marking = { deletionTimestamp: apiTime(new Date(now().getTime() + grace * 1000)), deletionGracePeriodSeconds: grace }
          return Result.succeed(commit(type, namespace, name, "MODIFIED", { ...existing.success, metadata: { ...meta, ...marking } }, existing.success))
        }
        commit(type, namespace, name, "DELETED", existing.success, existing.success)
        collectDependents(existing.success)
        return Result.succeed({
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name, kind: type.resource, uid: metaOf(existing.success).uid },
        })
      }
    }
  }

  return {
    revision: () => revision,
    execute,
    find: existingOr404,
    list,
    updateStatus: (type, namespace, name, status) => {
      const ns = scopeOf(type, namespace)
      const existing = existingOr404(type, ns, name)
      if (Result.isFailure(existing)) return existing
      return writeStatus(type, ns, name, existing.success, { status })
    },
  }
}
