import { randomUUID } from "node:crypto"
import { isIP } from "node:net"
import { join, resolve } from "node:path"
import { Effect, FileSystem, Layer, Option } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { pathInside } from "../domain/path-inside.ts"
import { restoreIdPattern } from "../domain/host-layout.ts"
import { evenAfterStandDownFlag } from "../domain/stood-down-record.ts"
import { evenAfterRestoreFlag } from "../domain/restored-member-record.ts"
import { backupArgument, etcdutlFlag, timestampFlag } from "./backup-reading-flags.ts"
import { realPathSoFar } from "./directory-store-places.ts"
import { checkedWith, nonEmpty } from "./flag-checks.ts"
import { hostRootFlag, planDryRunFlag } from "./host-root-flags.ts"
import { withLogging } from "./logging.ts"
import { trustedKeysFlag } from "./signature-flags.ts"
import { backupSource, storeSourceFlags } from "./store-source.ts"

const usage = (option: string, value: string, expected: string) =>
  new CliError.ShowHelp({ commandPath: ["cluster-backup", "restore"], errors: [new CliError.InvalidValue({ option, value, expected, kind: "flag" })] })

/**
 * Flags that do not fit `--root`, refused before anything runs (a store's backup is downloaded first): `--member-name`
 * is required with another root than `/` (the host name is this host's, not the tree's), and `--work-dir` with
 * `--backup-id` must be inside the root, where the restore reads the backup from. Judged as the restore judges them,
 * on real paths; an unreadable root is the restore's to report.
 */
const flagsFitRoot = (flags: {
  readonly root: string
  readonly memberName: Option.Option<string>
  readonly backupId: Option.Option<string>
  readonly workDir: Option.Option<string>
}) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const realRoot = yield* fs.realPath(resolve(flags.root)).pipe(Effect.option)
    if (Option.isNone(realRoot)) return
    if (Option.isNone(flags.memberName) && realRoot.value !== "/") {
      return yield* usage(
        "member-name",
        "",
        `this host's etcd member name (its node name), required with --root ${flags.root} (only with --root / is it the host name)`,
      )
    }
    if (Option.isNone(flags.backupId) || Option.isNone(flags.workDir)) return
    if (pathInside(realRoot.value, yield* realPathSoFar(fs, resolve(flags.workDir.value))) !== undefined) return
    return yield* usage(
      "work-dir",
      flags.workDir.value,
      `a directory inside --root ${flags.root} (the restore reads the backup there), e.g. ${join(flags.root, "var", "lib", "etcd-backup", "downloads", flags.backupId.value)}`,
    )
  })

