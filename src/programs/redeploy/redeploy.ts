/**
 * After a restore: each operand's operator is asked for a new revision (`spec.forceRedeploymentReason`), in
 * OpenShift's order, and, unless told not to wait, each rollout is followed until every node runs the new revision
 * before the next operand is asked. A CR already holding the reason was asked by an earlier run of the same recovery
 * (interrupted, or run again): it is not asked twice, its rollout is followed.
 */
import { Clock, Effect, Schedule, Schema } from "effect"
import type { OperandName } from "../../domain/operands.ts"
import { type RolloutProgress, redeploymentPatch, redeploymentReasonOf, rolloutProgress } from "../../domain/redeployment.ts"
import { readLatestAvailableRevision } from "../../domain/revisions.ts"
import { Kube } from "../../services/kube/kube.ts"

export class RolloutNotFinished extends Schema.TaggedError<RolloutNotFinished>()("RolloutNotFinished", {
  operand: Schema.String,
  reason: Schema.String,
  waitedSeconds: Schema.Number,
  /** What the rollout was waiting for when the time ran out. */
  last: Schema.String,
  message: Schema.String,
}) {}

export interface RedeployOptions {
  /** In the order to roll them out. */
  readonly operands: ReadonlyArray<OperandName>
  readonly reason: string
  readonly wait: boolean
  /** How long each operand's rollout may take. */
  readonly timeoutMs: number
  readonly pollMs: number
  readonly output: (line: string) => Effect.Effect<void>
}

/** The API is briefly unreachable while kube-apiserver rolls out node by node: a read that times out is waited through. */
const passing = new Set(["Unavailable", "Timeout"])

const failingWords = (p: RolloutProgress) =>
  p._tag === "Waiting" && p.failing.length > 0
    ? `; the installer failed on ${p.failing.map((f) => `${f.node}${f.errors.length === 0 ? "" : ` (${f.errors.join("; ")})`}`).join(", ")} and tries again`
    : ""

const followRollout = (operand: OperandName, above: number | undefined, options: RedeployOptions) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const started = yield* Clock.currentTimeMillis
    let told = ""
    for (;;) {
      const read = yield* kube.operators.get(operand).pipe(
        Effect.map((cr) => rolloutProgress(cr, above)),
        Effect.catchIf(
          (e) => passing.has(e._tag),
          (e) => Effect.succeed<RolloutProgress>({ _tag: "Waiting", why: `the API did not answer (${e.message})`, failing: [] }),
        ),
      )
      if (read._tag === "RolledOut") {
        yield* options.output(`${operand}: revision ${read.revision} is on all ${read.nodes} nodes`)
        return read
      }
      const words = `${read.why}${failingWords(read)}`
      if (words !== told) yield* options.output(`${operand}: waiting: ${words}`)
      told = words
      const waited = (yield* Clock.currentTimeMillis) - started
      if (waited >= options.timeoutMs) {
        return yield* new RolloutNotFinished({
          operand,
          reason: options.reason,
          waitedSeconds: Math.round(waited / 1000),
          last: words,
          message: `${operand} has not rolled out a new revision for forceRedeploymentReason ${JSON.stringify(options.reason)} within ${Math.round(waited / 1000)} s (${words}): check its operator (oc get co ${operand}, its NodeInstaller conditions), then run the same command again to go on waiting`,
        })
      }
      yield* Effect.sleep(options.pollMs)
    }
  })

/**
 * Asks one operand's operator for a new revision unless the CR already holds the reason; the revision to roll out
 * past. An API that does not answer (the operand before restarting) is asked again every poll, for up to the timeout.
 */
const ask = (operand: OperandName, options: RedeployOptions) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const cr = yield* kube.operators.get(operand)
    if (redeploymentReasonOf(cr) === options.reason) {
      yield* options.output(`${operand}: forceRedeploymentReason is already ${JSON.stringify(options.reason)} (an earlier run asked): following its rollout`)
      return undefined
    }
    const latest = readLatestAvailableRevision(cr)
    const above = latest._tag === "Success" ? latest.success : undefined
    yield* kube.operators.patch(operand, redeploymentPatch(options.reason))
    yield* options.output(
      `${operand}: forceRedeploymentReason set to ${JSON.stringify(options.reason)}${above === undefined ? "" : ` (latest revision ${above})`}: its operator makes a new revision`,
    )
    return above
  }).pipe(
    Effect.tapError((e) => (passing.has(e._tag) ? options.output(`${operand}: waiting: the API did not answer (${e.message}): asking again`) : Effect.void)),
    Effect.retry({ schedule: Schedule.spaced(options.pollMs).pipe(Schedule.upTo({ duration: options.timeoutMs })), while: (e) => passing.has(e._tag) }),
  )

export const redeploy = Effect.fn("redeploy")(function* (options: RedeployOptions) {
  for (const operand of options.operands) {
    const above = yield* ask(operand, options)
    if (options.wait) yield* followRollout(operand, above, options)
  }
  yield* options.output(
    options.wait
      ? `every operand asked (${options.operands.join(", ")}) runs a new revision on every node`
      : `asked for new revisions of ${options.operands.join(", ")} without waiting: follow them with oc get co`,
  )
})
