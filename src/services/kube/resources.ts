/**
 * The Kubernetes resources the project talks to, and the verbs it issues on each, as one table.
 *
 * The live Layer builds every request from `kubeEndpoints` (path from the resource type, method
 * from the verb) and its transport refuses a verb an endpoint does not list, so
 * `kubeApiPermissions` — derived from the same table — is every request the project can make. The deploy RBAC
 * grants the operator and the backup pod exactly the part their programs make (test/deploy/rbac.test.ts); the
 * rest is people's commands: `patch` of the operator CRs is `redeploy`'s, after a restore, run as cluster-admin; `patch`
 * of a BackupPolicy is `backup-now`'s.
 */
import { defaultOperands, operandNames, operatorGroup, operatorVersion, type OperandName } from "../../domain/operands.ts"

export const verbs = ["get", "list", "watch", "create", "update", "patch", "delete"] as const
export type Verb = (typeof verbs)[number]

/** A REST resource: where it lives (group/version/plural) and what it holds (kind). */
export interface ResourceType {
  /** API group; "" for the core group (`/api/v1`). */
  readonly group: string
  readonly version: string
  /** Plural resource name as used in paths and RBAC (`configmaps`). */
  readonly resource: string
  readonly kind: string
  readonly namespaced: boolean
  /** `status` is written only through the status subresource (ignored by create/update/patch). */
  readonly statusSubresource?: boolean
  /** The server sets `metadata.generation` (1 on create, +1 on each change of anything but metadata and status), as for custom resources. */
  readonly tracksGeneration?: boolean
  /** `<object>/exec` runs a command in one of its containers (pods), over a WebSocket; RBAC names it `pods/exec` (`execVerbs`). */
  readonly execSubresource?: boolean
}

/** `v1` or `group/version`, as in an object's `apiVersion`. */
export const apiVersionOf = (type: ResourceType): string => (type.group === "" ? type.version : `${type.group}/${type.version}`)

const core = (resource: string, kind: string): ResourceType => ({ group: "", version: "v1", resource, kind, namespaced: true })

export const configMapType = core("configmaps", "ConfigMap")
export const secretType = core("secrets", "Secret")
export const podType: ResourceType = { ...core("pods", "Pod"), statusSubresource: true, execSubresource: true }
export const eventType = core("events", "Event")
export const leaseType: ResourceType = {
  group: "coordination.k8s.io",
  version: "v1",
  resource: "leases",
  kind: "Lease",
  namespaced: true,
}

/** The project's own policy CRD (deploy/backup-policy-crd.yaml): cluster-scoped, status behind its subresource, generation counted on spec changes. */
export const backupPolicyType: ResourceType = {
  group: "backup.openshift.io",
  version: "v1alpha1",
  resource: "backuppolicies",
  kind: "BackupPolicy",
  namespaced: false,
  statusSubresource: true,
  tracksGeneration: true,
}

/**
 * Where an Event about an object of `type` must be created: in the object's namespace, or in "default" for a
 * cluster-scoped object (a BackupPolicy). The API server refuses a core/v1 Event about a cluster-scoped object in
 * any other namespace (the operator's own included); client-go's recorder writes them to "default" for that reason,
 * and `oc describe` finds them there.
 */
export const eventNamespaceFor = (type: ResourceType, objectNamespace: string | undefined): string => (type.namespaced ? (objectNamespace ?? "") : "default")

/** The operator CR type of each operand (cluster-scoped singletons named `cluster`). */
export const operatorTypes: Readonly<Record<OperandName, ResourceType>> = Object.fromEntries(
  operandNames.map((name) => [
    name,
    {
      group: operatorGroup,
      version: operatorVersion,
      resource: defaultOperands[name].plural,
      kind: defaultOperands[name].kind,
      namespaced: false,
      statusSubresource: true,
    },
  ]),
) as Record<OperandName, ResourceType>

/** Every resource type the simulated cluster and its API server know. */
export const knownResourceTypes: ReadonlyArray<ResourceType> = [
  configMapType,
  secretType,
  podType,
  eventType,
  leaseType,
  ...operandNames.map((name) => operatorTypes[name]),
  backupPolicyType,
]

/** The subresources the project addresses: `<object>/status` and `pods/<name>/exec`, which RBAC grants as `<plural>/<subresource>`. */
export type Subresource = "status" | "exec"

/** A resource type (or its subresource) together with the verbs the live Layer may issue on it. */
export interface Endpoint<V extends Verb = Verb> {
  readonly type: ResourceType
  readonly verbs: ReadonlyArray<V>
  readonly subresource?: Subresource
}

const endpoint = <const V extends Verb>(type: ResourceType, allowed: ReadonlyArray<V>, subresource?: Subresource): Endpoint<V> => ({
  type,
  verbs: allowed,
  ...(subresource === undefined ? {} : { subresource }),
})

/** The resource name RBAC and request logs use: the plural, or `<plural>/<subresource>`. */
export const rbacResource = (type: ResourceType, subresource?: Subresource): string =>
  subresource === undefined ? type.resource : `${type.resource}/${subresource}`

// `patch` only by `redeploy` (see above): the operator's RBAC grants none.
const operatorEndpoint = (name: OperandName) => endpoint(operatorTypes[name], ["get", "list", "watch", "patch"])

/** The verbs a `pods/exec` over a WebSocket is authorized as, in the API server's order (see `podExec`). */
export const execVerbs = ["get", "create"] as const satisfies ReadonlyArray<Verb>

