/**
 * Validates Kubernetes objects the way the API server would, as far as a test can without one:
 *
 * 1. the OpenAPI schema (kubernetes-models, Kubernetes 1.27): types, enums, quantity formats;
 * 2. no unknown fields (the schema above allows them; the API server's strict field validation
 *    does not), checked against @kubernetes/client-node's model attribute maps;
 * 3. the checks the API server adds to the schema: object names, label and annotation syntax,
 *    and in pod specs unique DNS-label container and volume names, mounts that name a volume.
 *
 * Use `validateK8sObject(obj)` (throws `K8sValidationError` listing every problem) or
 * `k8sValidationProblems(obj)`; `validateK8sYamlDocuments(text)` checks every document of a
 * multi-document YAML file (deploy manifests).
 */
import * as k8s from "@kubernetes/client-node"
import * as models from "kubernetes-models"
import * as YAML from "yaml"

export class K8sValidationError extends Error {
  readonly problems: ReadonlyArray<string>
  constructor(what: string, problems: ReadonlyArray<string>) {
    super(`${what} is not a valid Kubernetes object:\n  ${problems.join("\n  ")}`)
    this.name = "K8sValidationError"
    this.problems = problems
  }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v)

// --- 1. OpenAPI schema --------------------------------------------------------------------------

interface ModelClass {
  new (data: unknown): { validate(): void }
}

