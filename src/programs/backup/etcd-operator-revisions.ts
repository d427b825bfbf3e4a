/**
 * The operators' `status.latestAvailableRevision`, read straight from etcd at one store revision
 * (the API server stores custom resources as JSON under `<prefix>/<group>/<plural>/<name>`, the
 * prefix being `/kubernetes.io` on OpenShift: see `etcd-prefix.ts`).
 * Reading at a revision, not through the API, is what ties these numbers to a snapshot.
 */
import { Effect, Result } from "effect"
import {
  operandList,
  operandNames,
  operatorCrName,
  operatorGroup,
  defaultOperands,
  type Operand,
  type OperandName,
  type OperandTable,
} from "../../domain/operands.ts"
import { defaultEtcdPrefix } from "../../domain/etcd-prefix.ts"
import { readLatestAvailableRevision, type Revision } from "../../domain/revisions.ts"
import { Etcd } from "../../services/etcd/etcd.ts"

/** The etcd key of an operand's operator CR under `prefix`. */
export const operatorCrKeyUnder =
  (prefix: string) =>
  (operand: Operand): string =>
    `${prefix}/${operatorGroup}/${operand.plural}/${operatorCrName}`

/** The etcd key of an operand's operator CR under OpenShift's prefix. */
export const operatorCrKey = operatorCrKeyUnder(defaultEtcdPrefix)

/** What a CR stored in etcd said about its revision: a number, or why there is none. */
export type EtcdOperatorRevision = { readonly revision: Revision; readonly reason?: undefined } | { readonly revision: null; readonly reason: string }

const isObject = (v: unknown): boolean => v !== null && typeof v === "object" && !Array.isArray(v)

/**
 * Decodes a CR's stored bytes (`undefined`: no such key) into its latest available revision. A
 * missing key names the prefix it was read under: the usual cause is an API server storing its
 * objects under another one.
 */
export const etcdOperatorRevisionOf = (key: string, bytes: Uint8Array | undefined, prefix: string = defaultEtcdPrefix): EtcdOperatorRevision => {
  if (bytes === undefined) {
    return {
      revision: null,
      reason: `${key} does not exist at that revision (read under the etcd key prefix ${prefix}; if the API server stores its objects under another one, such as upstream Kubernetes' /registry, give it with --etcd-prefix)`,
    }
  }
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
  } catch {
    return { revision: null, reason: `${key} is not JSON (${bytes.length} bytes)` }
  }
  const status = isObject(json) ? (json as Record<string, unknown>).status : undefined
  if (!isObject(json) || (status !== undefined && !isObject(status))) {
    return {
      revision: null,
      reason: `${key} is not an object with a status (a ${status === undefined ? "JSON value other than an object" : "status that is not an object"})`,
    }
  }
  const read = readLatestAvailableRevision(json)
  if (Result.isSuccess(read)) return { revision: read.success }
  const p = read.failure
  return p.problem === "missing" || p.problem === "absent"
    ? { revision: null, reason: `${key} has no status.latestAvailableRevision yet` }
    : { revision: null, reason: `${key} has status.latestAvailableRevision=${JSON.stringify(p.found)}, not a positive int32` }
}

export type EtcdOperatorRevisions = Readonly<Record<OperandName, EtcdOperatorRevision>>

/** Reads the four operator CRs at `revision` from etcd, under the etcd key `prefix`. */
export const readEtcdOperatorRevisions = Effect.fn("readEtcdOperatorRevisions")(function* (
  revision: number,
  table: OperandTable = defaultOperands,
  prefix: string = defaultEtcdPrefix,
) {
  const etcd = yield* Etcd
  const keyOf = operatorCrKeyUnder(prefix)
  const entries = yield* Effect.forEach(operandList(table), (operand) =>
    Effect.map(etcd.get(keyOf(operand), { revision }), (kv) => [operand.name, etcdOperatorRevisionOf(keyOf(operand), kv?.value, prefix)] as const),
  )
  return Object.fromEntries(entries) as Record<OperandName, EtcdOperatorRevision>
})

/** True when both observations agree for every operand (same number, or both absent). */
export const sameEtcdOperatorRevisions = (a: EtcdOperatorRevisions, b: EtcdOperatorRevisions): boolean =>
  operandNames.every((name) => a[name].revision === b[name].revision)
