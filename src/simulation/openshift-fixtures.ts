/**
 * A deterministic, realistic OpenShift control-plane state for tests and the demo: the four
 * operator CRs (valid against the CRDs in shared/crds), and for every operand revisions
 * `oldest..latest`, each with its `revision-status-N` ConfigMap and a `<name>-N` copy of every
 * revisioned ConfigMap/Secret of the operand table (required always; optional ones present from
 * a seeded revision on, or never), owned by `revision-status-N`; the unsuffixed sources at the
 * latest revision; and etcd's `etcd-client` Secret and `etcd-ca-bundle` ConfigMap.
 *
 * Same options, same objects: content is derived from (seed, operand, resource, revision), so a
 * revision made later by `bumpRevision` is exactly what a fixture generated with that latest
 * revision would hold.
 */
import { Result } from "effect"
import { defaultOperands, operandList, type Operand, type OperandName, type OperandTable } from "../domain/operands.ts"
import type { RevisionSet } from "../domain/revisions.ts"
import type { KubeStatus } from "../services/kube/errors.ts"
import { isJsonObject } from "../services/kube/merge-patch.ts"
import { configMapContent, pem, secretContent, type Content, type ContentContext, type EncryptionKey } from "./openshift-fixture-content.ts"

export type { EncryptionKey } from "./openshift-fixture-content.ts"
import { apiVersionOf, configMapType, operatorTypes, secretType, type ResourceType } from "../services/kube/resources.ts"
import { seededRandom } from "./seeded-random.ts"
import type { Obj, SimulatedCluster } from "./simulated-cluster.ts"

export interface OpenShiftFixtureOptions {
  /** Default 1. */
  readonly seed?: number
  /** Default `defaultOperands`. */
  readonly table?: OperandTable
  /** latestAvailableRevision per operand; default a seeded value in 3..7. */
  readonly revisions?: Partial<Record<OperandName, number>>
  /** How many most recent revisions exist (OpenShift prunes older ones); default all. */
  readonly keepRevisions?: number
  /** Control-plane node names; default master-0..2. */
  readonly nodes?: ReadonlyArray<string>
  /** Optional resources: a seeded mix (default), all present, or none. */
  readonly optionalResources?: "seeded" | "all" | "none"
  /** The OpenShift version written into pod ConfigMaps and CR status; default 4.16.3. */
  readonly version?: string
  /** Condition transition times; default 2024-06-25T19:00:35Z. */
  readonly now?: Date
}

/** The objects of one state, in JSON wire form (Secret data base64, as the API sends it). */
export interface OpenShiftState {
  readonly operators: ReadonlyArray<Obj>
  readonly configMaps: ReadonlyArray<Obj>
  readonly secrets: ReadonlyArray<Obj>
  readonly revisions: RevisionSet
}

export type Rollout = "complete" | "pending"

export interface OpenShiftFixture {
  readonly revisions: RevisionSet
  readonly state: OpenShiftState
  /**
   * The aescbc key every kube-apiserver revision's encryption-config holds (never rotated): the key the API server
   * encrypts secrets and configmaps with in etcd; `undefined` when the latest revision has no encryption-config
   * (encryption at rest off).
   */
  readonly encryptionKey: EncryptionKey | undefined
  /** ClusterVersion `version` (config.openshift.io/v1): the fixture's version, Completed, and a seeded cluster ID. */
  readonly clusterVersion: Obj
  /** The CR of an operand at `latest`; a pending rollout has one node targeting `latest`. */
  readonly operatorCr: (operand: OperandName, latest: number, rollout: Rollout) => Obj
  /** The ConfigMaps (revision-status-N first) and Secrets of revision `revision`, with `-N` names. */
  readonly revisionObjects: (operand: OperandName, revision: number) => { readonly configMaps: ReadonlyArray<Obj>; readonly secrets: ReadonlyArray<Obj> }
  /** Whether an optional resource exists in a revision (required ones always do). */
  readonly present: (operand: OperandName, resource: string, optional: boolean, revision: number) => boolean
  /** Creates the whole state in the cluster (ownerReference uids resolved to the created owners). */
  readonly load: (cluster: SimulatedCluster) => Result.Result<void, KubeStatus>
  /**
   * The revision controller: creates revision N+1 (revision-status and every `<name>-(N+1)`),
   * refreshes the sources, and sets latestAvailableRevision to N+1 with the rollout complete or
   * pending. Returns N+1.
   */
  readonly bumpRevision: (cluster: SimulatedCluster, operand: OperandName, rollout?: Rollout) => Result.Result<number, KubeStatus>
  /** Every node installed the latest revision. */
  readonly completeRollout: (cluster: SimulatedCluster, operand: OperandName) => Result.Result<void, KubeStatus>
}

