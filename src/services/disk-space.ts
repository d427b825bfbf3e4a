/**
 * Free space of the filesystem holding a path: live through `statfs(2)` (the bytes an
 * unprivileged process may use, `bavail`), or fixed numbers in tests.
 */
import { statfs } from "node:fs/promises"
import { Context, Effect, Layer, Schema } from "effect"
import { describeFileSystemFailure } from "./file-system-error.ts"

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
}

export class DiskSpace extends Context.Service<DiskSpace, { readonly usage: (path: string) => Effect.Effect<DiskUsage, DiskSpaceUnknown> }>()(
  "cluster-backup/DiskSpace",
) {
  static readonly live = Layer.succeed(
    DiskSpace,
    DiskSpace.of({
      usage: (path) =>
        Effect.tryPromise({
          try: () => statfs(path),
          catch: (e) =>
            new DiskSpaceUnknown({
              path,
              message: describeFileSystemFailure("read the free space of", path, e).message,
            }),
        }).pipe(
          Effect.map((s) => ({ availableBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize, availableInodes: s.files === 0 ? undefined : s.ffree })),
        ),
    }),
  )

  /** Every path reports the same numbers. */
  static readonly inMemory = (usage: DiskUsage) => Layer.succeed(DiskSpace, DiskSpace.of({ usage: () => Effect.succeed(usage) }))
}
