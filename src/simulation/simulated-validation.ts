/**
 * The subset of API server validation the simulated cluster enforces, so that programs tested
 * against it fail where a real cluster would reject them: object names, ConfigMap/Secret keys,
 * base64 and the 1 MiB size limit, pods without containers, and the Event namespace rule.
 * Messages follow the API's `<Kind> "<name>" is invalid: <field>: <detail>` form and never quote
 * Secret values.
 */
import type { KubeStatus } from "../services/kube/errors.ts"
import { isJsonObject } from "../services/kube/merge-patch.ts"
import type { ResourceType } from "../services/kube/resources.ts"

type Obj = Record<string, unknown>

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const configKey = /^[-._a-zA-Z0-9]+$/
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
/** The API's limit on ConfigMap and Secret payloads. */
export const maxDataBytes = 1024 * 1024

interface Cause {
  readonly field: string
  readonly message: string
}

export const invalid = (type: ResourceType, name: string, causes: ReadonlyArray<Cause>): KubeStatus => ({
  code: 422,
  reason: "Invalid",
  message: `${type.kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`,
  details: {
    name,
    kind: type.resource,
    ...(type.group === "" ? {} : { group: type.group }),
    causes: causes.map((c) => ({ reason: "FieldValueInvalid", message: c.message, field: c.field })),
  },
})

export const badRequest = (message: string): KubeStatus => ({ code: 400, reason: "BadRequest", message })

const checkName = (name: string): ReadonlyArray<Cause> =>
  name.length <= 253 && dnsSubdomain.test(name)
    ? []
    : [
        {
          field: "metadata.name",
          message:
            `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', ` +
            "and must start and end with an alphanumeric character",
        },
      ]

const checkStringMap = (field: string, value: unknown, values: "string" | "base64"): { causes: Array<Cause>; bytes: number } => {
  const causes: Array<Cause> = []
  let bytes = 0
  if (value === undefined || value === null) return { causes, bytes }
  if (!isJsonObject(value)) return { causes: [{ field, message: "Invalid value: must be a map of strings" }], bytes }
  for (const [key, v] of Object.entries(value)) {
    if (!configKey.test(key) || key.length > 253) {
      causes.push({
        field: `${field}[${key}]`,
        message: `Invalid value: "${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
      })
    }
    if (typeof v !== "string") {
      causes.push({ field: `${field}[${key}]`, message: "Invalid value: must be a string" })
    } else if (values === "base64" && !base64.test(v)) {
      causes.push({ field: `${field}[${key}]`, message: "Invalid value: illegal base64 data" })
    } else {
      bytes += key.length + (values === "base64" ? Buffer.from(v, "base64").length : Buffer.byteLength(v))
    }
  }
  return { causes, bytes }
}

const checkData = (type: ResourceType, obj: Obj): ReadonlyArray<Cause> => {
  const isSecret = type.resource === "secrets"
  const data = checkStringMap("data", obj.data, isSecret ? "base64" : "string")
  const binary = isSecret ? { causes: [], bytes: 0 } : checkStringMap("binaryData", obj.binaryData, "base64")
  const causes = [...data.causes, ...binary.causes]
  if (isJsonObject(obj.data) && isJsonObject(obj.binaryData)) {
    for (const key of Object.keys(obj.binaryData)) {
      if (Object.hasOwn(obj.data, key)) causes.push({ field: `binaryData[${key}]`, message: `Invalid value: "${key}": duplicate of key present in data` })
    }
  }
  if (data.bytes + binary.bytes > maxDataBytes) {
    causes.push({ field: "[]", message: `Too long: must have at most ${maxDataBytes} bytes` })
  }
  return causes
}

const checkPod = (_type: ResourceType, obj: Obj): ReadonlyArray<Cause> => {
  const spec = obj.spec
  const containers = isJsonObject(spec) ? spec.containers : undefined
  return Array.isArray(containers) && containers.length > 0 ? [] : [{ field: "spec.containers", message: "Required value" }]
}

const required = (obj: Obj, fields: ReadonlyArray<string>): ReadonlyArray<Cause> =>
  fields.filter((field) => typeof obj[field] !== "string" || obj[field] === "").map((field) => ({ field, message: "Required value" }))

/**
 * The API server's legacy Event rule, applied to every core/v1 Event. Without `eventTime`: an event about a
 * cluster-scoped object (no involvedObject.namespace) lives in "default" (or ""), any other in its object's
 * namespace. With `eventTime` (the newer fields): an event about a cluster-scoped object lives in "default" or
 * "kube-system", and names its reporting component and instance and its action. An operator's own namespace
 * is never valid for an event about a cluster-scoped object.
 */
const checkEvent = (_type: ResourceType, obj: Obj, namespace: string | undefined): ReadonlyArray<Cause> => {
  const involved = obj.involvedObject
  if (!isJsonObject(involved)) return [{ field: "involvedObject", message: "Required value" }]
  const involvedNamespace = typeof involved.namespace === "string" ? involved.namespace : ""
  const mismatch = [{ field: "involvedObject.namespace", message: `Invalid value: "${involvedNamespace}": does not match event.namespace` }]
  if (obj.eventTime !== undefined && obj.eventTime !== null) {
    const clusterScopedElsewhere = involvedNamespace === "" && namespace !== "default" && namespace !== "kube-system"
    return [...(clusterScopedElsewhere ? mismatch : []), ...required(obj, ["reportingComponent", "reportingInstance", "action", "reason"])]
  }
  const ok = involvedNamespace === "" ? namespace === "default" || namespace === "" : namespace === involvedNamespace
  return ok ? [] : mismatch
}

type Check = (type: ResourceType, obj: Obj, namespace: string | undefined) => ReadonlyArray<Cause>

/** Type-specific rules, by plural resource name. */
const checks: Readonly<Record<string, Check>> = {
  configmaps: checkData,
  secrets: checkData,
  pods: checkPod,
  events: checkEvent,
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits, or the API cannot decode the body. */
const microTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/
const microTimeFields: Readonly<Record<string, (obj: Obj) => ReadonlyArray<unknown>>> = {
  leases: (obj) => (isJsonObject(obj.spec) ? [obj.spec.acquireTime, obj.spec.renewTime] : []),
  events: (obj) => [obj.eventTime],
}

const undecodable = (type: ResourceType, obj: Obj): KubeStatus | undefined => {
  const bad = (microTimeFields[type.resource]?.(obj) ?? []).find((v) => v !== undefined && v !== null && !(typeof v === "string" && microTime.test(v)))
  return bad === undefined
    ? undefined
    : badRequest(
        `${type.kind} in version "v1" cannot be handled as a ${type.kind}: ` +
          `parsing time ${JSON.stringify(bad)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`,
      )
}

/** The Status a real API server would answer for this object, or undefined when it is valid. */
export const validateObject = (type: ResourceType, obj: Obj, name: string, namespace: string | undefined): KubeStatus | undefined => {
  const notDecodable = undecodable(type, obj)
  if (notDecodable !== undefined) return notDecodable
  const causes = [...checkName(name), ...(checks[type.resource]?.(type, obj, namespace) ?? [])]
  return causes.length === 0 ? undefined : invalid(type, name, causes)
}
