/**
 * The four static-pod operands of an OpenShift control plane, as data. Everything
 * operand-specific in the project (CR paths, namespaces, revisioned resources, container names,
 * `backup-status` keys) is read from this table; OpenShift releases differ in the resource lists,
 * so a user can replace them with a file decoded by `ResourceOverrides`.
 */
import { Result, Schema } from "effect"
import { canonicalize } from "./canonical-json.ts"
import { dnsSubdomainMaxLength, dnsSubdomainProblem } from "./k8s-names.ts"
import { firstKeyedProblem } from "./schema-errors.ts"
import { parseYamlText } from "./yaml-text.ts"

export const operandNames = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const
export const OperandName = Schema.Literals(operandNames)
export type OperandName = typeof OperandName.Type

/** API group and version of the four operator CRs (cluster-scoped singletons named `cluster`). */
export const operatorGroup = "operator.openshift.io"
export const operatorVersion = "v1"
export const operatorCrName = "cluster"

/** A revisioned ConfigMap or Secret: `<name>-<N>` exists in the target namespace for revision N. */
export const RevisionedResource = Schema.Struct({
  name: Schema.NonEmptyString,
  optional: Schema.Boolean,
})
export type RevisionedResource = typeof RevisionedResource.Type

export interface Operand {
  readonly name: OperandName
  /** Used in container names: `backup-<short>-resources`. */
  readonly short: string
  /** Key in `backup-status` revisions (`kubeApiserver`, ...). */
  readonly statusKey: string
  readonly kind: string
  readonly plural: string
  readonly namespace: string
  /** The pod ConfigMap (always revisioned, always required); also the pod directory prefix. */
  readonly podConfigMap: string
  readonly certDir: string
  readonly configMaps: ReadonlyArray<RevisionedResource>
  readonly secrets: ReadonlyArray<RevisionedResource>
}

export type OperandTable = Readonly<Record<OperandName, Operand>>

const required = (name: string): RevisionedResource => ({ name, optional: false })
const optional = (name: string): RevisionedResource => ({ name, optional: true })

/** The table for current OpenShift 4.x releases (reference doc, sections 1 and 2). */
export const defaultOperands: OperandTable = {
  etcd: {
    name: "etcd",
    short: "etcd",
    statusKey: "etcd",
    kind: "Etcd",
    plural: "etcds",
    namespace: "openshift-etcd",
    podConfigMap: "etcd-pod",
    certDir: "etcd-certs",
    configMaps: [required("etcd-pod"), required("etcd-endpoints"), required("etcd-all-bundles")],
    secrets: [required("etcd-all-certs")],
  },
  "kube-apiserver": {
    name: "kube-apiserver",
    short: "kas",
    statusKey: "kubeApiserver",
    kind: "KubeAPIServer",
    plural: "kubeapiservers",
    namespace: "openshift-kube-apiserver",
    podConfigMap: "kube-apiserver-pod",
    certDir: "kube-apiserver-certs",
    configMaps: [
      required("kube-apiserver-pod"),
      required("config"),
      required("kube-apiserver-cert-syncer-kubeconfig"),
      optional("oauth-metadata"),
      optional("cloud-config"),
      required("bound-sa-token-signing-certs"),
      required("etcd-serving-ca"),
      optional("kube-apiserver-server-ca"),
      required("kubelet-serving-ca"),
      required("sa-token-signing-certs"),
      required("kube-apiserver-audit-policies"),
      optional("auth-config"),
    ],
    secrets: [
      required("etcd-client"),
      optional("encryption-config"),
      required("localhost-recovery-serving-certkey"),
      required("localhost-recovery-client-token"),
      optional("webhook-authenticator"),
    ],
  },
  "kube-controller-manager": {
    name: "kube-controller-manager",
    short: "kcm",
    statusKey: "kubeControllerManager",
    kind: "KubeControllerManager",
    plural: "kubecontrollermanagers",
    namespace: "openshift-kube-controller-manager",
    podConfigMap: "kube-controller-manager-pod",
    certDir: "kube-controller-manager-certs",
    configMaps: [
      required("kube-controller-manager-pod"),
      required("config"),
      required("cluster-policy-controller-config"),
      required("controller-manager-kubeconfig"),
      optional("cloud-config"),
      required("kube-controller-cert-syncer-kubeconfig"),
      required("serviceaccount-ca"),
      required("service-ca"),
      required("recycler-config"),
    ],
    secrets: [required("service-account-private-key"), optional("serving-cert"), required("localhost-recovery-client-token")],
  },
  "kube-scheduler": {
    name: "kube-scheduler",
    short: "ks",
    statusKey: "kubeScheduler",
    kind: "KubeScheduler",
    plural: "kubeschedulers",
    namespace: "openshift-kube-scheduler",
    podConfigMap: "kube-scheduler-pod",
    certDir: "kube-scheduler-certs",
    configMaps: [
      required("kube-scheduler-pod"),
      required("config"),
      required("serviceaccount-ca"),
      optional("policy-configmap"),
      required("scheduler-kubeconfig"),
      required("kube-scheduler-cert-syncer-kubeconfig"),
    ],
    secrets: [optional("serving-cert"), required("localhost-recovery-client-token")],
  },
}

