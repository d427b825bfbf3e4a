/** The revisions the four operator CRs report now (and etcd's quota), read through the API (a missing CR reads as absent, not as an error). */
import { Effect } from "effect"
import { defaultOperands, operandNames, type OperandName, type OperandTable } from "../../domain/operands.ts"
import { etcdQuotaBytes } from "../../domain/etcd-quota-room.ts"
import { decodeObservedRevisions } from "../../domain/revisions.ts"
import { Kube } from "../../services/kube/kube.ts"

/** Every CR read; API errors other than NotFound fail the effect (they are worth a retry). */
export const readOperatorCrs = Effect.fn("readOperatorCrs")(function* () {
  const kube = yield* Kube
  const crs = {} as Record<OperandName, unknown>
  for (const name of operandNames) {
    crs[name] = yield* kube.operators.get(name).pipe(
      Effect.map((cr): unknown => cr),
      Effect.catchIf(
        (e) => e._tag === "NotFound",
        () => Effect.succeed(undefined),
      ),
    )
  }
  return crs
})

/** What the CRs say now: the RevisionSet (or every operand's decoding error) and etcd's backend quota (undefined when the etcd CR cannot tell). */
export const readOperatorFacts = (table: OperandTable = defaultOperands) =>
  Effect.map(readOperatorCrs(), (crs) => ({ revisions: decodeObservedRevisions(crs, table), etcdQuotaBytes: etcdQuotaBytes(crs.etcd) }))
