/**
 * The demo's recovery: another control-plane host's tree stood down (`stand-down --root`), the first backup restored
 * on a control-plane host's tree (`restore --root`, with the real etcdutl 3.5), then `redeploy` against the simulated API server, whose operators answer a new
 * forceRedeploymentReason with a new revision rolled out node by node (src/simulation/redeployment-controllers.ts).
 * The BackupPolicy is suspended first, as in a recovery: the new revisions must not start backups meanwhile. The loop
 * that stands the other hosts down stands the recovery host down too, and `stand-down --undo` puts it back. After the
 * restore, the mistakes a loop over every control-plane host would make are shown refused: standing the recovery
 * host down, restoring on the host stood down, and pruning what it kept before it rejoined. Once redeployed, `prune-host`
 * gives back the space of what the restore kept on the recovery host.
 */
import { randomUUID } from "node:crypto"
import { dirname, join } from "node:path"
import { Console, Effect, FileSystem, Result } from "effect"
import { podManifestPath, resourceFilePath } from "../../domain/archive-layout.ts"
import type { BackupManifest } from "../../domain/backup-manifest.ts"
import { defaultOperands, operandNames } from "../../domain/operands.ts"
import { recoveryReason } from "../../domain/redeployment.ts"
import { readLatestAvailableRevision } from "../../domain/revisions.ts"
import { makeDirectories } from "../../services/atomic-files.ts"
import { backupPolicyType, operatorTypes } from "../../services/kube/resources.ts"
import { redeploymentControllers } from "../../simulation/redeployment-controllers.ts"
import { childLogLine } from "./child-log-line.ts"
import type { DemoStageContext } from "./demo-stage-context.ts"
import { DemoFailed } from "./demo-wait.ts"
import { runLocalContainer } from "./local-kubelet.ts"

export interface RecoveryContext extends DemoStageContext {
  /** The backup to restore (the demo's first). */
  readonly backupDir: string
  readonly manifest: BackupManifest
  readonly policyName: string
}

export interface RecoverySummary {
  readonly restoreId: string
  /** The restore's last report: `Restore restore-<id> complete: ...`. */
  readonly restored: string
  /** Each operand's new revision on every node, as redeploy reported it. */
  readonly rolledOut: ReadonlyArray<string>
}

const memberName = "master-0"

