/**
 * The `Kube` service: the only way programs talk to the Kubernetes API.
 *
 * Every operation is built by one generic client over a `KubeTransport` (live HTTP or the
 * simulated cluster) from the endpoint table in `resources.ts`: the request is encoded by the
 * object's Schema, sent with bounded retries of transient failures, and the answer decoded by
 * the Schema. Watches resume after dropped connections and relist on 410 (see `watch.ts`).
 */
import { Context, Effect, Layer, Schema, Stream } from "effect"
import type { OperandName } from "../../domain/operands.ts"
import { describeRef, type ExecCommandFailed, Invalid, KubeResponseInvalid, type KubeError, type ResourceRef } from "./errors.ts"
import { liveTransport, loadKubeConfig, type KubeConfigInvalid, type KubeConfigSource, type LiveOptions } from "./live-transport.ts"
import type { JsonObject } from "./merge-patch.ts"
import { apiVersionOf, kubeEndpoints, rbacResource, type Endpoint } from "./resources.ts"
import { defaultRetryPolicy, noRetries, withRetry, type RetryPolicy } from "./retry.ts"
import {
  BackupPolicyObject,
  ConfigMap,
  Event,
  Lease,
  ListBody,
  MetaOnly,
  NewConfigMap,
  NewEvent,
  NewLease,
  NewPod,
  NewSecret,
  OperatorCr,
  Pod,
  Secret,
} from "./schemas.ts"
import { refOf, type KubeTransport, type RequestVerb } from "./transport.ts"
import { defaultWatchBackoff, resilientWatch, type ConnectionEvent, type ObjectList, type WatchBackoff, type WatchEvent } from "./watch.ts"

export type { ObjectList, WatchEvent } from "./watch.ts"

export interface ListOptions {
  /** A label selector (`app=cluster-backup,!done`); see `label-selector.ts`. */
  readonly labelSelector?: string
  /**
   * Only the object of this name (`fieldSelector=metadata.name=<name>`): a list or watch RBAC can
   * restrict with `resourceNames`.
   */
  readonly name?: string
  /** Only Events about the object of this name (`fieldSelector=involvedObject.name=<name>`). */
  readonly involvedObjectName?: string
}

export interface WatchOptions extends ListOptions {
  /** Start after this resourceVersion, without the initial `SYNC` of the current state. */
  readonly resourceVersion?: string
}

type Op<A> = Effect.Effect<A, KubeError>
/** Never fails: it retries with backoff and reports `FAILING`/`RESTORED` (see `watch.ts`). */
type Watch<A> = Stream.Stream<WatchEvent<A>>

/** The verbs on namespaced objects of one kind: `A` as the API stores it, `New` as a program creates it. */
export interface NamespacedObjects<A, New> {
  readonly get: (namespace: string, name: string) => Op<A>
  readonly list: (namespace: string, options?: ListOptions) => Op<ObjectList<A>>
  readonly create: (namespace: string, object: New) => Op<A>
  /** Replaces the object; with `metadata.resourceVersion` set it fails with `Conflict` when stale. */
  readonly update: (namespace: string, object: A) => Op<A>
  /** JSON merge patch (RFC 7386); a `metadata.resourceVersion` in the patch is a precondition. */
  readonly patch: (namespace: string, name: string, patch: JsonObject) => Op<A>
  readonly delete: (namespace: string, name: string) => Op<void>
  readonly watch: (namespace: string, options?: WatchOptions) => Watch<A>
}

