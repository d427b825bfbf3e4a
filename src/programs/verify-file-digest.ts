/**
 * One streaming pass over a backup file: its size, the sha256 of the whole file (what the
 * manifest and `sha256sum` show) and, for a snapshot, etcd's trailer check (the sha256 of the
 * database part against the 32 bytes etcd appended), reusing backup-init's `TrailerCheck`.
 * Memory stays at one read chunk whatever the file's size.
 */
import { createHash } from "node:crypto"
import { Effect, FileSystem, Stream } from "effect"
import { TrailerCheck, type SnapshotHashMismatch, type SnapshotTooShort, type TrailerVerified } from "../services/etcd/snapshot-trailer.ts"
import { fileError } from "./atomic-files.ts"

export interface FileDigest {
  readonly size: number
  /** sha256 of the whole file, hex. */
  readonly sha256: string
}

export interface SnapshotDigest extends FileDigest {
  readonly trailer: TrailerVerified | SnapshotHashMismatch | SnapshotTooShort
}

const chunkSize = 1024 * 1024

const digest = (path: string, onChunk: (chunk: Uint8Array) => void) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const whole = createHash("sha256")
    let size = 0
    yield* fs.stream(path, { chunkSize }).pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          size += chunk.length
          whole.update(chunk)
          onChunk(chunk)
        }),
      ),
      Effect.mapError(fileError("read", path)),
    )
    return { size, sha256: whole.digest("hex") } satisfies FileDigest
  })

/** Size and sha256 of a file, streamed. */
export const digestFile = (path: string) => digest(path, () => undefined)

/** Size, sha256 and etcd's trailer check of a snapshot file, in one pass. */
export const digestSnapshot = (path: string) =>
  Effect.gen(function* () {
    const check = new TrailerCheck()
    const file = yield* digest(path, (chunk) => void check.push(chunk))
    return { ...file, trailer: check.finish() } satisfies SnapshotDigest
  })
