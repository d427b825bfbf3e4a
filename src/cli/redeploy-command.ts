import { Clock, Effect, Option, Result, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { operandNames } from "../domain/operands.ts"
import { parseOperandList, RedeploymentReason, redeploymentReasonExpected } from "../domain/redeployment.ts"
import { durationFlag } from "./duration-flag.ts"
import { checkedWith } from "./flag-checks.ts"
import { kubeFlags, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"

const isReason = Schema.is(RedeploymentReason)

export const redeployCommand = Command.make(
  "redeploy",
  {
    ...kubeFlags,
    reason: Flag.String("reason").pipe(
      checkedWith((text) => (isReason(text) ? undefined : redeploymentReasonExpected)),
      Flag.optional,
      Flag.withDescription(
        "The forceRedeploymentReason to set (default: recovery-<the time now>); restore prints the command with recovery-<restore id>, which a rerun finds already set and does not ask for again",
      ),
    ),
    operands: Flag.String("operands").pipe(
      checkedWith((text) => Result.match(parseOperandList(text), { onFailure: (problem) => problem, onSuccess: () => undefined })),
      Flag.withDefault(operandNames.join(",")),
      Flag.withDescription("The operands to roll out, comma-separated; always in the order etcd, kube-apiserver, kube-controller-manager, kube-scheduler"),
    ),
    noWait: Flag.Boolean("no-wait").pipe(
      Flag.withoutNegation,
      Flag.withDefault(false),
      Flag.withDescription("Ask every operand at once and exit, instead of each after the one before is on every node"),
    ),
    timeout: durationFlag("timeout", 1000, 60 * 60 * 1000, "How long each operand's rollout may take before the command fails (default 1h)"),
    pollInterval: durationFlag("poll-interval", 100, 10_000, "How often each rollout is read (default 10s)"),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const { redeploy } = yield* Effect.promise(() => import("../programs/redeploy/redeploy.ts"))
        const operands = Result.getOrThrow(parseOperandList(flags.operands))
        const now = yield* Clock.currentTimeMillis
        const reason = Option.getOrElse(flags.reason, () => `recovery-${new Date(now).toISOString()}`)
        yield* redeploy({
          operands,
          reason,
          wait: !flags.noWait,
          timeoutMs: flags.timeout,
          pollMs: flags.pollInterval,
          output: (line) => Effect.sync(() => void process.stdout.write(`${line}\n`)),
        }).pipe(Effect.provide(liveKubeLayer(flags)))
      }),
    ),
).pipe(
  Command.withDescription(
    "After a restore, once the API answers: make each operator roll out a new revision (spec.forceRedeploymentReason, as OpenShift's recovery procedure does by hand with oc patch), etcd first, then kube-apiserver, kube-controller-manager and kube-scheduler, each once the one before runs its new revision on every node. Run it again with the same --reason after an interruption: an operand that already holds the reason is not asked twice, its rollout is followed. Exits non-zero when a rollout does not finish within --timeout.",
  ),
)
