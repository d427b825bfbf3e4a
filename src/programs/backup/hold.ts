/**
 * The backup pod's last container: keeps `/backup` (an emptyDir that dies with the pod) available
 * for `oc cp` for a bounded time, then exits 0 so the pod ends `Succeeded` and its volume is freed; a SIGTERM
 * (the pod deleted once the backup was copied) ends it early, as a success too.
 */
import { Effect, FileSystem, Path } from "effect"
import { formatDuration } from "../../domain/durations.ts"
import { fileError } from "../../services/atomic-files.ts"

export interface HoldOptions {
  readonly backupDir: string
  readonly durationMs: number
  /** The pod's namespace as its ServiceAccount token's mount gives it; default the kubelet's path. */
  readonly namespaceFile?: string
}

const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

export const hold = Effect.fn("hold")(function* (options: HoldOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const names = (yield* fs.readDirectory(options.backupDir).pipe(Effect.mapError(fileError("list", options.backupDir))))
    .filter((n) => !n.startsWith("."))
    .sort()
  for (const name of names) {
    const info = yield* fs.stat(path.join(options.backupDir, name)).pipe(Effect.mapError(fileError("inspect", path.join(options.backupDir, name))))
    yield* Effect.logInfo("backup file").pipe(Effect.annotateLogs({ file: name, bytes: Number(info.size) }))
  }
  // The pod runs in the namespace the operator or render was given (--namespace), not always openshift-etcd.
  const namespace = yield* fs.readFileString(options.namespaceFile ?? serviceAccountNamespaceFile).pipe(
    Effect.map((text) => text.trim()),
    Effect.orElseSucceed(() => ""),
  )
  yield* Effect.logInfo(
    `holding ${options.backupDir} for ${formatDuration(options.durationMs)}: copy it with ` +
      `'oc cp -c backup-hold ${namespace === "" ? "<namespace>" : namespace}/<pod>:${options.backupDir} ./backup'`,
  )
  yield* Effect.sleep(options.durationMs).pipe(Effect.onInterrupt(() => Effect.logInfo("hold ended before its time (the pod is being stopped): exiting")))
  yield* Effect.logInfo("hold time over: exiting")
})