/** What programs may do with the cluster; each method maps to one row of `kubeApiPermissions`. */
export interface KubeService {
  /** The four `operator.openshift.io/v1` CRs (cluster-scoped singletons named `cluster`). */
  readonly operators: {
    readonly get: (operand: OperandName) => Op<OperatorCr>
    readonly list: (operand: OperandName) => Op<ObjectList<OperatorCr>>
    readonly watch: (operand: OperandName, options?: WatchOptions) => Watch<OperatorCr>
    /** JSON merge patch of the CR (`redeploy`: `spec.forceRedeploymentReason`). */
    readonly patch: (operand: OperandName, patch: JsonObject) => Op<OperatorCr>
  }
  readonly configMaps: Pick<NamespacedObjects<ConfigMap, NewConfigMap>, "get" | "list" | "create" | "update" | "patch" | "watch">
  readonly secrets: Pick<NamespacedObjects<Secret, NewSecret>, "get" | "list" | "create" | "update" | "patch">
  readonly pods: Pick<NamespacedObjects<Pod, NewPod>, "get" | "list" | "create" | "delete" | "watch"> & {
    /**
     * Runs `command` in `container` of a running pod (get and create on `pods/exec`): its stdout, pulled. It ends once the command
     * exited 0, else fails (`ExecCommandFailed`). Not retried: a retry would repeat output already read.
     */
    readonly exec: (
      namespace: string,
      pod: string,
      container: string,
      command: ReadonlyArray<string>,
    ) => Stream.Stream<Uint8Array, KubeError | ExecCommandFailed>
  }
  readonly events: Pick<NamespacedObjects<Event, NewEvent>, "list" | "create">
  readonly leases: Pick<NamespacedObjects<Lease, NewLease>, "get" | "create" | "update">
  /** The cluster-scoped `backup.openshift.io/v1alpha1` BackupPolicies; the operator writes only their status. */
  readonly backupPolicies: {
    readonly get: (name: string) => Op<BackupPolicyObject>
    readonly list: (options?: ListOptions) => Op<ObjectList<BackupPolicyObject>>
    readonly watch: (options?: WatchOptions) => Watch<BackupPolicyObject>
    /** JSON merge patch of the policy (`backup-now`: its request annotation). */
    readonly patch: (name: string, patch: JsonObject) => Op<BackupPolicyObject>
    /**
     * PUT to the status subresource: only `status` changes (spec, metadata and generation stay as stored).
     * With `metadata.resourceVersion` set it fails with `Conflict` when stale.
     */
    readonly updateStatus: (object: BackupPolicyObject) => Op<BackupPolicyObject>
  }
}

export interface KubeOptions {
  readonly retry?: RetryPolicy
  /** Backoff of a failing watch (default `defaultWatchBackoff`). */
  readonly watchBackoff?: WatchBackoff
}

/** The selector parameters of a list or watch. */
const selectors = (options: ListOptions): { readonly labelSelector?: string; readonly fieldSelector?: string } => {
  const fields = [
    ...(options.name === undefined ? [] : [`metadata.name=${options.name}`]),
    ...(options.involvedObjectName === undefined ? [] : [`involvedObject.name=${options.involvedObjectName}`]),
  ]
  return {
    ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
    ...(fields.length === 0 ? {} : { fieldSelector: fields.join(",") }),
  }
}