/** The operands in their fixed order (the order of the backup pod's init containers). */
export const operandList = (table: OperandTable = defaultOperands): ReadonlyArray<Operand> => operandNames.map((name) => table[name])

const OperandOverride = Schema.Struct({
  configMaps: Schema.optionalKey(Schema.Array(RevisionedResource)),
  secrets: Schema.optionalKey(Schema.Array(RevisionedResource)),
})

/**
 * A user's replacement of resource lists, per operand (JSON or YAML file). Operands not named
 * keep the default lists; a named operand's list replaces the default list entirely.
 */
export const ResourceOverrides = Schema.Struct({
  operands: Schema.Struct({
    etcd: Schema.optionalKey(OperandOverride),
    "kube-apiserver": Schema.optionalKey(OperandOverride),
    "kube-controller-manager": Schema.optionalKey(OperandOverride),
    "kube-scheduler": Schema.optionalKey(OperandOverride),
  }),
})
export type ResourceOverrides = typeof ResourceOverrides.Type

export class OperandTableInvalid extends Schema.TaggedError<OperandTableInvalid>()("OperandTableInvalid", {
  operand: Schema.String,
  message: Schema.String,
}) {}

/** The table with a user's resource lists applied (see `ResourceOverrides`). */
export const applyResourceOverrides = (table: OperandTable, overrides: ResourceOverrides): OperandTable => {
  const result: Record<OperandName, Operand> = { ...table }
  for (const name of operandNames) {
    const o = overrides.operands[name]
    if (o === undefined) continue
    result[name] = {
      ...table[name],
      ...(o.configMaps === undefined ? {} : { configMaps: o.configMaps }),
      ...(o.secrets === undefined ? {} : { secrets: o.secrets }),
    }
  }
  return result
}

/** A resources file that cannot be used; `key` names the offending key (`operands.etcd.configMaps[1].name`). */
export class ResourceOverridesInvalid extends Schema.TaggedError<ResourceOverridesInvalid>()("ResourceOverridesInvalid", {
  key: Schema.String,
  message: Schema.String,
}) {}

/** `<name>-<N>` must stay a valid object name for every int32 revision N (`-2147483647` is 11 characters). */
export const maxResourceNameLength = dnsSubdomainMaxLength - 11

const overridesShape =
  "expected {operands: {<etcd|kube-apiserver|kube-controller-manager|kube-scheduler>: {configMaps: [{name, optional}], secrets: [{name, optional}]}}}"

const invalid = (key: string, problem: string) =>
  new ResourceOverridesInvalid({ key, message: `resource overrides: ${key === "" ? "the document" : key} ${problem}` })

