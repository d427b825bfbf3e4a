/**
 * Free space of the filesystem holding a path: live through `statfs(2)` (the bytes an
 * unprivileged process may use, `bavail`), capped inside a pod by the size limit of the emptyDir
 * volume the path lies in (`volume-size-limits.ts`); or fixed numbers in tests.
 */
import { statfs } from "node:fs/promises"
import { resolve } from "node:path"
import { Context, Effect, Layer, Result, Schema } from "effect"
import {
  decodeVolumeSizeLimits,
  freeUnderLimit,
  type LimitingVolume,
  limitingVolume,
  type VolumeSizeLimits,
  type VolumeSizeLimitsInvalid,
  volumeSizeLimitsEnv,
} from "../domain/volume-size-limits.ts"
import { allocatedBytes } from "../domain/tree-measure.ts"
import { describeFileSystemFailure } from "./file-system-error.ts"
import { nodeTreeReader, treeSize } from "./tree-size.ts"

export class DiskSpaceUnknown extends Schema.TaggedError<DiskSpaceUnknown>()("DiskSpaceUnknown", {
  path: Schema.String,
  message: Schema.String,
}) {}

export interface DiskUsage {
  /** Bytes this process may still write. */
  readonly availableBytes: number
  readonly totalBytes: number
  /** Inodes that may still be made; absent where the file system does not count them (btrfs reports none). */
  readonly availableInodes?: number | undefined
  /** The volume whose size limit capped `availableBytes` and `totalBytes`, what it held, and the file system's own free bytes. */
  readonly volumeLimit?: (LimitingVolume & { readonly usedBytes: number; readonly fileSystemAvailableBytes: number }) | undefined
}

const failure = (path: string, what: string) => (e: unknown) => new DiskSpaceUnknown({ path, message: describeFileSystemFailure(what, path, e).message })

const fileSystemUsage = (path: string) =>
  Effect.tryPromise({ try: () => statfs(path), catch: failure(path, "read the free space of") }).pipe(
    Effect.map(
      (s): DiskUsage => ({ availableBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize, availableInodes: s.files === 0 ? undefined : s.ffree }),
    ),
  )

/** The blocks a volume's files take, as the kubelet measures an emptyDir (du: allocated blocks, a hard-linked file once). */
const volumeUsedBytes = (root: string) =>
  treeSize(
    root,
    nodeTreeReader((path, e) => failure(path, "measure what is stored in")(e)),
    allocatedBytes,
    { hardLinks: "once" },
  )

const limitedUsage = (limits: VolumeSizeLimits) => (path: string) =>
  Effect.gen(function* () {
    const usage = yield* fileSystemUsage(path)
    const volume = limitingVolume(resolve(path), limits)
    if (volume === undefined) return usage
    const usedBytes = yield* volumeUsedBytes(volume.mountPath)
    return {
      ...usage,
      availableBytes: freeUnderLimit(usage.availableBytes, volume.limitBytes, usedBytes),
      totalBytes: Math.min(usage.totalBytes, volume.limitBytes),
      volumeLimit: { ...volume, usedBytes, fileSystemAvailableBytes: usage.availableBytes },
    }
  })

const fromLimits = (limits: Result.Result<VolumeSizeLimits, VolumeSizeLimitsInvalid>) =>
  DiskSpace.of({
    usage: Result.isSuccess(limits)
      ? limitedUsage(limits.success)
      : (path) => Effect.fail(new DiskSpaceUnknown({ path, message: `cannot tell the free space of ${path}: ${limits.failure.message}` })),
  })

export class DiskSpace extends Context.Service<DiskSpace, { readonly usage: (path: string) => Effect.Effect<DiskUsage, DiskSpaceUnknown> }>()(
  "cluster-backup/DiskSpace",
) {
  /** statfs, capped by the size limits the pod spec passes in `CLUSTER_BACKUP_VOLUME_SIZE_LIMITS` (none outside a pod). */
  static readonly live = Layer.sync(DiskSpace, () => fromLimits(decodeVolumeSizeLimits(process.env[volumeSizeLimitsEnv])))

  /** statfs, capped by these volumes' size limits. */
  static readonly withVolumeLimits = (limits: VolumeSizeLimits) => Layer.succeed(DiskSpace, fromLimits(Result.succeed(limits)))

  /** Every path reports the same numbers. */
  static readonly inMemory = (usage: DiskUsage) => Layer.succeed(DiskSpace, DiskSpace.of({ usage: () => Effect.succeed(usage) }))
}