/** The `Kube` service over a transport. */
export const makeKube = (transport: KubeTransport, options: KubeOptions = {}): KubeService => {
  const retry = options.retry ?? defaultRetryPolicy
  const watchBackoff = options.watchBackoff ?? defaultWatchBackoff

  const send = (
    endpoint: Endpoint,
    verb: RequestVerb,
    ref: { readonly namespace?: string; readonly name?: string },
    extra: { readonly body?: unknown; readonly labelSelector?: string; readonly fieldSelector?: string } = {},
    policy: RetryPolicy = retry,
  ): Op<unknown> =>
    transport.request({ endpoint, verb, ...ref, ...extra }).pipe(
      withRetry(policy, verb),
      Effect.withSpan(`Kube.${rbacResource(endpoint.type, endpoint.subresource)}.${verb}`, {
        attributes: { namespace: ref.namespace ?? "", name: ref.name ?? "" },
      }),
    )

  const decode =
    <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, ref: ResourceRef) =>
    (json: unknown): Op<S["Type"]> =>
      Schema.decodeUnknownEffect(schema)(json).pipe(
        Effect.mapError(
          (error) =>
            new KubeResponseInvalid({
              ...ref,
              message: `${describeRef(ref)}: the API's answer is not a valid ${ref.kind}: ${error.message}`,
            }),
        ),
      )

  const encode = <S extends Schema.Top & { readonly EncodingServices: never }>(
    schema: S,
    endpoint: Endpoint,
    ref: ResourceRef,
    value: S["Type"],
  ): Op<unknown> =>
    Schema.encodeUnknownEffect(schema)(value).pipe(
      Effect.map((json) => ({ apiVersion: apiVersionOf(endpoint.type), kind: endpoint.type.kind, ...(json as object) })),
      Effect.mapError(
        (error) =>
          new Invalid({
            ...ref,
            reason: "Invalid",
            code: 0,
            message: `${describeRef(ref)} was not sent: it does not match the ${ref.kind} schema: ${error.message}`,
          }),
      ),
    )

  /** All verbs on one endpoint; each service member below exposes the ones its endpoint lists. */
  const client = <
    S extends Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never },
    N extends Schema.Top & { readonly EncodingServices: never },
  >(
    endpoint: Endpoint,
    stored: S,
    created: N,
  ) => {
    const at = (namespace?: string, name?: string) =>
      ({
        ...(namespace === undefined ? {} : { namespace }),
        ...(name === undefined ? {} : { name }),
      }) as const
    const refAt = (namespace?: string, name?: string): ResourceRef => refOf({ endpoint, ...at(namespace, name) })
    const list = (namespace: string | undefined, options: ListOptions = {}, policy: RetryPolicy = retry): Op<ObjectList<S["Type"]>> =>
      send(endpoint, "list", at(namespace), selectors(options), policy).pipe(
        Effect.flatMap(decode(ListBody(stored), refAt(namespace))),
        Effect.map((body) => ({ items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? "" })),
      )
    const connect =
      (namespace: string | undefined, options: ListOptions) =>
      (resourceVersion: string): Stream.Stream<ConnectionEvent<S["Type"]>, KubeError> =>
        transport
          .watch({
            endpoint,
            ...at(namespace),
            ...selectors(options),
            resourceVersion,
          })
          .pipe(
            Stream.mapEffect((raw) =>
              Effect.gen(function* () {
                const meta = yield* decode(MetaOnly, refAt(namespace))(raw.object)
                const ref = refAt(meta.metadata.namespace ?? namespace, meta.metadata.name)
                const rv = meta.metadata.resourceVersion
                if (rv === undefined) {
                  return yield* new KubeResponseInvalid({
                    ...ref,
                    message: `${describeRef(ref)}: a ${raw.type} watch event carries no resourceVersion`,
                  })
                }
                if (raw.type === "BOOKMARK") return { type: "BOOKMARK", resourceVersion: rv } as const
                const object = yield* decode(stored, ref)(raw.object)
                return { type: raw.type, object, resourceVersion: rv } as const
              }),
            ),
          )
    return {
      get: (namespace: string | undefined, name: string): Op<S["Type"]> =>
        send(endpoint, "get", at(namespace, name)).pipe(Effect.flatMap(decode(stored, refAt(namespace, name)))),
      list,
      create: (namespace: string | undefined, object: N["Type"]): Op<S["Type"]> => {
        const ref = refAt(namespace, (object as { metadata?: { name?: string } }).metadata?.name)
        return encode(created, endpoint, ref, object).pipe(
          Effect.flatMap((body) => send(endpoint, "create", at(namespace), { body })),
          Effect.flatMap(decode(stored, ref)),
        )
      },
      update: (namespace: string | undefined, object: S["Type"]): Op<S["Type"]> => {
        const name = (object as { metadata: { name: string } }).metadata.name
        const ref = refAt(namespace, name)
        return encode(stored, endpoint, ref, object).pipe(
          Effect.flatMap((body) => send(endpoint, "update", at(namespace, name), { body })),
          Effect.flatMap(decode(stored, ref)),
        )
      },
      patch: (namespace: string | undefined, name: string, patch: JsonObject): Op<S["Type"]> =>
        send(endpoint, "patch", at(namespace, name), { body: patch }).pipe(Effect.flatMap(decode(stored, refAt(namespace, name)))),
      delete: (namespace: string | undefined, name: string): Op<void> => Effect.asVoid(send(endpoint, "delete", at(namespace, name))),
      watch: (namespace: string | undefined, options: WatchOptions = {}): Watch<S["Type"]> =>
        resilientWatch({
          // One request per attempt: the watch's own backoff paces the retries.
          list: list(namespace, options, noRetries),
          connect: connect(namespace, options),
          backoff: watchBackoff,
          ...(options.resourceVersion === undefined ? {} : { resourceVersion: options.resourceVersion }),
        }),
    }
  }

  const operators = (operand: OperandName) => client(kubeEndpoints.operators[operand], OperatorCr, OperatorCr)
  const configMaps = client(kubeEndpoints.configMaps, ConfigMap, NewConfigMap)
  const secrets = client(kubeEndpoints.secrets, Secret, NewSecret)
  const pods = client(kubeEndpoints.pods, Pod, NewPod)
  const events = client(kubeEndpoints.events, Event, NewEvent)
  const leases = client(kubeEndpoints.leases, Lease, NewLease)
  const backupPolicies = client(kubeEndpoints.backupPolicies, BackupPolicyObject, BackupPolicyObject)
  const backupPolicyStatus = client(kubeEndpoints.backupPolicyStatus, BackupPolicyObject, BackupPolicyObject)
  const operatorName = "cluster"

  return {
    operators: {
      get: (operand) => operators(operand).get(undefined, operatorName),
      list: (operand) => operators(operand).list(undefined),
      watch: (operand, options) => operators(operand).watch(undefined, options),
      patch: (operand, patch) => operators(operand).patch(undefined, operatorName, patch),
    },
    configMaps: {
      get: configMaps.get,
      list: configMaps.list,
      create: configMaps.create,
      update: configMaps.update,
      patch: configMaps.patch,
      watch: configMaps.watch,
    },
    secrets: {
      get: secrets.get,
      list: secrets.list,
      create: secrets.create,
      update: secrets.update,
      patch: secrets.patch,
    },
    pods: {
      get: pods.get,
      list: pods.list,
      create: pods.create,
      delete: pods.delete,
      watch: pods.watch,
      exec: (namespace, pod, container, command) =>
        transport.exec({ namespace, pod, container, command }).pipe(Stream.withSpan("Kube.pods/exec.create", { attributes: { namespace, name: pod } })),
    },
    events: { list: events.list, create: events.create },
    leases: { get: leases.get, create: leases.create, update: leases.update },
    backupPolicies: {
      get: (name) => backupPolicies.get(undefined, name),
      list: (options) => backupPolicies.list(undefined, options),
      watch: (options) => backupPolicies.watch(undefined, options),
      patch: (name, patch) => backupPolicies.patch(undefined, name, patch),
      updateStatus: (object) => backupPolicyStatus.update(undefined, object),
    },
  }
}

export class Kube extends Context.Service<Kube, KubeService>()("cluster-backup/Kube") {
  /** The real API: in-cluster service account or a kubeconfig (see `KubeConfigSource`). */
  static readonly live = (source: KubeConfigSource, options: LiveOptions & KubeOptions = {}): Layer.Layer<Kube, KubeConfigInvalid> =>
    Layer.effect(
      Kube,
      Effect.map(loadKubeConfig(source, options.env), (config) => Kube.of(makeKube(liveTransport(config, options), options))),
    )

  // The in-memory Layer over the simulated cluster is `inMemory` in src/simulation/simulated-kube.ts: the live bundle leaves it out.

  /** Any transport (tests that need a hand-made one). */
  static readonly fromTransport = (transport: KubeTransport, options: KubeOptions = {}): Layer.Layer<Kube> =>
    Layer.succeed(Kube, Kube.of(makeKube(transport, options)))
}