/** Problems Kubernetes or the backup pod would hit with a resource list, keyed by position. */
const listProblems = (list: ReadonlyArray<RevisionedResource>, key: string, podConfigMap: string | undefined): ResourceOverridesInvalid | undefined => {
  const seen = new Set<string>()
  for (const [i, resource] of list.entries()) {
    const problem = dnsSubdomainProblem(resource.name)
    if (problem !== undefined) return invalid(`${key}[${i}].name`, `is "${resource.name}", which ${problem}`)
    if (resource.name.length > maxResourceNameLength) {
      return invalid(`${key}[${i}].name`, `is ${resource.name.length} characters; at most ${maxResourceNameLength} leave room for the "-<revision>" suffix`)
    }
    if (seen.has(resource.name)) return invalid(`${key}[${i}].name`, `repeats "${resource.name}"; name each resource once`)
    seen.add(resource.name)
  }
  if (podConfigMap !== undefined) {
    const pod = list.find((r) => r.name === podConfigMap)
    if (pod === undefined) return invalid(key, `must list the pod ConfigMap "${podConfigMap}" (it is the static pod itself)`)
    if (pod.optional) return invalid(key, `marks the pod ConfigMap "${podConfigMap}" optional; it is always required`)
  }
  return undefined
}

/**
 * Decodes a resources file (JSON or YAML text) against `ResourceOverrides` and checks what the
 * Schema cannot: names Kubernetes accepts (with room for the revision suffix), no repeats, and
 * the operand's pod ConfigMap kept as a required entry. Unknown keys are refused (a typo would
 * otherwise silently keep the default list).
 */
export const decodeResourceOverrides = (text: string, table: OperandTable = defaultOperands): Result.Result<ResourceOverrides, ResourceOverridesInvalid> => {
  const parsed = parseYamlText(text)
  if (Result.isFailure(parsed)) return Result.fail(invalid("", `is not readable: ${parsed.failure.message}`))
  const decoded = Schema.decodeUnknownResult(ResourceOverrides, { onExcessProperty: "error" })(parsed.success)
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return Result.fail(invalid(key, `${message} (${overridesShape})`))
  }
  for (const name of operandNames) {
    const o = decoded.success.operands[name]
    if (o === undefined) continue
    const base = `operands.${name}`
    const problem =
      (o.configMaps === undefined ? undefined : listProblems(o.configMaps, `${base}.configMaps`, table[name].podConfigMap)) ??
      (o.secrets === undefined ? undefined : listProblems(o.secrets, `${base}.secrets`, undefined))
    if (problem !== undefined) return Result.fail(problem)
  }
  return Result.succeed(decoded.success)
}

/** The operand table with a resources file (JSON or YAML text) applied; see `decodeResourceOverrides`. */
export const operandTableWithOverrides = (text: string, table: OperandTable = defaultOperands): Result.Result<OperandTable, ResourceOverridesInvalid> =>
  Result.map(decodeResourceOverrides(text, table), (overrides) => applyResourceOverrides(table, overrides))

const sameList = (a: ReadonlyArray<RevisionedResource>, b: ReadonlyArray<RevisionedResource>) =>
  a.length === b.length && a.every((r, i) => r.name === b[i]!.name && r.optional === b[i]!.optional)

/**
 * The overrides that turn the default table into `table` (only the lists that differ), or
 * `undefined` when it is the default. The operator passes them to the backup pod's containers,
 * so the pod backs up exactly the lists it was rendered with.
 */
export const resourceOverridesOf = (table: OperandTable): ResourceOverrides | undefined => {
  const operands: Partial<Record<OperandName, { configMaps?: ReadonlyArray<RevisionedResource>; secrets?: ReadonlyArray<RevisionedResource> }>> = {}
  for (const name of operandNames) {
    const o = table[name]
    const d = defaultOperands[name]
    const entry = {
      ...(sameList(o.configMaps, d.configMaps) ? {} : { configMaps: o.configMaps }),
      ...(sameList(o.secrets, d.secrets) ? {} : { secrets: o.secrets }),
    }
    if (Object.keys(entry).length > 0) operands[name] = entry
  }
  return Object.keys(operands).length === 0 ? undefined : ({ operands } as ResourceOverrides)
}

/** One-line JSON of overrides, keys in a fixed order (a command-line value with stable bytes). */
export const encodeResourceOverrides = (overrides: ResourceOverrides): string =>
  JSON.stringify(canonicalize(overrides, ["operands", ...operandNames, "configMaps", "secrets", "name", "optional"]))
