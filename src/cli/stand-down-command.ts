import { randomUUID } from "node:crypto"
import { Effect, Layer, Option } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { restoreIdPattern } from "../domain/host-layout.ts"
import { evenOnRecoveryHostFlag } from "../domain/restored-member-record.ts"
import { checkedWith } from "./flag-checks.ts"
import { hostRootFlag, planDryRunFlag } from "./host-root-flags.ts"
import { withLogging } from "./logging.ts"

export const standDownCommand = Command.make(
  "stand-down",
  {
    root: hostRootFlag("every host path of the stand-down is under it"),
    dryRun: planDryRunFlag(""),
    evenOnRecoveryHost: Flag.Boolean(evenOnRecoveryHostFlag).pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "Stand this host down although a restore put etcd's member in place here and it is still the member (/var/lib/etcd-backup/restored-member.json): only when a new restore is to run on another host",
      ),
    ),
    undo: Flag.Boolean("undo").pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "Put this host back as it was before its stand-down (the recovery called off): etcd's member, its revision.json, then etcd's manifest, then the other three, each the entry the stand-down's record names (else what arrived last in /var/lib/etcd-backup and manifests-stopped) and only where its place is free, then the record removed; refused where that cannot be told",
      ),
    ),
    standDownId: Flag.String("stand-down-id").pipe(
      checkedWith((text) => (restoreIdPattern.test(text) ? undefined : "a UUID like 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")),
      Flag.optional,
      Flag.withMetavar("UUID"),
      Flag.withDescription("Names what this run moves where an earlier run took the usual name (default: a random UUID)"),
    ),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        if (flags.undo && (Option.isSome(flags.standDownId) || flags.evenOnRecoveryHost)) {
          const [option, value] = Option.isSome(flags.standDownId) ? ["stand-down-id", flags.standDownId.value] : [evenOnRecoveryHostFlag, "true"]
          return yield* new CliError.ShowHelp({
            commandPath: ["cluster-backup", "stand-down"],
            errors: [
              new CliError.InvalidValue({
                option,
                value,
                expected: "not beside --undo: it is for a stand-down, which --undo reverses",
                kind: "flag",
              }),
            ],
          })
        }
        if (flags.undo) {
          const [{ undoStandDown }, { DurableFiles }] = yield* Effect.promise(() =>
            Promise.all([import("../programs/restore/stand-down-undo.ts"), import("../services/durable-files.ts")]),
          )
          yield* undoStandDown({ root: flags.root, dryRun: flags.dryRun, output: (text) => Effect.sync(() => void process.stdout.write(text)) }).pipe(
            Effect.provide(DurableFiles.live),
          )
          return
        }
        const [{ standDown }, { DiskSpace }, { DurableFiles }, { HostProcesses }, { Etcdutl }, { Tarball }] = yield* Effect.promise(() =>
          Promise.all([
            import("../programs/restore/stand-down.ts"),
            import("../services/disk-space.ts"),
            import("../services/durable-files.ts"),
            import("../services/host-processes.ts"),
            import("../services/etcdutl.ts"),
            import("../services/tarball/tarball.ts"),
          ]),
        )
        yield* standDown({
          root: flags.root,
          dryRun: flags.dryRun,
          evenOnRecoveryHost: flags.evenOnRecoveryHost,
          standDownId: Option.getOrElse(flags.standDownId, () => randomUUID()),
          output: (text) => Effect.sync(() => void process.stdout.write(text)),
        }).pipe(Effect.provide(Layer.mergeAll(DiskSpace.live, DurableFiles.live, HostProcesses.live, Etcdutl.live(), Tarball.live)))
      }),
    ),
).pipe(
  Command.withDescription(
    "On every control-plane host other than the recovery host, before `restore` runs there (OpenShift's procedure does this by hand): stop kube-apiserver, kube-controller-manager, kube-scheduler and etcd (their manifests moved to /etc/kubernetes/manifests-stopped), wait until they are gone, and move etcd's member and revision.json into /var/lib/etcd-backup. --dry-run prints exactly the steps a real run performs and refuses as it would. Refused on the recovery host of a restore while the member it put in place is etcd's (--even-on-recovery-host). Nothing is deleted; run it again after an interruption and it continues. --undo puts the host back as it was when the recovery is called off.",
  ),
)
