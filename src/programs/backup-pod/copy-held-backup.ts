/**
 * `backup-pod --copy-to DIR`: the backup a pod holds, copied into a local directory as `download` writes one: each file
 * its manifest names through `<file>.download`, kept only with the manifest's size and sha256; the manifest's signature
 * and the pod's verification record when there; the manifest last, so a directory with a manifest holds the whole
 * backup. Restartable: a file already there with the manifest's sha256 is not copied again, and what an interrupted
 * copy left is removed first. A directory holding another backup is refused before anything is written.
 */
import { join } from "node:path"
import { Effect, FileSystem, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { maxManifestBytes } from "../../domain/backup-manifest.ts"
import { backupPodPaths } from "../../domain/backup-pod-names.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { verificationFileName } from "../../domain/verification-file.ts"
import { Kube } from "../../services/kube/kube.ts"
import { defaultRetryPolicy, type RetryPolicy } from "../../services/kube/retry.ts"
import { localIoFailed } from "../../services/store/store-errors.ts"
import { errnoCode } from "../../services/file-system-error.ts"
import { decodeBackupManifestBytes } from "../backup-dir/backup-manifest-file.ts"
import { refuseOverCompleteBackup } from "../backup-dir/manifest-in-the-way.ts"
import { keepChecked } from "../store/checked-fetch.ts"
import { removeDownloadLeftovers, requireDownloadRoom } from "../store/download-room.ts"
import { filesKeptWhole, writeDurably } from "../store/store-download.ts"
import { heldPodFiles } from "./held-pod-files.ts"

/** `--copy-to` names something that is not a directory (a file, say): the copy would fail only once the pod holds its backup. */
export class CopyDirectoryNotADirectory extends Schema.TaggedError<CopyDirectoryNotADirectory>()("CopyDirectoryNotADirectory", {
  path: Schema.String,
  type: Schema.String,
  message: Schema.String,
}) {}

const fileKinds: Partial<Record<FileSystem.File.Type, string>> = {
  File: "a file",
  FIFO: "a FIFO",
  Socket: "a socket",
  BlockDevice: "a block device",
  CharacterDevice: "a character device",
}

/**
 * What would refuse the copy into `dir` once a pod that has not taken its backup yet holds it, found before it takes one
 * (minutes of a snapshot, and a node's disk, for nothing): `dir` not a directory, or holding a complete backup already,
 * which can only be another's. `copyHeldBackup` checks the latter again against the backup's own ID.
 */
export const refuseUnfitCopyDirectory = Effect.fnUntraced(function* (dir: string) {
  const fs = yield* FileSystem.FileSystem
  const info = yield* fs.stat(dir).pipe(
    Effect.map((i): FileSystem.File.Info | undefined => i),
    Effect.catchIf(
      (e) => errnoCode(e) === "ENOENT",
      () => Effect.succeed(undefined),
    ),
    Effect.mapError((e) => localIoFailed(dir, "check", e)),
  )
  if (info !== undefined && info.type !== "Directory")
    return yield* new CopyDirectoryNotADirectory({
      path: dir,
      type: info.type,
      message: `--copy-to ${dir} is ${fileKinds[info.type] ?? "something"} rather than a directory: name the directory to copy the backup into (made when missing); nothing was started`,
    })
  yield* refuseOverCompleteBackup(dir, undefined)
})

/** The pod holds a manifest of another backup than the one its backup-create reported. */
export class HeldBackupMismatch extends Schema.TaggedError<HeldBackupMismatch>()("HeldBackupMismatch", {
  pod: Schema.String,
  expected: Schema.String,
  found: Schema.String,
  message: Schema.String,
}) {}

export interface CopiedFile {
  readonly name: string
  readonly size: number
  readonly sha256: string
  /** Already in the directory with the manifest's sha256 (an earlier, interrupted copy's). */
  readonly reused: boolean
}

const inPod = (name: string) => `${backupPodPaths.backupDir}/${name}`

export const copyHeldBackup = Effect.fn("copyHeldBackup")(function* (
  namespace: string,
  pod: string,
  /** The backup's ID as backup-create reported it; undefined for a pod that reports none. */
  reportedId: string | undefined,
  dir: string,
  /** Each file's progress as it is copied (the bytes so far, and the manifest's size). */
  onProgress?: (path: string, doneBytes: number, totalBytes: number) => void,
  /** How a read cut by a transient API failure is done again. */
  retry: RetryPolicy = defaultRetryPolicy,
) {
  const kube = yield* Kube
  const fs = yield* FileSystem.FileSystem
  const held = heldPodFiles(kube, namespace, pod, retry)
  const manifestBytes = yield* held.bytes(inPod(manifestFileName), maxManifestBytes)
  const manifest = yield* Effect.fromResult(decodeBackupManifestBytes(manifestBytes, `${inPod(manifestFileName)} in ${held.location}`))
  const id = manifest.timestamp
  if (reportedId !== undefined && reportedId !== id)
    return yield* new HeldBackupMismatch({
      pod,
      expected: reportedId,
      found: id,
      message: `${inPod(manifestFileName)} in ${held.location} describes backup ${id}, but the pod's backup-create reported ${reportedId}: nothing copied; see oc -n ${namespace} logs ${pod} --all-containers`,
    })
  const files = [manifest.files.snapshot, manifest.files.resources]
  const kept = yield* filesKeptWhole(dir, files)
  yield* refuseOverCompleteBackup(dir, id)
  const companions = [signatureFileName, verificationFileName]
  yield* removeDownloadLeftovers(dir, [...files.map((f) => f.name), manifestFileName, ...companions])
  const toCopy = files.filter((_, i) => !kept[i])
  yield* requireDownloadRoom(dir, toCopy, `backup ${id} in ${held.location}`, "copy into a directory on a larger file system")
  yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError((e) => localIoFailed(dir, "create", e)))
  const copied: Array<CopiedFile> = []
  for (const [i, f] of files.entries()) {
    if (!kept[i])
      yield* keepChecked(
        (to) => held.toFile(inPod(f.name), to, f.size, onProgress),
        { location: held.location, key: inPod(f.name), copy: "the pod's copy" },
        join(dir, f.name),
        f,
      )
    copied.push({ name: f.name, size: f.size, sha256: f.sha256, reused: kept[i] === true })
  }
  // What goes with the manifest: as in the pod, or none (a reused directory keeps no signature the pod does not have).
  for (const name of companions) {
    const path = join(dir, name)
    yield* (yield* held.exists(inPod(name)))
      ? Effect.flatMap(held.bytes(inPod(name), maxManifestBytes), (bytes) => writeDurably(path, bytes))
      : fs.remove(path, { force: true }).pipe(Effect.mapError((e) => localIoFailed(path, "remove", e)))
  }
  yield* writeDurably(join(dir, manifestFileName), manifestBytes)
  return { id, dir, files: copied }
})
