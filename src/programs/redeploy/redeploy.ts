/**
 * After a restore: each operand's operator is asked for a new revision (`spec.forceRedeploymentReason`), in
 * OpenShift's order, and, unless told not to wait, each rollout is followed until every node runs the new revision
 * before the next operand is asked. A CR already holding the reason was asked by an earlier run of the same recovery
 * (interrupted, or run again): it is not asked twice, its rollout is followed.
 */
import { Clock, Effect, Schedule, Schema } from "effect"
import { defaultOperands, type OperandName, type OperandTable } from "../../domain/operands.ts"
import { type RolloutProgress, redeploymentPatch, redeploymentReasonOf, revisionMadeFor, rolloutProgress } from "../../domain/redeployment.ts"
import { OperatorCrMissing, operandCrReference, readLatestAvailableRevision } from "../../domain/revisions.ts"
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
  /** Where each operand's revisions are (default: current OpenShift's). */
  readonly table?: OperandTable | undefined
}

/** The API is briefly unreachable while kube-apiserver rolls out node by node: a request it does not answer is waited through. */
const passing = new Set(["Unavailable", "Timeout"])

const failingWords = (p: RolloutProgress) =>
  p._tag === "Waiting" && p.failing.length > 0
    ? `; the installer failed on ${p.failing.map((f) => `${f.node}${f.errors.length === 0 ? "" : ` (${f.errors.join("; ")})`}`).join(", ")} and tries again`
    : ""

/**
 * `effect` asked again every poll, up to the timeout, while the API does not answer (the operand before restarting);
 * said once per distinct failure, not at every try.
 */
const throughOutages =
  (label: string, options: RedeployOptions) =>
  <A, E extends { readonly _tag: string; readonly message: string }, R>(effect: Effect.Effect<A, E, R>) => {
    let told = ""
    return effect.pipe(
      Effect.tapError((e) => {
        const words = `${label}: waiting: the API did not answer (${e.message}): asking again every ${options.pollMs / 1000} s`
        if (!passing.has(e._tag) || words === told) return Effect.void
        told = words
        return options.output(words)
      }),
      Effect.retry({ schedule: Schedule.spaced(options.pollMs).pipe(Schedule.upTo({ duration: options.timeoutMs })), while: (e) => passing.has(e._tag) }),
    )
  }

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
 * The reason was asked for by an earlier run: the revision to roll out past is the latest unless the latest was made
 * for the reason already (its pod ConfigMap holds it), in which case that latest is the one to follow.
 */
const askedBefore = (operand: OperandName, latest: number | undefined, options: RedeployOptions) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const said = `${operand}: forceRedeploymentReason is already ${JSON.stringify(options.reason)} (an earlier run asked)`
    if (latest === undefined) {
      yield* options.output(`${said}: following its rollout`)
      return undefined
    }
    const { namespace, podConfigMap } = (options.table ?? defaultOperands)[operand]
    const revisionPod = yield* kube.configMaps.get(namespace, `${podConfigMap}-${latest}`).pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
    if (revisionPod === undefined || revisionMadeFor(revisionPod, options.reason)) {
      yield* options.output(`${said}: following the rollout of revision ${latest}`)
      return latest - 1
    }
    yield* options.output(`${said}: its operator has made no revision for it yet (revision ${latest} is of an earlier reason)`)
    return latest
  })

/**
 * Asks one operand's operator for a new revision unless the CR already holds the reason; the revision to roll out
 * past. An API that does not answer (the operand before restarting) is asked again every poll, for up to the timeout.
 */
const ask = (operand: OperandName, options: RedeployOptions) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const cr = yield* kube.operators.get(operand)
    const latest = readLatestAvailableRevision(cr)
    const above = latest._tag === "Success" ? latest.success : undefined
    if (redeploymentReasonOf(cr) === options.reason) return yield* askedBefore(operand, above, options)
    yield* kube.operators.patch(operand, redeploymentPatch(options.reason))
    yield* options.output(
      `${operand}: forceRedeploymentReason set to ${JSON.stringify(options.reason)}${above === undefined ? "" : ` (latest revision ${above})`}: its operator makes a new revision`,
    )
    return above
  }).pipe(throughOutages(operand, options))

/** Every operand's CR is there before any is asked: a missing one would otherwise be found after the rollouts before it. */
const allCrsPresent = (options: RedeployOptions) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    yield* Effect.forEach(options.operands, (operand) =>
      kube.operators.get(operand).pipe(
        Effect.catchTag("NotFound", () => {
          const cr = operandCrReference(operand, options.table ?? defaultOperands)
          return Effect.fail(
            new OperatorCrMissing({
              operand,
              cr,
              message: `${cr} does not exist: the kubeconfig names a cluster without OpenShift's ${operand} operator (or the wrong cluster); nothing was asked`,
            }),
          )
        }),
      ),
    )
  }).pipe(throughOutages("the operator CRs", options))

export const redeploy = Effect.fn("redeploy")(function* (options: RedeployOptions) {
  yield* allCrsPresent(options)
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
