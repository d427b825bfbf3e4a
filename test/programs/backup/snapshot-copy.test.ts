import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Ref, Stream } from "effect"
import fc from "fast-check"
import { createHash, randomBytes } from "node:crypto"
import { BackupFileError } from "../../../src/services/atomic-files.ts"
import { copySnapshot } from "../../../src/programs/backup/snapshot-copy.ts"
import { directAlignment, type SnapshotFile } from "../../../src/services/snapshot-file.ts"
import { withTrailer } from "../../../src/services/etcd/snapshot-trailer.ts"

/**
 * A snapshot file that keeps what was written in memory and logs writes and fsyncs; fsyncs take
 * `syncMs`. As direct I/O does, a direct one rejects writes whose offset or length is not aligned.
 */
const recordingFile = (options: { readonly direct: boolean; readonly syncMs: number; readonly failSyncNumber?: number }) => {
  let content = Buffer.alloc(0)
  const log: Array<"write" | "sync-start" | "sync-end" | "truncate"> = []
  let syncsRunning = 0
  let mostSyncsAtOnce = 0
  let syncs = 0
  const file: SnapshotFile = {
    direct: options.direct,
    writeAt: (data, position) =>
      Effect.suspend(() => {
        if (options.direct && (position % directAlignment !== 0 || data.length % directAlignment !== 0)) {
          return Effect.fail(
            new BackupFileError({ path: "/backup/snapshot.db.part", operation: "write", message: `unaligned direct write of ${data.length} at ${position}` }),
          )
        }
        const end = position + data.length
        if (end > content.length) content = Buffer.concat([content, Buffer.alloc(end - content.length)])
        content.set(data, position)
        log.push("write")
        return Effect.sleep(1)
      }),
    truncate: (length) =>
      Effect.sync(() => {
        content = content.subarray(0, length)
        log.push("truncate")
      }),
    sync: Effect.suspend(() => {
      syncs++
      const number = syncs
      syncsRunning++
      mostSyncsAtOnce = Math.max(mostSyncsAtOnce, syncsRunning)
      log.push("sync-start")
      return Effect.sleep(options.syncMs).pipe(
        Effect.andThen(
          number === options.failSyncNumber
            ? Effect.fail(
                new BackupFileError({
                  path: "/backup/snapshot.db.part",
                  operation: "fsync",
                  message: "cannot fsync /backup/snapshot.db.part: EIO: i/o error, fsync",
                }),
              )
            : Effect.void,
        ),
        Effect.ensuring(
          Effect.sync(() => {
            syncsRunning--
            log.push("sync-end")
          }),
        ),
      )
    }),
  }
  return { file, content: () => content, log, mostSyncsAtOnce: () => mostSyncsAtOnce, syncs: () => syncs }
}

/** A snapshot stream of `db` with its trailer, in chunks of `chunkBytes`. */
const streamOf = (db: Uint8Array, chunkBytes: number) => {
  const all = withTrailer(db)
  const chunks: Array<Uint8Array> = []
  for (let at = 0; at < all.length; at += chunkBytes) chunks.push(all.subarray(at, at + chunkBytes))
  return { all, stream: Stream.fromIterable(chunks) }
}

const copy = (file: SnapshotFile, source: Stream.Stream<Uint8Array>, flushEveryBytes: number) =>
  Effect.flatMap(Ref.make(0), (received) =>
    copySnapshot({
      source,
      file,
      endpoint: "https://etcd:2379",
      received,
      stallTimeoutMs: 10_000,
      afterFirstBytes: Effect.void,
      flushEveryBytes,
    }),
  )