/** The table the live Layer builds its requests from. */
export const kubeEndpoints = {
  // Watching starts with a list (the initial synthetic sync), hence `list` next to `watch`.
  configMaps: endpoint(configMapType, ["get", "list", "watch", "create", "update", "patch"]),
  secrets: endpoint(secretType, ["get", "list", "create", "update", "patch"]),
  // Watching pods starts with a list (the initial synthetic sync), hence `list` next to `watch`.
  pods: endpoint(podType, ["get", "list", "watch", "create", "delete"]),
  events: endpoint(eventType, ["list", "create"]),
  // Only `backup-pod --copy-to`, a person's command: `cat` of the held backup's files in the pod's hold container. A
  // WebSocket exec is an HTTP GET, which Kubernetes authorizes as `get` on pods/exec; 1.35 and later
  // (AuthorizePodWebsocketUpgradeCreatePermission) also as `create`, as for SPDY's POST: a role needs both.
  podExec: endpoint(podType, execVerbs, "exec"),
  leases: endpoint(leaseType, ["get", "create", "update"]),
  // `patch` only by `backup-now`, a person's command (the request annotation): the operator's RBAC grants none.
  backupPolicies: endpoint(backupPolicyType, ["get", "list", "watch", "patch"]),
  backupPolicyStatus: endpoint(backupPolicyType, ["update"], "status"),
  operators: {
    etcd: operatorEndpoint("etcd"),
    "kube-apiserver": operatorEndpoint("kube-apiserver"),
    "kube-controller-manager": operatorEndpoint("kube-controller-manager"),
    "kube-scheduler": operatorEndpoint("kube-scheduler"),
  } satisfies Record<OperandName, Endpoint<"get" | "list" | "watch" | "patch">>,
} as const

/** One RBAC permission: a verb on a resource of an API group. */
export interface ApiPermission {
  readonly apiGroup: string
  readonly resource: string
  readonly verb: Verb
  readonly namespaced: boolean
}

const allEndpoints: ReadonlyArray<Endpoint> = [
  kubeEndpoints.configMaps,
  kubeEndpoints.secrets,
  kubeEndpoints.pods,
  kubeEndpoints.events,
  kubeEndpoints.podExec,
  kubeEndpoints.leases,
  kubeEndpoints.backupPolicies,
  kubeEndpoints.backupPolicyStatus,
  ...operandNames.map((name) => kubeEndpoints.operators[name]),
]

/** Every (apiGroup, resource, verb, namespaced) the live Layer can issue; sorted, no duplicates. */
export const kubeApiPermissions: ReadonlyArray<ApiPermission> = allEndpoints
  .flatMap((e) =>
    e.verbs.map(
      (verb): ApiPermission => ({
        apiGroup: e.type.group,
        resource: rbacResource(e.type, e.subresource),
        verb,
        namespaced: e.type.namespaced,
      }),
    ),
  )
  .sort((a, b) => a.apiGroup.localeCompare(b.apiGroup) || a.resource.localeCompare(b.resource) || verbs.indexOf(a.verb) - verbs.indexOf(b.verb))

/** The REST path of a collection (no name), of one object, or of one object's subresource. */
export const resourcePath = (type: ResourceType, namespace?: string, name?: string, subresource?: Subresource): string => {
  const root = type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`
  const scope = type.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? "")}` : ""
  const item = name === undefined ? "" : `/${encodeURIComponent(name)}${subresource === undefined ? "" : `/${subresource}`}`
  return `${root}${scope}/${type.resource}${item}`
}

/** What a REST path addresses, resolved against known resource types. */
export interface ResolvedPath {
  readonly type: ResourceType
  readonly namespace?: string
  readonly name?: string
  /** `status` for `<object>/status` of a type with a status subresource, `exec` for a pod's exec. */
  readonly subresource?: Subresource
}

/** A path segment's percent-decoding; `undefined` for a malformed escape (`%E0%A4%A`), which addresses nothing. */
const decodedSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** The inverse of `resourcePath` for the given types; `undefined` for any other path. */
export const parseResourcePath = (path: string, types: ReadonlyArray<ResourceType> = knownResourceTypes): ResolvedPath | undefined => {
  const decoded = path
    .split("/")
    .filter((s) => s !== "")
    .map(decodedSegment)
  const segments = decoded.filter((s): s is string => s !== undefined)
  if (segments.length !== decoded.length) return undefined
  let group: string
  let rest: Array<string>
  if (segments[0] === "api" && segments.length >= 2) {
    group = ""
    rest = segments.slice(1)
  } else if (segments[0] === "apis" && segments.length >= 3) {
    group = segments[1] ?? ""
    rest = segments.slice(2)
  } else {
    return undefined
  }
  const [version, ...tail] = rest
  let namespace: string | undefined
  let scoped = tail
  if (tail[0] === "namespaces" && tail.length >= 3) {
    namespace = tail[1]
    scoped = tail.slice(2)
  }
  if (scoped.length < 1 || scoped.length > 3) return undefined
  const [resource, name, subresource] = scoped
  const type = types.find((t) => t.group === group && t.version === version && t.resource === resource && t.namespaced === (namespace !== undefined))
  if (type === undefined) return undefined
  if (
    subresource !== undefined &&
    !((subresource === "status" && type.statusSubresource === true) || (subresource === "exec" && type.execSubresource === true))
  )
    return undefined
  return {
    type,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
    ...(subresource === undefined ? {} : { subresource }),
  }
}
