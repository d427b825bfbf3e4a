/**
 * Revisions of the four operands: `RevisionSet` maps each operand to a revision number
 * (a positive int32, as `status.latestAvailableRevision` of its operator CR).
 */
import { Schema } from "effect"
import { operandNames, type OperandName } from "./operands.ts"

/** A revision number: positive int32. */
export const Revision = Schema.Int.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(2_147_483_647))
export type Revision = typeof Revision.Type

export const RevisionSet = Schema.Struct({
  etcd: Revision,
  "kube-apiserver": Revision,
  "kube-controller-manager": Revision,
  "kube-scheduler": Revision,
})
/** One revision per operand. */
export type RevisionSet = typeof RevisionSet.Type

/** `etcd=3,kube-apiserver=7,...` in the fixed operand order (for logs, labels, messages). */
export const formatRevisionSet = (set: RevisionSet): string =>
  operandNames.map((name: OperandName) => `${name}=${set[name]}`).join(",")
