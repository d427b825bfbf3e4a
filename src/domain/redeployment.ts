/**
 * Forcing the control plane's operators to roll out a new revision after a restore, as OpenShift's recovery procedure
 * does by hand (`oc patch etcd cluster --type=merge -p '{"spec":{"forceRedeploymentReason":"recovery-..."}}'`, then
 * kube-apiserver, kube-controller-manager and kube-scheduler, each once the one before is on every node): a reason the
 * CR did not hold makes the operator's revision controller make a new revision, which its installer puts on every
 * node, one at a time. Whether that happened is read from the CR's status and, for a reason an earlier run asked
 * for, from the latest revision's pod ConfigMap.
 */
import { Result, Schema } from "effect"
import { type OperandName, operandNames } from "./operands.ts"
import { readLatestAvailableRevision } from "./revisions.ts"

export const redeploymentReasonExpected = "1 to 256 printable ASCII characters, not starting or ending with a blank"

/** A reason as a person types it: printable ASCII, 1 to 256 characters, not starting or ending with a blank. */
export const RedeploymentReason = Schema.String.check(
  Schema.isPattern(/^[\x21-\x7e]([\x20-\x7e]{0,254}[\x21-\x7e])?$/, { expected: redeploymentReasonExpected }),
)

/** The reason a restore's follow-up gives: `recovery-<restore id>`, the same on every rerun, so a rerun forces nothing twice. */
export const recoveryReason = (restoreId: string): string => `recovery-${restoreId}`

/** The merge patch that asks for a new revision. */
export const redeploymentPatch = (reason: string) => ({ spec: { forceRedeploymentReason: reason } }) as const

/**
 * `--operands`: a comma-separated list of operand names, in OpenShift's order of the rollouts (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler) whatever the order given; a name twice, an unknown or an empty one is refused.
 */
export const parseOperandList = (text: string): Result.Result<ReadonlyArray<OperandName>, string> => {
  const names = text.split(",").map((n) => n.trim())
  const unknown = names.find((n) => !(operandNames as ReadonlyArray<string>).includes(n))
  if (unknown !== undefined) return Result.fail(`${JSON.stringify(unknown)} is not an operand: give some of ${operandNames.join(", ")}, comma-separated`)
  if (new Set(names).size !== names.length) return Result.fail(`an operand is named twice in ${JSON.stringify(text)}`)
  return Result.succeed(operandNames.filter((n) => names.includes(n)))
}

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => v !== null && typeof v === "object" && !Array.isArray(v)

/** `spec.forceRedeploymentReason` of an operator CR; "" when absent or not a string (as the operators read it). */
export const redeploymentReasonOf = (cr: unknown): string => {
  const spec = isRecord(cr) ? cr.spec : undefined
  const reason = isRecord(spec) ? spec.forceRedeploymentReason : undefined
  return typeof reason === "string" ? reason : ""
}

/**
 * Whether a revision's pod ConfigMap (`<pod>-<N>`, as read) was made for `reason`: each operator copies its CR's
 * `spec.forceRedeploymentReason` into the pod ConfigMap's `forceRedeploymentReason` key, and the changed ConfigMap is
 * what makes the new revision. So a run that finds the reason already asked can tell whether its revision exists yet.
 */
export const revisionMadeFor = (podConfigMap: unknown, reason: string): boolean => {
  const data = isRecord(podConfigMap) ? podConfigMap.data : undefined
  return isRecord(data) && data.forceRedeploymentReason === reason
}

const revisionField = Schema.optionalKey(Schema.Int)
const NodeStatus = Schema.Struct({
  nodeName: Schema.String,
  currentRevision: revisionField,
  targetRevision: revisionField,
  lastFailedRevision: revisionField,
  lastFailedRevisionErrors: Schema.optionalKey(Schema.Array(Schema.String)),
})
type NodeStatus = typeof NodeStatus.Type
const decodeNodeStatuses = Schema.decodeUnknownResult(Schema.Array(NodeStatus))

/** A node whose installer last failed on the revision being rolled out (the installer tries again). */
export interface FailingNode {
  readonly node: string
  readonly revision: number
  readonly errors: ReadonlyArray<string>
}

export type RolloutProgress =
  | { readonly _tag: "RolledOut"; readonly revision: number; readonly nodes: number }
  | { readonly _tag: "Waiting"; readonly why: string; readonly failing: ReadonlyArray<FailingNode> }

const waiting = (why: string, failing: ReadonlyArray<FailingNode> = []): RolloutProgress => ({ _tag: "Waiting", why, failing })

const nodeWords = (n: NodeStatus): string =>
  `${n.nodeName} at ${n.currentRevision ?? "no revision"}${n.targetRevision === undefined || n.targetRevision === 0 ? "" : `, installing ${n.targetRevision}`}`

/**
 * Whether an operator CR (as read) has rolled out a revision newer than `above` to every node: its
 * `latestAvailableRevision` is past `above` (any, when `above` is undefined: the reason was asked for by an
 * earlier run) and every node's `currentRevision` is that revision. Anything else is a wait, saying for what.
 */
export const rolloutProgress = (cr: unknown, above: number | undefined): RolloutProgress => {
  const latest = readLatestAvailableRevision(cr)
  if (Result.isFailure(latest)) return waiting(`no latestAvailableRevision yet (${latest.failure.problem})`)
  const revision = latest.success
  if (above !== undefined && revision <= above)
    return waiting(`the revision controller has made no revision after ${above} yet (latestAvailableRevision ${revision})`)
  const status = isRecord(cr) && isRecord(cr.status) ? cr.status : {}
  const decoded = decodeNodeStatuses(status.nodeStatuses ?? [])
  if (Result.isFailure(decoded)) return waiting(`status.nodeStatuses does not read as the operator writes it`)
  const nodes = decoded.success
  if (nodes.length === 0) return waiting(`no node statuses yet for revision ${revision}`)
  const behind = nodes.filter((n) => n.currentRevision !== revision)
  if (behind.length === 0) return { _tag: "RolledOut", revision, nodes: nodes.length }
  const failing = behind.filter((n) => n.lastFailedRevision === revision).map((n) => ({ node: n.nodeName, revision, errors: n.lastFailedRevisionErrors ?? [] }))
  return waiting(`${nodes.length - behind.length} of ${nodes.length} nodes at revision ${revision} (${behind.map(nodeWords).join("; ")})`, failing)
}
