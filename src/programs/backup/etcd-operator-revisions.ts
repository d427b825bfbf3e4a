/**
 * The operators' `status.latestAvailableRevision`, read straight from etcd at one store revision
 * (the API server stores custom resources as JSON under `<prefix>/<group>/<plural>/<name>`, the
 * prefix being `/kubernetes.io` on OpenShift: see `etcd-prefix.ts`).
 * Reading at a revision, not through the API, is what ties these numbers to a snapshot.
 */
import { Effect, Result, Schema } from "effect"
import { operandList, operandNames, operatorCrName, operatorGroup, defaultOperands, type Operand, type OperandName, type OperandTable } from "../../domain/operands.ts"
import { defaultEtcdPrefix } from "../../domain/etcd-prefix.ts"
import { Revision } from "../../domain/revisions.ts"
import { Etcd } from "../../services/etcd/etcd.ts"

/** The etcd key of an operand's operator CR under `prefix`. */
export const operatorCrKeyUnder =
  (prefix: string) =>
  (operand: Operand): string =>
    `${prefix}/${operatorGroup}/${operand.plural}/${operatorCrName}`

/** The etcd key of an operand's operator CR under OpenShift's prefix. */
export const operatorCrKey = operatorCrKeyUnder(defaultEtcdPrefix)

/** What a CR said about its revision: a number, or why there is none. */
export type ObservedRevision =
  | { readonly revision: Revision; readonly reason?: undefined }
  | { readonly revision: null; readonly reason: string }

const CrStatus = Schema.Struct({
  status: Schema.optionalKey(Schema.Struct({ latestAvailableRevision: Schema.optionalKey(Schema.Unknown) })),
})
const decodeCr = Schema.decodeUnknownResult(CrStatus)
const decodeRevision = Schema.decodeUnknownResult(Revision)

/**
 * Decodes a CR's stored bytes (`undefined`: no such key) into its latest available revision. A
 * missing key names the prefix it was read under: the usual cause is an API server storing its
 * objects under another one.
 */
export const observedRevisionOf = (key: string, bytes: Uint8Array | undefined, prefix: string = defaultEtcdPrefix): ObservedRevision => {
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
  const cr = decodeCr(json)
  if (Result.isFailure(cr)) return { revision: null, reason: `${key} is not an object with a status: ${cr.failure.message}` }
  const raw = cr.success.status?.latestAvailableRevision
  if (raw === undefined) return { revision: null, reason: `${key} has no status.latestAvailableRevision yet` }
  const revision = decodeRevision(raw)
  if (Result.isFailure(revision)) {
    return { revision: null, reason: `${key} has status.latestAvailableRevision=${JSON.stringify(raw)}, not a positive int32` }
  }
  return { revision: revision.success }
}

export type ObservedRevisions = Readonly<Record<OperandName, ObservedRevision>>

/** Reads the four operator CRs at `revision` from etcd, under the etcd key `prefix`. */
export const readOperatorRevisionsAt = Effect.fn("readOperatorRevisionsAt")(function* (
  revision: number,
  table: OperandTable = defaultOperands,
  prefix: string = defaultEtcdPrefix,
) {
  const etcd = yield* Etcd
  const keyOf = operatorCrKeyUnder(prefix)
  const entries = yield* Effect.forEach(operandList(table), (operand) =>
    Effect.map(etcd.get(keyOf(operand), { revision }), (kv) => [operand.name, observedRevisionOf(keyOf(operand), kv?.value, prefix)] as const),
  )
  return Object.fromEntries(entries) as Record<OperandName, ObservedRevision>
})

/** True when both observations agree for every operand (same number, or both absent). */
export const sameRevisions = (a: ObservedRevisions, b: ObservedRevisions): boolean =>
  operandNames.every((name) => a[name].revision === b[name].revision)