export const restoreCommand = Command.make(
  "restore",
  {
    backupDir: backupArgument(" (inside --root)"),
    root: hostRootFlag("every host path of the restore is under it; the backup directory must be too"),
    dryRun: planDryRunFlag("verify the backup and "),
    memberName: Flag.String("member-name").pipe(
      nonEmpty("member name"),
      Flag.optional,
      Flag.withDescription("This host's etcd member name, its node name (default: the host name; required with --root)"),
    ),
    nodeIp: Flag.String("node-ip").pipe(
      checkedWith((text) => (isIP(text) === 0 ? "an IPv4 or IPv6 address" : undefined)),
      Flag.optional,
      Flag.withDescription("This host's IP, for the peer URL https://<ip>:2380 (default: from OpenShift's etcd.env under the root)"),
    ),
    timestamp: timestampFlag,
    noBump: Flag.Boolean("no-bump").pipe(
      Flag.withoutNegation,
      Flag.withDefault(false),
      Flag.withDescription("Restore without --bump-revision/--mark-compacted (only with every API server stopped until etcd is back)"),
    ),
    keepControlPlaneRunning: Flag.Boolean("keep-control-plane-running").pipe(
      Flag.withoutNegation,
      Flag.withDefault(false),
      Flag.withDescription(
        "Stop and start only etcd; leave kube-apiserver, kube-controller-manager and kube-scheduler running (by default they are stopped first and started from the backup's revisions after etcd, as cluster-restore.sh does)",
      ),
    ),
    allowDirty: Flag.Boolean("allow-dirty").pipe(Flag.withDefault(false), Flag.withDescription("Restore a possibly dirty backup")),
    allowVersionMismatch: Flag.Boolean("allow-version-mismatch").pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "Restore a backup of another OpenShift release than the host runs (read from its kube-apiserver static pod); OpenShift supports only the same z-stream release",
      ),
    ),
    evenAfterStandDown: Flag.Boolean(evenAfterStandDownFlag).pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "Restore on a host that `stand-down` stood down for a restore on another host and that has had no etcd member since (/var/lib/etcd-backup/stood-down.json): only when the restore is to run here instead",
      ),
    ),
    evenAfterRestore: Flag.Boolean(evenAfterRestoreFlag).pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "Restore again on a host where an earlier restore is complete and the cluster runs from its member (/var/lib/etcd-backup/restored-member.json): it takes the cluster back to this backup, and what it stored since is only in the kept member",
      ),
    ),
    etcdutl: etcdutlFlag,
    restoreId: Flag.String("restore-id").pipe(
      checkedWith((text) => (restoreIdPattern.test(text) ? undefined : "a UUID like 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")),
      Flag.optional,
      Flag.withMetavar("UUID"),
      Flag.withDescription("Names the cluster token and the restore's directories (default: a random UUID)"),
    ),
    trustedKeys: trustedKeysFlag,
    ...storeSourceFlags("<root>/var/lib/etcd-backup/downloads/<id>; it must be inside --root"),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        yield* flagsFitRoot(flags)
        const [{ restoreBackup }, { Etcdutl }, { Tarball }, { DiskSpace }, { DurableFiles }, { HostProcesses }] = yield* Effect.promise(() =>
          Promise.all([
            import("../programs/restore/restore.ts"),
            import("../services/etcdutl.ts"),
            import("../services/tarball/tarball.ts"),
            import("../services/disk-space.ts"),
            import("../services/durable-files.ts"),
            import("../services/host-processes.ts"),
          ]),
        )
        const { readTrustedKeys } = yield* Effect.promise(() => import("../programs/backup-dir/manifest-authenticity.ts"))
        const trustedKeys = yield* readTrustedKeys(flags.trustedKeys)
        if (trustedKeys.length === 0) yield* Effect.logWarning("no --trusted-key given: the backup's signature is not checked, it is unauthenticated")
        const { resolveRoot } = yield* Effect.promise(() => import("../programs/restore/restore-inputs.ts"))
        // A root that is no control-plane host's is refused before a store's backup is downloaded into it.
        const backup = yield* backupSource(
          "restore",
          flags,
          { _tag: "Kept", under: join(flags.root, "var", "lib", "etcd-backup", "downloads") },
          trustedKeys,
          resolveRoot(flags.root),
        )
        yield* restoreBackup({
          backupDir: backup.dir,
          keptDownload: backup.downloaded ? backup.dir : undefined,
          root: flags.root,
          dryRun: flags.dryRun,
          memberName: Option.getOrUndefined(flags.memberName),
          nodeIp: Option.getOrUndefined(flags.nodeIp),
          timestamp: backup.timestamp,
          noBump: flags.noBump,
          keepControlPlaneRunning: flags.keepControlPlaneRunning,
          allowDirty: flags.allowDirty,
          allowVersionMismatch: flags.allowVersionMismatch,
          evenAfterStandDown: flags.evenAfterStandDown,
          evenAfterRestore: flags.evenAfterRestore,
          trustedKeys,
          restoreId: Option.getOrElse(flags.restoreId, () => randomUUID()),
          output: (text) => Effect.sync(() => void process.stdout.write(text)),
        }).pipe(Effect.provide(Layer.mergeAll(Etcdutl.live(flags.etcdutl), Tarball.live, DiskSpace.live, DurableFiles.live, HostProcesses.live)))
        // The scope holds the download directory's run lock until the restore is done with it.
      }).pipe(Effect.scoped),
    ),
).pipe(
  Command.withDescription(
    "Restore a backup on this control-plane host (replaces OpenShift's cluster-restore.sh): stop kube-apiserver, kube-controller-manager, kube-scheduler and etcd, keep etcd's old data, extract the static pod resources, restore the snapshot with a revision bump, start etcd, then the others at the backup's revisions. --dry-run prints exactly the steps a real run performs and refuses as it would. Refused on a host that stand-down stood down and that has had no etcd member since (--even-after-stand-down), and on one where an earlier restore is complete and the cluster runs from its member (--even-after-restore). Nothing is deleted; run it again after an interruption and it continues. With --backup-id, the argument is a store (s3://bucket[/prefix], or a directory store) and the backup is first downloaded, every file's sha256 checked, into <root>/var/lib/etcd-backup/downloads/<id> (or --work-dir, inside --root), where the restore's own verification must pass before any change; the download is kept (also with --dry-run) and a repeated run reuses it.",
  ),
)
