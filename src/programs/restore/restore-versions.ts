/**
 * Restore's version check: the backup's versions as its manifest records them, the host's
 * OpenShift release as its running kube-apiserver revision records it (the static pod manifest's
 * `revision` label, then that revision's pod ConfigMap `version` key under
 * /etc/kubernetes/static-pod-resources), and whether OpenShift allows restoring the one onto the
 * other (`restoreVersionCheck`: the same z-stream release, unless --allow-version-mismatch). Read
 * before any change: the plan prints the versions, the comparison is one of the checks a run makes
 * before changing anything, and where the host's release cannot be read it says it could not compare.
 */
import { posix } from "node:path"
import { Effect, FileSystem, Result } from "effect"
import { resourceFilePath } from "../../domain/archive-layout.ts"
import type { BackupManifest } from "../../domain/backup-manifest.ts"
import type { OperandTable } from "../../domain/operands.ts"
import type { PreflightCheck } from "../../domain/restore-plan-render.ts"
import { hostLayout, restoreIdPattern } from "../../domain/host-layout.ts"
import { hostReleaseOf, restoreVersionCheck, staticPodRevision } from "../../domain/version-compatibility.ts"
import { describeFileSystemFailure, errnoCode } from "../../services/file-system-error.ts"
import { describeClusterFacts } from "../verify/verify-bundle.ts"

/** The host's release, or why it could not be read; `source` is the host path it came from. */
export type HostRelease = { readonly version: string; readonly source: string } | { readonly version: undefined; readonly problem: string }

/** A host file's text; `undefined` when it does not exist; the failure's description otherwise. */
const readText = (path: string) =>
  FileSystem.FileSystem.use((fs) => fs.readFileString(path)).pipe(
    Effect.map((text): Result.Result<string | undefined, string> => Result.succeed(text)),
    Effect.catch((e) =>
      Effect.succeed(errnoCode(e) === "ENOENT" ? Result.succeed(undefined) : Result.fail(describeFileSystemFailure("read", path, e).message)),
    ),
  )

/**
 * The host path of the kube-apiserver manifest the host ran: the kubelet's, or, where an earlier
 * restore that did not finish moved it aside (step stop-control-plane), its one copy in the
 * stopped-manifests directory. Several there (restores before) cannot tell which was the last.
 */
const runningManifest = (root: string, name: string) =>
  Effect.gen(function* () {
    const running = posix.join(hostLayout.manifestsDir, name)
    const fs = yield* FileSystem.FileSystem
    if (yield* fs.exists(posix.join(root, running)).pipe(Effect.orElseSucceed(() => true))) return { _tag: "Found", manifest: running } as const
    const stopped = (yield* fs.readDirectory(posix.join(root, hostLayout.stoppedManifestsDir)).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => [])))
      .filter((n) => n === name || (n.startsWith(`${name}.`) && restoreIdPattern.test(n.slice(name.length + 1))))
      .sort()
    if (stopped.length === 1) return { _tag: "Found", manifest: posix.join(hostLayout.stoppedManifestsDir, stopped[0]!) } as const
    return {
      _tag: "Problem",
      problem:
        stopped.length === 0
          ? `${running} does not exist`
          : `${running} does not exist, and ${hostLayout.stoppedManifestsDir} holds ${stopped.length} copies of it (${stopped.join(", ")}) from earlier restores`,
    } as const
  })

/** The release the host runs, read under `root`; never fails (a problem is the answer's `problem`). */
export const readHostRelease = (root: string, table: OperandTable) =>
  Effect.gen(function* () {
    const pod = table["kube-apiserver"].podConfigMap
    const found = yield* runningManifest(root, `${pod}.yaml`)
    if (found._tag === "Problem") return { version: undefined, problem: found.problem } satisfies HostRelease
    const { manifest } = found
    const manifestText = yield* readText(posix.join(root, manifest))
    if (Result.isFailure(manifestText) || manifestText.success === undefined) {
      return { version: undefined, problem: Result.isFailure(manifestText) ? manifestText.failure : `${manifest} does not exist` } satisfies HostRelease
    }
    const revision = staticPodRevision(manifestText.success)
    if (Result.isFailure(revision)) return { version: undefined, problem: `${manifest}: ${revision.failure.message}` } satisfies HostRelease
    const layout = resourceFilePath("kube-apiserver", revision.success, "configmap", pod, "version", table)
    if (Result.isFailure(layout)) return { version: undefined, problem: layout.failure.message } satisfies HostRelease
    const source = posix.join("/etc/kubernetes", layout.success.path)
    const versionText = yield* readText(posix.join(root, source))
    if (Result.isFailure(versionText) || versionText.success === undefined) {
      return {
        version: undefined,
        problem: Result.isFailure(versionText) ? versionText.failure : `${source} (of the running revision ${revision.success}) does not exist`,
      } satisfies HostRelease
    }
    const release = hostReleaseOf(versionText.success)
    return Result.isSuccess(release)
      ? ({ version: release.success, source } satisfies HostRelease)
      : ({ version: undefined, problem: `${source}: ${release.failure.message}` } satisfies HostRelease)
  })

export interface RestoreVersions {
  /** For the plan's header. */
  readonly lines: ReadonlyArray<string>
  /** Unmet when the releases differ and --allow-version-mismatch was not given. */
  readonly check: PreflightCheck
}

/** The versions of the backup and of the host under `root`, and the check that compares them. */
export const restoreVersions = (manifest: BackupManifest, root: string, table: OperandTable, allowMismatch: boolean) =>
  Effect.gen(function* () {
    const host = yield* readHostRelease(root, table)
    const lines = [
      `  backup:     ${describeClusterFacts(manifest) ?? "versions not recorded in its manifest"}`,
      `  host:       ${host.version === undefined ? `release unknown (${host.problem})` : `OpenShift ${host.version} (${host.source})`}`,
    ]
    const compared = restoreVersionCheck(manifest.cluster?.openshiftVersion, host.version, allowMismatch)
    const check: PreflightCheck =
      compared._tag === "Mismatch" && !compared.allowed
        ? { what: "the backup's OpenShift release is the host's (the same z-stream release)", unmet: compared.message }
        : { what: compared.message }
    return { lines, check } satisfies RestoreVersions
  })