const camelGroup = (group: string): string =>
  group
    .split(/[.-]/)
    .map((part, i) => (i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join("")

const modelClass = (apiVersion: string, kind: string): ModelClass | undefined => {
  const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/") as [string, string]) : ["", apiVersion]
  const groupModule = group === "" ? models : (models as unknown as Record<string, unknown>)[camelGroup(group)]
  const versionModule = isObj(groupModule) ? groupModule[version] : undefined
  const cls = isObj(versionModule) ? versionModule[kind] : undefined
  return typeof cls === "function" ? (cls as ModelClass) : undefined
}

const schemaProblems = (obj: Obj, cls: ModelClass): Array<string> => {
  try {
    new cls(obj).validate()
    return []
  } catch (e) {
    const errors = (e as { errors?: ReadonlyArray<{ instancePath: string; message?: string }> }).errors
    if (errors === undefined) return [`schema: ${e instanceof Error ? e.message : String(e)}`]
    return errors.map((err) => `schema: ${err.instancePath === "" ? "/" : err.instancePath} ${err.message ?? "is invalid"}`)
  }
}

// --- 2. Unknown fields --------------------------------------------------------------------------

interface Attribute {
  readonly baseName: string
  readonly type: string
}
const clientModels = k8s as unknown as Record<string, { getAttributeTypeMap?: () => ReadonlyArray<Attribute> } | undefined>

const unknownFieldProblems = (value: unknown, type: string, path: string, out: Array<string>): void => {
  const array = /^Array<(.+)>$/.exec(type)
  if (array !== null) {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) unknownFieldProblems(v, array[1]!, `${path}/${i}`, out)
    return
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type)
  if (map !== null) {
    if (isObj(value)) for (const [k, v] of Object.entries(value)) unknownFieldProblems(v, map[1]!, `${path}/${k}`, out)
    return
  }
  const attributes = clientModels[type]?.getAttributeTypeMap?.()
  if (attributes === undefined || !isObj(value)) return
  const known = new Map(attributes.map((a) => [a.baseName, a.type] as const))
  for (const [k, v] of Object.entries(value)) {
    const t = known.get(k)
    if (t === undefined) out.push(`unknown field ${path}/${k}`)
    else unknownFieldProblems(v, t, `${path}/${k}`, out)
  }
}

const clientModelName = (apiVersion: string, kind: string): string => {
  const version = apiVersion.includes("/") ? apiVersion.split("/")[1]! : apiVersion
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`
}

// --- 3. API-server checks beyond the schema -------------------------------------------------------

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/

const isDnsLabel = (s: string) => s.length <= 63 && dnsLabel.test(s)
const isDnsSubdomain = (s: string) => s.length <= 253 && dnsSubdomain.test(s)

const keyProblem = (key: string): string | undefined => {
  const slash = key.lastIndexOf("/")
  const prefix = slash < 0 ? undefined : key.slice(0, slash)
  const name = slash < 0 ? key : key.slice(slash + 1)
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return "prefix is not a DNS-1123 subdomain"
  if (name.length > 63 || !qualifiedName.test(name)) return "name part is not a qualified name (<= 63 alphanumerics, '-', '_', '.')"
  return undefined
}

/** Name rules per kind, as the API server applies them. */
const nameProblem = (apiVersion: string, kind: string, name: string): string | undefined => {
  if (apiVersion.startsWith("rbac.authorization.k8s.io/")) {
    return name === "" || name === "." || name === ".." || /[/%]/.test(name) ? "is not a valid path segment name" : undefined
  }
  if (kind === "Namespace" || kind === "Service") return isDnsLabel(name) ? undefined : "is not a DNS-1123 label"
  return isDnsSubdomain(name) ? undefined : "is not a DNS-1123 subdomain"
}

const metadataProblems = (obj: Obj, apiVersion: string, kind: string): Array<string> => {
  const out: Array<string> = []
  const metadata = isObj(obj.metadata) ? obj.metadata : {}
  const name = metadata.name
  const generateName = metadata.generateName
  if (typeof name !== "string" && typeof generateName !== "string") out.push("metadata: needs name or generateName")
  if (typeof name === "string") {
    const p = nameProblem(apiVersion, kind, name)
    if (p !== undefined) out.push(`metadata.name ${JSON.stringify(name)} ${p}`)
  }
  if (typeof generateName === "string") {
    const p = nameProblem(apiVersion, kind, `${generateName}abcde`)
    if (p !== undefined) out.push(`metadata.generateName ${JSON.stringify(generateName)} makes names that ${p.replace(/^is/, "are")}`)
  }
  const namespace = metadata.namespace
  if (typeof namespace === "string" && !isDnsLabel(namespace)) out.push(`metadata.namespace ${JSON.stringify(namespace)} is not a DNS-1123 label`)
  const labels = isObj(metadata.labels) ? metadata.labels : {}
  for (const [k, v] of Object.entries(labels)) {
    const p = keyProblem(k)
    if (p !== undefined) out.push(`metadata.labels key ${JSON.stringify(k)}: ${p}`)
    if (typeof v !== "string" || (v !== "" && (v.length > 63 || !qualifiedName.test(v)))) {
      out.push(`metadata.labels[${JSON.stringify(k)}] value ${JSON.stringify(v)} is not a valid label value`)
    }
  }
  const annotations = isObj(metadata.annotations) ? metadata.annotations : {}
  let size = 0
  for (const [k, v] of Object.entries(annotations)) {
    const p = keyProblem(k)
    if (p !== undefined) out.push(`metadata.annotations key ${JSON.stringify(k)}: ${p}`)
    size += k.length + (typeof v === "string" ? v.length : 0)
  }
  if (size > 256 * 1024) out.push("metadata.annotations exceed 256 KiB")
  return out
}

/** The pod spec of a Pod or of a workload's pod template. */
const podSpecOf = (obj: Obj, kind: string): { spec: Obj; path: string } | undefined => {
  const at = (path: ReadonlyArray<string>): unknown => path.reduce<unknown>((v, k) => (isObj(v) ? v[k] : undefined), obj)
  const path =
    kind === "Pod"
      ? ["spec"]
      : kind === "CronJob"
        ? ["spec", "jobTemplate", "spec", "template", "spec"]
        : ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(kind)
          ? ["spec", "template", "spec"]
          : undefined
  const spec = path === undefined ? undefined : at(path)
  return isObj(spec) && path !== undefined ? { spec, path: path.join(".") } : undefined
}

const podSpecProblems = (spec: Obj, path: string): Array<string> => {
  const out: Array<string> = []
  const list = (k: string): Array<Obj> => (Array.isArray(spec[k]) ? (spec[k] as Array<unknown>).filter(isObj) : [])
  const volumeNames = new Set<string>()
  for (const volume of list("volumes")) {
    const name = String(volume.name)
    if (!isDnsLabel(name)) out.push(`${path}.volumes: name ${JSON.stringify(name)} is not a DNS-1123 label`)
    if (volumeNames.has(name)) out.push(`${path}.volumes: name ${JSON.stringify(name)} is repeated`)
    volumeNames.add(name)
  }
  const containerNames = new Set<string>()
  for (const field of ["initContainers", "containers"]) {
    for (const container of list(field)) {
      const name = String(container.name)
      if (!isDnsLabel(name)) out.push(`${path}.${field}: name ${JSON.stringify(name)} is not a DNS-1123 label`)
      if (containerNames.has(name)) out.push(`${path}.${field}: container name ${JSON.stringify(name)} is repeated`)
      containerNames.add(name)
      const mountPaths = new Set<string>()
      const mounts = Array.isArray(container.volumeMounts) ? (container.volumeMounts as Array<unknown>).filter(isObj) : []
      for (const mount of mounts) {
        const volume = String(mount.name)
        const mountPath = String(mount.mountPath)
        if (!volumeNames.has(volume)) out.push(`${path}.${field}[${name}]: mounts volume ${JSON.stringify(volume)}, which the pod does not declare`)
        if (!mountPath.startsWith("/")) out.push(`${path}.${field}[${name}]: mountPath ${JSON.stringify(mountPath)} is not absolute`)
        if (mountPaths.has(mountPath)) out.push(`${path}.${field}[${name}]: mountPath ${JSON.stringify(mountPath)} is repeated`)
        mountPaths.add(mountPath)
      }
    }
  }
  if (list("containers").length === 0) out.push(`${path}.containers: at least one container is required`)
  return out
}

// --- entry points -------------------------------------------------------------------------------

/** Every problem with `obj` as a Kubernetes object; empty when valid. */
export const k8sValidationProblems = (obj: unknown): ReadonlyArray<string> => {
  if (!isObj(obj)) return ["not an object"]
  const { apiVersion, kind } = obj
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["apiVersion and kind must be strings"]
  const cls = modelClass(apiVersion, kind)
  if (cls === undefined) return [`unknown apiVersion/kind ${apiVersion}/${kind} (not a Kubernetes 1.27 built-in type)`]
  const unknown: Array<string> = []
  unknownFieldProblems(obj, clientModelName(apiVersion, kind), "", unknown)
  const pod = podSpecOf(obj, kind)
  return [
    ...schemaProblems(obj, cls),
    ...unknown,
    ...metadataProblems(obj, apiVersion, kind),
    ...(pod === undefined ? [] : podSpecProblems(pod.spec, pod.path)),
  ]
}

/** Throws `K8sValidationError` listing every problem unless `obj` is a valid Kubernetes object. */
export const validateK8sObject = (obj: unknown): void => {
  const problems = k8sValidationProblems(obj)
  if (problems.length > 0) {
    const o = isObj(obj) ? obj : {}
    const m = isObj(o.metadata) ? o.metadata : {}
    throw new K8sValidationError(`${String(o.kind)} ${String(m.name ?? m.generateName ?? "")}`, problems)
  }
}

/** Validates every document of a (multi-document) YAML text; throws on the first invalid one. Returns the parsed objects. */
export const validateK8sYamlDocuments = (text: string): ReadonlyArray<unknown> => {
  const docs = YAML.parseAllDocuments(text)
  const objects: Array<unknown> = []
  for (const doc of docs) {
    if ("errors" in doc && doc.errors.length > 0)
      throw new K8sValidationError(
        "YAML document",
        doc.errors.map((e) => e.message),
      )
    const obj = doc.toJS()
    if (obj === null) continue
    validateK8sObject(obj)
    objects.push(obj)
  }
  return objects
}