export const revisionReadyAnnotation = "operator.openshift.io/revision-ready"

/** FNV-1a over the parts: a stable sub-seed per (seed, operand, resource, revision). */
const subSeed = (...parts: ReadonlyArray<string | number>): number => {
  let hash = 0x811c9dc5
  for (const char of parts.join("|")) {
    hash ^= char.charCodeAt(0)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

const b64 = (text: string | Uint8Array): string => Buffer.from(text).toString("base64")
const time = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z")

const revisionReasons = [
  "configmap/config has changed",
  "secret/localhost-recovery-client-token has changed",
  "required configmap/serviceaccount-ca has changed",
  "optional secret/serving-cert has been created",
  "configmap/etcd-pod has changed",
]

export const openShiftFixture = (options: OpenShiftFixtureOptions = {}): OpenShiftFixture => {
  const seed = options.seed ?? 1
  const table = options.table ?? defaultOperands
  const nodes = options.nodes ?? ["master-0", "master-1", "master-2"]
  const version = options.version ?? "4.16.3"
  const now = time(options.now ?? new Date("2024-06-25T19:00:35Z"))
  const optionalMode = options.optionalResources ?? "seeded"

  const revisions = Object.fromEntries(
    operandList(table).map((o) => [o.name, options.revisions?.[o.name] ?? seededRandom(subSeed(seed, o.name, "latest")).int(3, 7)]),
  ) as RevisionSet
  const oldest = (latest: number) => (options.keepRevisions === undefined ? 1 : Math.max(1, latest - options.keepRevisions + 1))

  /** The first revision an optional resource exists in, or undefined for never. */
  const presentFrom = (operand: OperandName, resource: string): number | undefined => {
    if (optionalMode === "all") return 1
    if (optionalMode === "none") return undefined
    const roll = seededRandom(subSeed(seed, operand, resource, "optional"))
    const p = roll.next()
    return p < 0.25 ? undefined : p < 0.75 ? 1 : roll.int(2, 6)
  }
  const present = (operand: OperandName, resource: string, optional: boolean, revision: number): boolean => {
    if (!optional) return true
    const from = presentFrom(operand, resource)
    return from !== undefined && revision >= from
  }

  const encryptionKey: EncryptionKey = { name: "1", secret: seededRandom(subSeed(seed, "encryption-key", 1)).bytes(32) }
  const clusterId = (() => {
    const hex = Buffer.from(seededRandom(subSeed(seed, "cluster-id")).bytes(16)).toString("hex")
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  })()
  const clusterVersion: Obj = {
    apiVersion: "config.openshift.io/v1",
    kind: "ClusterVersion",
    metadata: { name: "version" },
    spec: { clusterID: clusterId, channel: `stable-${version.split(".").slice(0, 2).join(".")}` },
    status: {
      desired: { version },
      history: [{ state: "Completed", version, startedTime: now, completionTime: now }],
    },
  }

  const context = (operand: Operand, name: string, revision: number): ContentContext => ({
    operand,
    revision,
    name,
    nodes,
    version,
    encryptionKey,
    operandRandom: seededRandom(subSeed(seed, operand.name, "operand")),
    random: seededRandom(subSeed(seed, operand.name, name, revision)),
  })

  const ownerRef = (revision: number) => ({ apiVersion: "v1", kind: "ConfigMap", name: `revision-status-${revision}`, uid: "" })

  /** A ConfigMap's or Secret's head: a revisioned copy is `<name>-<revision>`, owned by that revision's status ConfigMap. */
  const revisionedHead = (kind: string, operand: Operand, name: string, revision: number | undefined): Obj => ({
    apiVersion: "v1",
    kind,
    metadata: {
      name: revision === undefined ? name : `${name}-${revision}`,
      namespace: operand.namespace,
      ...(revision === undefined ? {} : { ownerReferences: [ownerRef(revision)] }),
    },
  })

  const configMapObject = (operand: Operand, name: string, content: Content, revision: number | undefined): Obj => ({
    ...revisionedHead("ConfigMap", operand, name, revision),
    ...(content.data === undefined ? {} : { data: content.data }),
    ...(content.binaryData === undefined ? {} : { binaryData: Object.fromEntries(Object.entries(content.binaryData).map(([k, v]) => [k, b64(v)])) }),
  })

  const secretObject = (operand: Operand, name: string, content: Content, revision: number | undefined): Obj => ({
    ...revisionedHead("Secret", operand, name, revision),
    type: content.type ?? "Opaque",
    data: Object.fromEntries(Object.entries(content.data ?? {}).map(([k, v]) => [k, b64(v)])),
  })

  const revisionObjects = (name: OperandName, revision: number) => {
    const operand = table[name]
    const reason =
      revision === 1
        ? `configmap "${operand.podConfigMap}" not found`
        : (revisionReasons[subSeed(seed, name, revision, "reason") % revisionReasons.length] ?? "")
    const status: Obj = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: `revision-status-${revision}`,
        namespace: operand.namespace,
        annotations: { [revisionReadyAnnotation]: "true" },
      },
      data: { revision: String(revision), reason },
    }
    return {
      configMaps: [
        status,
        ...operand.configMaps
          .filter((r) => present(name, r.name, r.optional, revision))
          .map((r) => configMapObject(operand, r.name, configMapContent(context(operand, r.name, revision)), revision)),
      ],
      secrets: operand.secrets
        .filter((r) => present(name, r.name, r.optional, revision))
        .map((r) => secretObject(operand, r.name, secretContent(context(operand, r.name, revision)), revision)),
    }
  }

  /** The operator's working copies (no suffix), as of revision `latest`. */
  const sources = (name: OperandName, latest: number) => {
    const operand = table[name]
    return {
      configMaps: operand.configMaps
        .filter((r) => present(name, r.name, r.optional, latest))
        .map((r) => configMapObject(operand, r.name, configMapContent(context(operand, r.name, latest)), undefined)),
      secrets: operand.secrets
        .filter((r) => present(name, r.name, r.optional, latest))
        .map((r) => secretObject(operand, r.name, secretContent(context(operand, r.name, latest)), undefined)),
    }
  }

  /** etcd's client certificate and CA bundle, which the backup pod uses to reach etcd. */
  const etcdAccess = () => {
    const operand = table.etcd
    const random = seededRandom(subSeed(seed, "etcd-access"))
    return {
      configMaps: [configMapObject(operand, "etcd-ca-bundle", { data: { "ca-bundle.crt": pem(random, "CERTIFICATE") } }, undefined)],
      secrets: [
        secretObject(
          operand,
          "etcd-client",
          { type: "kubernetes.io/tls", data: { "tls.crt": pem(random, "CERTIFICATE"), "tls.key": pem(random, "RSA PRIVATE KEY", 1190) } },
          undefined,
        ),
      ],
    }
  }

  const operatorCr = (name: OperandName, latest: number, rollout: Rollout): Obj => {
    const operand = table[name]
    const pending = rollout === "pending" && latest > 1
    const installed = pending ? latest - 1 : latest
    const condition = (type: string, status: "True" | "False", reason: string, message?: string) => ({
      type,
      status,
      reason,
      ...(message === undefined ? {} : { message }),
      lastTransitionTime: now,
    })
    return {
      apiVersion: apiVersionOf(operatorTypes[name]),
      kind: operand.kind,
      metadata: {
        name: "cluster",
        annotations: { "include.release.openshift.io/self-managed-high-availability": "true" },
      },
      spec: {
        managementState: "Managed",
        logLevel: "Normal",
        operatorLogLevel: "Normal",
        forceRedeploymentReason: "",
        observedConfig: { servingInfo: { cipherSuites: ["TLS_AES_128_GCM_SHA256"], minTLSVersion: "VersionTLS12" } },
        unsupportedConfigOverrides: null,
      },
      status: {
        observedGeneration: 1,
        readyReplicas: 0,
        version,
        latestAvailableRevision: latest,
        latestAvailableRevisionReason: "",
        // At most one node may have a nonzero targetRevision (a CRD rule): the installer goes node by node.
        nodeStatuses: nodes.map((nodeName, i) => ({
          nodeName,
          currentRevision: installed,
          ...(pending && i === 0 ? { targetRevision: latest } : {}),
        })),
        conditions: [
          pending
            ? condition(
                "NodeInstallerProgressing",
                "True",
                "NodeInstaller",
                `${nodes.length} nodes are at revision ${installed}; 0 nodes have achieved new revision ${latest}`,
              )
            : condition("NodeInstallerProgressing", "False", "AllNodesAtLatestRevision", `${nodes.length} nodes are at revision ${latest}`),
          condition("NodeInstallerDegraded", "False", "AsExpected"),
          condition("StaticPodsAvailable", "True", "AsExpected", `${nodes.length} nodes are active; ${nodes.length} nodes are at revision ${installed}`),
          condition("InstallerControllerDegraded", "False", "AsExpected"),
          condition("RevisionControllerDegraded", "False", "AsExpected"),
        ],
      },
    }
  }

  const allOperands = operandList(table).map((o) => o.name)
  const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)

  const buildState = (): OpenShiftState => {
    const perOperand = allOperands.map((name) => {
      const latest = revisions[name]
      const kept = range(oldest(latest), latest).map((n) => revisionObjects(name, n))
      const current = sources(name, latest)
      return {
        cr: operatorCr(name, latest, "complete"),
        configMaps: [...kept.flatMap((r) => r.configMaps), ...current.configMaps],
        secrets: [...kept.flatMap((r) => r.secrets), ...current.secrets],
      }
    })
    const access = etcdAccess()
    return {
      operators: perOperand.map((p) => p.cr),
      configMaps: [...perOperand.flatMap((p) => p.configMaps), ...access.configMaps],
      secrets: [...perOperand.flatMap((p) => p.secrets), ...access.secrets],
      revisions,
    }
  }
  let state: OpenShiftState | undefined
  const getState = (): OpenShiftState => (state ??= buildState())

  const metaOf = (obj: Obj): Obj => (isJsonObject(obj.metadata) ? (obj.metadata as Obj) : {})

  /** Owner uids are the cluster's to assign: point each ownerReference at the created owner. */
  const withOwnerUids = (cluster: SimulatedCluster, obj: Obj): Obj => {
    const meta = metaOf(obj)
    const refs = meta.ownerReferences
    if (!Array.isArray(refs)) return obj
    const namespace = typeof meta.namespace === "string" ? meta.namespace : undefined
    const resolved = refs.map((ref: Obj) => {
      const owner = cluster.get(configMapType, namespace, String(ref.name))
      return { ...ref, uid: owner === undefined ? "" : metaOf(owner).uid }
    })
    return { ...obj, metadata: { ...meta, ownerReferences: resolved } }
  }

  const createAll = (cluster: SimulatedCluster, type: ResourceType, objects: ReadonlyArray<Obj>): Result.Result<void, KubeStatus> => {
    for (const obj of objects) {
      const created = cluster.create(type, withOwnerUids(cluster, obj))
      if (Result.isFailure(created)) return Result.fail(created.failure)
    }
    return Result.succeed(undefined)
  }

  const upsertAll = (cluster: SimulatedCluster, type: ResourceType, objects: ReadonlyArray<Obj>): Result.Result<void, KubeStatus> => {
    for (const obj of objects) {
      const meta = metaOf(obj)
      const exists = cluster.get(type, meta.namespace as string | undefined, String(meta.name)) !== undefined
      const written = exists ? cluster.replace(type, obj) : cluster.create(type, obj)
      if (Result.isFailure(written)) return Result.fail(written.failure)
    }
    return Result.succeed(undefined)
  }

  const writeCr = (cluster: SimulatedCluster, name: OperandName, cr: Obj): Result.Result<void, KubeStatus> => {
    const type = operatorTypes[name]
    if (cluster.get(type, undefined, "cluster") === undefined) {
      const { status: _status, ...spec } = cr
      const created = cluster.create(type, spec)
      if (Result.isFailure(created)) return Result.fail(created.failure)
      // As the operator does (a CRD transition rule): a node status starts without revisions.
      const bare = cluster.updateStatus(type, undefined, "cluster", { nodeStatuses: nodes.map((nodeName) => ({ nodeName })) })
      if (Result.isFailure(bare)) return Result.fail(bare.failure)
    }
    return Result.map(cluster.updateStatus(type, undefined, "cluster", cr.status), () => undefined)
  }

  const latestIn = (cluster: SimulatedCluster, name: OperandName): number | undefined => {
    const cr = cluster.get(operatorTypes[name], undefined, "cluster")
    const status = cr === undefined ? undefined : cr.status
    const latest = isJsonObject(status) ? status.latestAvailableRevision : undefined
    return typeof latest === "number" ? latest : undefined
  }

  const missingCr = (name: OperandName): KubeStatus => {
    const { resource, group } = operatorTypes[name]
    return {
      code: 404,
      reason: "NotFound",
      message: `${resource}.${group} "cluster" not found or has no status.latestAvailableRevision: load the fixture first`,
    }
  }

  return {
    revisions,
    get state() {
      return getState()
    },
    get encryptionKey() {
      const resource = table["kube-apiserver"].secrets.find((r) => r.name === "encryption-config")
      return resource !== undefined && present("kube-apiserver", resource.name, resource.optional, revisions["kube-apiserver"]) ? encryptionKey : undefined
    },
    clusterVersion,
    operatorCr,
    revisionObjects,
    present,
    load: (cluster) => {
      for (const name of allOperands) {
        const written = writeCr(cluster, name, operatorCr(name, revisions[name], "complete"))
        if (Result.isFailure(written)) return written
      }
      const configMaps = createAll(cluster, configMapType, getState().configMaps)
      if (Result.isFailure(configMaps)) return configMaps
      return createAll(cluster, secretType, getState().secrets)
    },
    bumpRevision: (cluster, name, rollout = "complete") => {
      const current = latestIn(cluster, name)
      if (current === undefined) return Result.fail(missingCr(name))
      const next = current + 1
      const created = revisionObjects(name, next)
      const refreshed = sources(name, next)
      const steps = [
        () => createAll(cluster, configMapType, created.configMaps),
        () => createAll(cluster, secretType, created.secrets),
        () => upsertAll(cluster, configMapType, refreshed.configMaps),
        () => upsertAll(cluster, secretType, refreshed.secrets),
        () => writeCr(cluster, name, operatorCr(name, next, rollout)),
      ]
      for (const step of steps) {
        const done = step()
        if (Result.isFailure(done)) return Result.fail(done.failure)
      }
      return Result.succeed(next)
    },
    completeRollout: (cluster, name) => {
      const current = latestIn(cluster, name)
      if (current === undefined) return Result.fail(missingCr(name))
      return writeCr(cluster, name, operatorCr(name, current, "complete"))
    },
  }
}