describe("copySnapshot to a buffered file", () => {
  it.live("writes exactly what etcd sent and flushes to disk while streaming, one fsync at a time", () =>
    Effect.gen(function* () {
      const db = randomBytes(6 * 1024 * 1024 + 4096)
      const { all, stream } = streamOf(db, 16 * 1024 + 7)
      const rec = recordingFile({ direct: false, syncMs: 5 })
      const verified = yield* copy(rec.file, stream, 1024 * 1024)

      assert.isTrue(rec.content().equals(Buffer.from(all)))
      assert.strictEqual(verified.sha256, createHash("sha256").update(db).digest("hex"))
      assert.strictEqual(verified.dbBytes, db.length)
      // Background fsyncs ran before the last write, never two at once, and all ended.
      assert.isAtLeast(rec.syncs(), 2)
      assert.isBelow(rec.log.indexOf("sync-start"), rec.log.lastIndexOf("write"))
      assert.strictEqual(rec.mostSyncsAtOnce(), 1)
      assert.strictEqual(rec.log.filter((e) => e === "sync-end").length, rec.syncs())
    }),
  )

  it.live("does not wait for a slow fsync: writes go on and no second fsync starts", () =>
    Effect.gen(function* () {
      const db = randomBytes(4 * 1024 * 1024)
      const rec = recordingFile({ direct: false, syncMs: 300 })
      yield* copy(rec.file, streamOf(db, 64 * 1024).stream, 512 * 1024)
      const firstSync = rec.log.indexOf("sync-start")
      const writesDuringFirstSync = rec.log.slice(firstSync, rec.log.indexOf("sync-end")).filter((e) => e === "write").length
      assert.isAtLeast(writesDuringFirstSync, 2)
      assert.strictEqual(rec.mostSyncsAtOnce(), 1)
    }),
  )

  it.live("a failing background fsync fails the copy with the file and the reason", () =>
    Effect.gen(function* () {
      const db = randomBytes(3 * 1024 * 1024)
      const rec = recordingFile({ direct: false, syncMs: 1, failSyncNumber: 1 })
      const exit = yield* Effect.exit(copy(rec.file, streamOf(db, 32 * 1024).stream, 512 * 1024))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      assert.strictEqual(error?._tag, "Fail")
      const failure = (error as { readonly error: { readonly _tag: string; readonly operation: string; readonly message: string } }).error
      assert.strictEqual(failure._tag, "BackupFileError")
      assert.strictEqual(failure.operation, "fsync")
      assert.match(failure.message, /^cannot fsync \/backup\/snapshot\.db\.part: .*EIO/)
    }),
  )

  it.live("a snapshot smaller than the flush interval is written without a background fsync", () =>
    Effect.gen(function* () {
      const db = randomBytes(200_000)
      const { all, stream } = streamOf(db, 4096)
      const rec = recordingFile({ direct: false, syncMs: 1 })
      yield* copy(rec.file, stream, 1024 * 1024)
      assert.isTrue(rec.content().equals(Buffer.from(all)))
      assert.strictEqual(rec.syncs(), 0)
    }),
  )
})

describe("copySnapshot to a direct-I/O file", () => {
  it.live("writes only aligned blocks, pads the last one and truncates to exactly what etcd sent", () =>
    Effect.gen(function* () {
      // Not a multiple of the alignment, and the trailer crosses a buffer boundary.
      const db = randomBytes(3 * 512 * 1024 - 20)
      const { all, stream } = streamOf(db, 16 * 1024 + 3)
      const rec = recordingFile({ direct: true, syncMs: 1 })
      const verified = yield* copy(rec.file, stream, 1024)
      assert.isTrue(rec.content().equals(Buffer.from(all)))
      assert.strictEqual(verified.sha256, createHash("sha256").update(db).digest("hex"))
      assert.strictEqual(rec.log.at(-1), "truncate")
      // Data goes straight to disk: no background fsyncs.
      assert.strictEqual(rec.syncs(), 0)
    }),
  )

  it("any database size and chunking gives the exact stream, in aligned writes", () =>
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_200_000 }), fc.integer({ min: 1, max: 300_000 }), async (dbBytes, chunkBytes) => {
        const db = randomBytes(dbBytes)
        const { all, stream } = streamOf(db, chunkBytes)
        const rec = recordingFile({ direct: true, syncMs: 1 })
        await Effect.runPromise(copy(rec.file, stream, 1024))
        assert.isTrue(rec.content().equals(Buffer.from(all)))
        assert.strictEqual(rec.log.includes("truncate"), all.length % directAlignment !== 0)
      }),
      { numRuns: 40 },
    ))

  it.live("a hash mismatch writes no trailer and fails", () =>
    Effect.gen(function* () {
      const db = randomBytes(700_000)
      const all = withTrailer(db)
      all[1000]! ^= 1
      const rec = recordingFile({ direct: true, syncMs: 1 })
      const exit = yield* Effect.exit(copy(rec.file, Stream.make(all), 1024))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error._tag : r._tag)) : ""), "SnapshotHashMismatch")
      assert.isFalse(rec.log.includes("truncate"))
      assert.isBelow(rec.content().length, all.length)
    }),
  )
})