/** The host as it was before the disaster: its static pods at the cluster's revisions, etcd's data and its records. */
const hostFiles = (manifest: BackupManifest, running: Readonly<Record<string, number>>): ReadonlyArray<readonly [string, string]> => {
  const podYaml = (name: string, revision: number) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  labels:\n    revision: "${revision}"\n`
  const kas = defaultOperands["kube-apiserver"]
  const version = resourceFilePath("kube-apiserver", running["kube-apiserver"]!, "configmap", kas.podConfigMap, "version")
  return [
    ...operandNames.map(
      (o) => [`etc/kubernetes/manifests/${defaultOperands[o].podConfigMap}.yaml`, podYaml(defaultOperands[o].podConfigMap, running[o]!)] as const,
    ),
    // The release the backup recorded (none recorded: the host's is unknown too, and restore says it could not compare).
    ...(Result.isSuccess(version) && manifest.cluster?.openshiftVersion !== undefined
      ? [[`etc/kubernetes/${version.success.path}`, `${manifest.cluster.openshiftVersion}\n`] as const]
      : []),
    [
      "etc/kubernetes/static-pod-resources/etcd-certs/configmaps/etcd-scripts/etcd.env",
      `export NODE_master_0_ETCD_NAME="${memberName}"\nexport NODE_master_0_IP="127.0.0.1"\n`,
    ],
    ["var/lib/etcd/member/snap/db", "the member that ran before the disaster\n"],
    ["var/lib/etcd/revision.json", '{"raftIndex":{"https://127.0.0.1:2380":9000},"maxRaftIndex":9000}\n'],
  ]
}

const completeLine = /^Restore restore-\S+ complete:/

/** Restore's first line (the plan's steps), its `complete` line and the next steps, out of its whole report. */
const restoreReport = (lines: ReadonlyArray<string>) => {
  const complete = lines.findIndex((l) => completeLine.test(l))
  return complete < 0 ? [] : [...lines.filter((l, i) => i < complete && /^Restore restore-/.test(l)), ...lines.slice(complete)]
}

export const runRecoveryStage = (ctx: RecoveryContext) =>
  ctx.stage(
    "after a disaster: the other hosts stand down, one restores, then redeploy",
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const policy = ctx.cluster.get(backupPolicyType, undefined, ctx.policyName)
      if (policy !== undefined) {
        const suspended = ctx.cluster.replace(backupPolicyType, { ...policy, spec: { ...(policy.spec as object), suspend: true } })
        if (Result.isFailure(suspended)) return yield* new DemoFailed({ stage: "recovery", message: `suspending the policy: ${suspended.failure.message}` })
        yield* ctx.say(`BackupPolicy ${ctx.policyName} suspended for the recovery`)
      }
      const host = join(ctx.work, "host")
      const otherHost = join(ctx.work, "other-host")
      const running = Object.fromEntries(
        operandNames.map((o) => [
          o,
          Result.getOrElse(readLatestAvailableRevision(ctx.cluster.get(operatorTypes[o], undefined, "cluster")), () => ctx.manifest.revisions.requested[o]),
        ]),
      )
      for (const tree of [host, otherHost]) {
        for (const [path, text] of hostFiles(ctx.manifest, running)) {
          yield* makeDirectories(dirname(join(tree, path)), 0o755).pipe(Effect.orDie)
          yield* fs.writeFileString(join(tree, path), text, { mode: 0o600 }).pipe(Effect.orDie)
        }
      }

      // First, every other control-plane host stands down.
      const standDownArgs = ["stand-down", "--root", otherHost]
      yield* ctx.say(`on another control-plane host first: cluster-backup ${standDownArgs.join(" ").replaceAll(ctx.work, "<work>")}`)
      const standDownLines: Array<string> = []
      const stood = yield* Effect.exit(runLocalContainer("stand-down", ctx.entry, standDownArgs, {}, (line) => standDownLines.push(line), "lines"))
      const stoodDown = standDownLines.filter((l) => /^Stand-down stand-down-\S+ complete:/.test(l))
      for (const line of stood._tag === "Failure" || stoodDown.length === 0 ? standDownLines.slice(-10) : stoodDown)
        yield* Console.log(`    stand-down | ${line.replaceAll(ctx.work, "<work>")}`)
      const keptThere = yield* fs.exists(join(otherHost, "var", "lib", "etcd-backup", "member")).pipe(Effect.orElseSucceed(() => false))
      const stillRunning = yield* fs
        .readDirectory(join(otherHost, "etc", "kubernetes", "manifests"))
        .pipe(Effect.orElseSucceed((): ReadonlyArray<string> => ["?"]))
      if (stood._tag === "Failure" || stoodDown.length === 0 || !keptThere || stillRunning.length > 0)
        return yield* new DemoFailed({ stage: "recovery", message: "the other host did not stand down: its pods stopped and etcd's member kept" })

      // A loop over every control-plane host stands the recovery host down too: called off there, before the restore.
      for (const [args, shown, done] of [
        [["stand-down", "--root", host], "by mistake, the loop stood the recovery host down too", /^Stand-down stand-down-\S+ complete:/],
        [["stand-down", "--undo", "--root", host], "called off there, before the restore", /^Stand-down undone: \d+ moves back\./],
      ] as const) {
        yield* ctx.say(`${shown}: cluster-backup ${args.join(" ").replaceAll(ctx.work, "<work>")}`)
        const lines: Array<string> = []
        const ran = yield* Effect.exit(runLocalContainer(args[0], ctx.entry, args, {}, (line) => lines.push(line), "lines"))
        const reported = lines.find((l) => done.test(l))
        if (ran._tag === "Failure" || reported === undefined) {
          for (const line of lines.slice(-10)) yield* Console.log(`    ${args.slice(0, -2).join(" ")} | ${line.replaceAll(ctx.work, "<work>")}`)
          return yield* new DemoFailed({ stage: "recovery", message: `${args.slice(0, -2).join(" ")} on the recovery host did not complete` })
        }
        yield* Console.log(`    ${args.slice(0, -2).join(" ")} | ${reported.replaceAll(ctx.work, "<work>")}`)
      }
      const backInPlace = yield* Effect.all(
        [
          join("var", "lib", "etcd", "member"),
          ...operandNames.map((o) => join("etc", "kubernetes", "manifests", `${defaultOperands[o].podConfigMap}.yaml`)),
        ].map((path) => fs.exists(join(host, path)).pipe(Effect.orElseSucceed(() => false))),
      )
      const recordLeft = yield* fs.exists(join(host, "var", "lib", "etcd-backup", "stood-down.json")).pipe(Effect.orElseSucceed(() => true))
      if (backInPlace.includes(false) || recordLeft)
        return yield* new DemoFailed({
          stage: "recovery",
          message: "stand-down --undo did not put the recovery host back: etcd's member, the four manifests, no record",
        })
      yield* ctx.say("the recovery host is as it was: etcd's member and the four manifests back in place, the stand-down's record removed")
      const copyBackupInto = (tree: string) =>
        Effect.gen(function* () {
          const copied = join(tree, "home", "core", "backup")
          yield* makeDirectories(copied).pipe(Effect.orDie)
          for (const name of (yield* fs.readDirectory(ctx.backupDir).pipe(Effect.orDie)).filter((n) => !n.startsWith(".")))
            yield* fs.copyFile(join(ctx.backupDir, name), join(copied, name)).pipe(Effect.orDie)
          return copied
        })
      const copied = yield* copyBackupInto(host)
      yield* ctx.say(`a control-plane host's tree in <work>/host: its static pods, etcd's member and revision.json; the backup copied to /home/core/backup`)

      const restoreId = randomUUID()
      const restoreLines: Array<string> = []
      const restoreArgs = ["restore", copied, "--root", host, "--member-name", memberName, "--restore-id", restoreId]
      yield* ctx.say(`restore: cluster-backup ${restoreArgs.join(" ").replaceAll(ctx.work, "<work>")}`)
      const restored = yield* Effect.exit(runLocalContainer("restore", ctx.entry, restoreArgs, {}, (line) => restoreLines.push(line), "lines"))
      const report = restoreReport(restoreLines)
      for (const line of report) yield* Console.log(`    restore | ${line.replaceAll(ctx.work, "<work>")}`)
      if (restored._tag === "Failure" || report.length === 0) {
        for (const line of restoreLines.slice(-10)) yield* Console.log(`    restore | ${line.replaceAll(ctx.work, "<work>")}`)
        return yield* new DemoFailed({ stage: "recovery", message: "the restore on the host tree failed" })
      }
      // What the restore left on the host, read back rather than taken from its report.
      const revisions = ctx.manifest.revisions.requested
      const notInstalled: Array<string> = []
      for (const o of operandNames) {
        const installed = yield* fs.readFileString(join(host, "etc", "kubernetes", "manifests", `${defaultOperands[o].podConfigMap}.yaml`)).pipe(Effect.option)
        const fromBackup = yield* fs.readFileString(join(host, "etc", "kubernetes", podManifestPath(o, revisions[o]))).pipe(Effect.option)
        if (installed._tag === "None" || fromBackup._tag === "None" || installed.value !== fromBackup.value) notInstalled.push(o)
      }
      const db = yield* fs.stat(join(host, "var", "lib", "etcd", "member", "snap", "db")).pipe(Effect.option)
      const kept = yield* fs.readDirectory(join(host, "var", "lib", "etcd-backup")).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
      const keptMembers = kept.filter((n) => n === "member" || n.startsWith("member."))
      if (notInstalled.length > 0 || db._tag === "None" || keptMembers.length === 0)
        return yield* new DemoFailed({
          stage: "recovery",
          message: `the host tree does not hold what the restore reported: the backup's pod manifests (${notInstalled.join(", ") || "all there"}), the restored member, the kept one`,
        })
      yield* ctx.say(
        `/var/lib/etcd/member: the restored member (${Number(db.value.size)} bytes of database); the one before it kept as /var/lib/etcd-backup/${keptMembers[0]}`,
      )
      yield* ctx.say(
        `/etc/kubernetes/manifests: ${operandNames.map((o) => `${o} ${revisions[o]}`).join(", ")}, the backup's revisions, as the kubelet would start them; the pods before kept in manifests-stopped`,
      )

      // What a loop over every control-plane host would do next, each refused with nothing changed.
      const mistakes = [
        {
          what: "stand-down on the recovery host",
          args: ["stand-down", "--root", host],
          refusal: /this is the recovery host: restore-\S+ put the restored member/,
        },
        {
          what: "a restore on the host stood down",
          args: ["restore", yield* copyBackupInto(otherHost), "--root", otherHost, "--member-name", memberName, "--dry-run"],
          refusal: /this host was stood down \(stand-down-[^)]+\) for a restore on another host/,
        },
        {
          what: "prune-host on the host stood down, before it rejoined",
          args: ["prune-host", "--root", otherHost, "--older-than", "0"],
          refusal: /\/var\/lib\/etcd\/member is missing: etcd has no member on this host/,
        },
      ]
      for (const mistake of mistakes) {
        yield* ctx.say(`by mistake, ${mistake.what}: cluster-backup ${mistake.args.join(" ").replaceAll(ctx.work, "<work>")}`)
        const lines: Array<string> = []
        const ran = yield* Effect.exit(runLocalContainer(mistake.args[0]!, ctx.entry, mistake.args, {}, (line) => lines.push(line), "lines"))
        const refused = lines.find((l) => mistake.refusal.test(l))
        if (ran._tag === "Success" || refused === undefined) {
          for (const line of lines.slice(-10)) yield* Console.log(`    ${mistake.args[0]} | ${line.replaceAll(ctx.work, "<work>")}`)
          return yield* new DemoFailed({ stage: "recovery", message: `${mistake.what} was not refused` })
        }
        yield* Console.log(`    ${mistake.args[0]} | refused: ${mistake.refusal.exec(refused)![0].replaceAll(ctx.work, "<work>")} ...`)
      }

      const controllers = redeploymentControllers(ctx.cluster, ctx.fixture)
      controllers.start(100)
      yield* Effect.addFinalizer(() => Effect.sync(() => controllers.stop()))
      const rolledOut: Array<string> = []
      const redeployArgs = ["redeploy", "--kubeconfig", ctx.kubeconfig, "--reason", recoveryReason(restoreId), "--poll-interval", "200ms", "--timeout", "60s"]
      yield* ctx.say(`once the API answers: cluster-backup ${redeployArgs.join(" ").replaceAll(ctx.work, "<work>")}`)
      const lines: Array<string> = []
      const redeployed = yield* Effect.exit(
        runLocalContainer(
          "redeploy",
          ctx.entry,
          ["--log-format", "json", ...redeployArgs],
          {},
          (line) => {
            const shown = childLogLine(line)
            lines.push(shown)
            if (/ is on all \d+ nodes$/.test(shown)) rolledOut.push(shown)
          },
          "lines",
        ),
      )
      for (const line of lines) yield* Console.log(`    redeploy | ${line}`)
      if (redeployed._tag === "Failure") {
        const why = controllers.failure()
        return yield* new DemoFailed({
          stage: "recovery",
          message: `redeploy did not roll out every operand${why === undefined ? "" : ` (the simulated operators stopped: ${why})`}`,
        })
      }

      // Healthy again: the space of what the restore kept is given back (a person would wait for a verified backup, and --older-than's 7 days).
      const pruneArgs = ["prune-host", "--root", host, "--older-than", "0"]
      yield* ctx.say(`once the cluster is healthy again: cluster-backup ${pruneArgs.join(" ").replaceAll(ctx.work, "<work>")}`)
      const pruneLines: Array<string> = []
      const pruned = yield* Effect.exit(runLocalContainer("prune-host", ctx.entry, pruneArgs, {}, (line) => pruneLines.push(line), "lines"))
      const prunedLine = pruneLines.find((l) => /^prune-host: removed \d+ of \d+ kept entries/.test(l))
      const keptAfter = yield* fs.readDirectory(join(host, "var", "lib", "etcd-backup")).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => ["?"]))
      if (pruned._tag === "Failure" || prunedLine === undefined || keptAfter.join(",") !== "restored-member.json") {
        for (const line of pruneLines.slice(-10)) yield* Console.log(`    prune-host | ${line.replaceAll(ctx.work, "<work>")}`)
        return yield* new DemoFailed({ stage: "recovery", message: "prune-host did not remove what the restore kept, the record aside" })
      }
      yield* Console.log(`    prune-host | ${prunedLine.replace(/\.$/, "")}; /var/lib/etcd-backup holds only restored-member.json`)
      return { restoreId, restored: report.find((l) => completeLine.test(l)) ?? "", rolledOut } satisfies RecoverySummary
    }).pipe(Effect.scoped),
  )
