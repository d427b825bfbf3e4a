import { hostname } from "node:os"
import { Effect, Layer, Option } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { defaultMinIntervalMs, defaultSettleMs } from "../domain/controller-decision.ts"
import { defaultElectionTimings, electionTimingsProblem, type ElectionTimings } from "../domain/leader-election.ts"
import { dnsSubdomainProblem } from "../domain/k8s-names.ts"
import { decodeBackupPodOptions } from "../domain/backup-pod-options.ts"
import { proxyEnvOf } from "../domain/pod-proxy-env.ts"
import { defaultSyncBackoff, syncBackoffProblem, type SyncBackoff } from "../domain/sync-backoff.ts"
import { formatDuration } from "../domain/durations.ts"
import { durationFlag } from "./duration-flag.ts"
import { checkedWith, intInRange, nonEmpty, port } from "./flag-checks.ts"
import { backupPodHistoryDefaults } from "../domain/backup-pod-history.ts"
import { kubeFlags, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"
import { operandResourcesFileFlag, tableFromFile } from "./operand-resources-flags.ts"
import { stopsGracefullyOnSigterm } from "./shutdown.ts"
import { podOptionFlags, podOptionsFromFlagsChecked, policyUploadFromFlags } from "./pod-option-flags.ts"

const timingFlags = { renewDeadline: "renew-deadline", retryPeriod: "retry-period" } as const

/** Timings that contradict each other are a usage error (exit 2) naming the flag, like any bad flag value. */
const timingsUsable = (timings: ElectionTimings) => {
  const problem = electionTimingsProblem(timings)
  if (problem === undefined) return Effect.void
  const value = problem.setting === "renewDeadline" ? timings.renewDeadlineMs : timings.retryPeriodMs
  return Effect.fail(
    new CliError.ShowHelp({
      commandPath: ["cluster-backup", "operator"],
      errors: [new CliError.InvalidValue({ option: timingFlags[problem.setting], value: `${value / 1000}s`, expected: problem.message, kind: "flag" })],
    }),
  )
}

/** A maximum backoff below the first delay is a usage error (exit 2) naming --backoff-max. */
const backoffUsable = (backoff: SyncBackoff) => {
  const problem = syncBackoffProblem(backoff)
  if (problem === undefined) return Effect.void
  return Effect.fail(
    new CliError.ShowHelp({
      commandPath: ["cluster-backup", "operator"],
      errors: [new CliError.InvalidValue({ option: "backoff-max", value: formatDuration(backoff.maxBackoffMs), expected: problem, kind: "flag" })],
    }),
  )
}

export const operatorCommand = Command.make(
  "operator",
  {
    ...kubeFlags,
    operandResources: operandResourcesFileFlag,
    ...podOptionFlags,
    // "1" meant as an hour would render a backup for every settled change.
    minInterval: durationFlag("min-interval", 0, defaultMinIntervalMs, "Least time between two rendered backups (e.g. 1h)", {
      unitRequired: ["1h", "30m", "2h"],
    }),
    settle: durationFlag("settle", 0, defaultSettleMs, "Revisions must stay unchanged this long before they are rendered (coalesces rollouts)"),
    resync: durationFlag("resync", 1000, 600_000, "Reconcile at least this often without events"),
    backoffInitial: durationFlag(
      "backoff-initial",
      10,
      defaultSyncBackoff.minBackoffMs,
      "After a failed sync, wait this long before the next (doubling, jittered, up to --backoff-max)",
    ),
    backoffMax: durationFlag("backoff-max", 10, defaultSyncBackoff.maxBackoffMs, "Longest wait between failed syncs; at least --backoff-initial"),
    // At least 1: backup-status reads the newest ended pod.
    successfulPodsHistoryLimit: Flag.Int("successful-pods-history-limit").pipe(
      intInRange({ min: 1, max: 1000 }),
      Flag.withDefault(backupPodHistoryDefaults.successful),
      Flag.withDescription(
        "Pods made from cluster-backup-pod that Succeeded (their hold over) kept; older ones are deleted (a BackupPolicy's pods follow its spec)",
      ),
    ),
    failedPodsHistoryLimit: Flag.Int("failed-pods-history-limit").pipe(
      intInRange({ min: 1, max: 1000 }),
      Flag.withDefault(backupPodHistoryDefaults.failed),
      Flag.withDescription("Pods made from cluster-backup-pod that Failed kept, for their logs; older ones are deleted"),
    ),
    metricsPort: Flag.Int("metrics-port").pipe(
      port({ anyPort: true }),
      Flag.withDefault(8080),
      Flag.withDescription("Port of /healthz, /readyz and /metrics (0: any free port)"),
    ),
    leaseName: Flag.String("lease-name").pipe(
      // A name the API server refuses would leave the replica standing by for ever (every create of the Lease fails).
      checkedWith((name) => {
        const problem = dnsSubdomainProblem(name)
        return problem === undefined ? undefined : `a Lease name (${problem})`
      }),
      Flag.withDefault("cluster-backup-operator"),
      Flag.withDescription("Name of the leader-election Lease (in --namespace)"),
    ),
    // Never empty: an empty holder is how a released Lease reads, which any other replica may take while this one renews it.
    identity: Flag.String("identity").pipe(
      nonEmpty("Lease holder identity"),
      Flag.optional,
      Flag.withDescription("This replica's name in the Lease (default: $POD_NAME, else the host name)"),
    ),
    leaseDuration: durationFlag(
      "lease-duration",
      1000,
      defaultElectionTimings.leaseDurationMs,
      "How long the Lease stays valid after the leader's last renewal: a standby takes over a dead leader after this (OpenShift operators: 137s)",
    ),
    renewDeadline: durationFlag(
      "renew-deadline",
      1000,
      defaultElectionTimings.renewDeadlineMs,
      "A leader that could not renew for this long stops acting; shorter than --lease-duration",
    ),
    retryPeriod: durationFlag(
      "retry-period",
      1000,
      defaultElectionTimings.retryPeriodMs,
      "How often the leader renews the Lease and standbys try to take it; shorter than --renew-deadline",
    ),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const timings: ElectionTimings = { leaseDurationMs: flags.leaseDuration, renewDeadlineMs: flags.renewDeadline, retryPeriodMs: flags.retryPeriod }
        yield* timingsUsable(timings)
        const backoff: SyncBackoff = { minBackoffMs: flags.backoffInitial, maxBackoffMs: flags.backoffMax }
        yield* backoffUsable(backoff)
        // Before the cluster is contacted: a usage error is one whatever the cluster says.
        // The cluster-wide proxy OLM/CVO put in the operator's environment reaches the store's client in the pods.
        const proxyEnv = proxyEnvOf(process.env)
        const podOptionsGiven = { ...(yield* podOptionsFromFlagsChecked(flags, "operator")), ...(Object.keys(proxyEnv).length === 0 ? {} : { proxyEnv }) }
        // Loaded on use: the controller and its clients stay out of other commands' processes.
        const [{ startController }, { defaultReconcileConfig }, { ControllerMetrics }, { serveHealth }] = yield* Effect.promise(() =>
          Promise.all([
            import("../programs/operator/controller.ts"),
            import("../programs/operator/reconcile.ts"),
            import("../services/controller-metrics.ts"),
            import("../services/health-server.ts"),
          ]),
        )
        return yield* Effect.scoped(
          Effect.gen(function* () {
            yield* stopsGracefullyOnSigterm
            const podOptions = yield* Effect.fromResult(decodeBackupPodOptions(podOptionsGiven))
            const table = yield* tableFromFile(flags.operandResources)
            const podName = process.env.POD_NAME?.trim() ?? ""
            const identity = Option.getOrElse(flags.identity, () => (podName === "" ? hostname() : podName))
            const handle = yield* startController({
              reconcile: defaultReconcileConfig({
                namespace: flags.namespace,
                podOptions,
                policyUpload: policyUploadFromFlags(flags),
                minIntervalMs: flags.minInterval,
                settleMs: flags.settle,
                podHistory: { successful: flags.successfulPodsHistoryLimit, failed: flags.failedPodsHistoryLimit },
                identity,
                table,
              }),
              election: { namespace: flags.namespace, leaseName: flags.leaseName, identity, ...timings },
              resyncMs: flags.resync,
              ...backoff,
            })
            const metrics = yield* ControllerMetrics
            const port = yield* serveHealth({ ready: handle.ready, metrics: () => Effect.runPromise(metrics.expose) }, flags.metricsPort)
            yield* Effect.logInfo(`operator ${identity} running in ${flags.namespace}; /healthz, /readyz, /metrics on port ${port}`)
            return yield* Effect.never
          }),
        ).pipe(Effect.provide(Layer.merge(liveKubeLayer(flags), ControllerMetrics.live(flags.namespace))))
      }),
    ),
).pipe(
  Command.withDescription(
    "Run the BackupConfigController: keep ConfigMap cluster-backup-pod rendered for the operands' current revisions and backup-status in step with the backup pods (leader-elected; SIGTERM finishes the current sync and releases the Lease).",
  ),
)
