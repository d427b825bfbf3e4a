/**
 * The four operators' answer to a new `spec.forceRedeploymentReason`, on the simulated cluster: the reason is copied
 * into the operand's pod ConfigMap, and the revision controller makes a new revision of it, which the installer puts
 * on the first node, then (`rolloutTicks` later) on every node.
 * An operand in `stuck` makes its revision but never installs it; one in `failing` also records, on its first
 * node, the installer's failure on that revision, as the operator does (`lastFailedRevision`, `lastFailedRevisionErrors`).
 */
import { Result } from "effect"
import { defaultOperands, type OperandName, operandNames } from "../domain/operands.ts"
import { redeploymentReasonOf } from "../domain/redeployment.ts"
import { configMapType, operatorTypes } from "../services/kube/resources.ts"
import type { OpenShiftFixture } from "./openshift-fixtures.ts"
import type { SimulatedCluster } from "./simulated-cluster.ts"

export interface RedeploymentControllerOptions {
  readonly rolloutTicks?: number
  readonly stuck?: ReadonlyArray<OperandName>
  readonly failing?: ReadonlyArray<OperandName>
}

/** What the controllers did, in order: an operand asked for a new revision (`Asked`) and that revision on every node (`RolledOut`). */
export interface RedeploymentRecord {
  readonly operand: OperandName
  readonly what: "Asked" | "RolledOut"
  readonly revision: number
}

export interface RedeploymentControllers {
  /** One pass of every controller. */
  readonly tick: () => void
  readonly records: ReadonlyArray<RedeploymentRecord>
  /** Runs `tick` every `everyMs` until `stop`, or until a tick fails (`failure`). */
  readonly start: (everyMs: number) => void
  /** Why a started controller stopped on its own: a write the simulated cluster refused. */
  readonly failure: () => string | undefined
  readonly stop: () => void
}

const orThrow = <A>(r: Result.Result<A, { readonly message: string }>): A => {
  if (Result.isFailure(r)) throw new Error(`the simulated operator could not write: ${r.failure.message}`)
  return r.success
}

export const redeploymentControllers = (
  cluster: SimulatedCluster,
  fixture: OpenShiftFixture,
  options: RedeploymentControllerOptions = {},
): RedeploymentControllers => {
  const reasonNow = (operand: OperandName) => redeploymentReasonOf(cluster.get(operatorTypes[operand], undefined, "cluster"))
  const seen = new Map(operandNames.map((operand) => [operand, reasonNow(operand)]))
  const installing = new Map<OperandName, { readonly revision: number; ticksLeft: number }>()
  const records: Array<RedeploymentRecord> = []
  let timer: ReturnType<typeof setInterval> | undefined

  /** As the operator does: the CR's reason is copied into the pod ConfigMap, whose change makes the revision. */
  const madeFor = (operand: OperandName, revision: number, reason: string) => {
    const { namespace, podConfigMap } = defaultOperands[operand]
    for (const name of [podConfigMap, `${podConfigMap}-${revision}`]) {
      const cm = cluster.get(configMapType, namespace, name)!
      orThrow(cluster.replace(configMapType, { ...cm, data: { ...(cm.data as object), forceRedeploymentReason: reason } }))
    }
  }

  const recordFailure = (operand: OperandName, revision: number) => {
    const cr = cluster.get(operatorTypes[operand], undefined, "cluster")!
    const status = cr.status as { readonly nodeStatuses: ReadonlyArray<Record<string, unknown>> }
    const [first, ...rest] = status.nodeStatuses
    const failed = { ...first, lastFailedRevision: revision, lastFailedRevisionErrors: ["installer: pod failed: ImagePullBackOff"] }
    orThrow(cluster.updateStatus(operatorTypes[operand], undefined, "cluster", { ...status, nodeStatuses: [failed, ...rest] }))
  }

  const tick = () => {
    for (const operand of operandNames) {
      const reason = reasonNow(operand)
      if (reason !== seen.get(operand)) {
        seen.set(operand, reason)
        const revision = orThrow(fixture.bumpRevision(cluster, operand, "pending"))
        madeFor(operand, revision, reason)
        records.push({ operand, what: "Asked", revision })
        if (options.failing?.includes(operand) === true) recordFailure(operand, revision)
        if (options.stuck?.includes(operand) !== true && options.failing?.includes(operand) !== true)
          installing.set(operand, { revision, ticksLeft: options.rolloutTicks ?? 3 })
        continue
      }
      const pending = installing.get(operand)
      if (pending === undefined) continue
      pending.ticksLeft--
      if (pending.ticksLeft > 0) continue
      installing.delete(operand)
      orThrow(fixture.completeRollout(cluster, operand))
      records.push({ operand, what: "RolledOut", revision: pending.revision })
    }
  }

  let failure: string | undefined
  // A timer's exception would end the process (the demo's included): it stops the controllers instead.
  const guardedTick = () => {
    try {
      tick()
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e)
      clearInterval(timer)
    }
  }

  return {
    tick,
    records,
    start: (everyMs) => {
      timer = setInterval(guardedTick, everyMs)
    },
    stop: () => clearInterval(timer),
    failure: () => failure,
  }
}
