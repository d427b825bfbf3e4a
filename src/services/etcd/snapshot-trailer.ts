/**
 * etcd's snapshot format: the backend database followed by the 32-byte sha256 of that database.
 * `TrailerCheck` verifies it while streaming: it holds back the last 32 bytes seen so far,
 * hashes and passes on everything before them, and compares at the end. Memory stays at one
 * chunk plus 32 bytes whatever the snapshot's size.
 */
import { createHash, type Hash } from "node:crypto"
import { Schema } from "effect"

export const trailerLength = 32

export class SnapshotHashMismatch extends Schema.TaggedError<SnapshotHashMismatch>()("SnapshotHashMismatch", {
  expected: Schema.String,
  actual: Schema.String,
  dbBytes: Schema.Number,
  message: Schema.String,
}) {}

export class SnapshotTooShort extends Schema.TaggedError<SnapshotTooShort>()("SnapshotTooShort", {
  bytes: Schema.Number,
  message: Schema.String,
}) {}

export interface TrailerVerified {
  /** Bytes of the database part (the file without its trailer). */
  readonly dbBytes: number
  /** Hex sha256 of the database part, equal to the trailer. */
  readonly sha256: string
  /** The trailer's 32 bytes, to be written after the database bytes. */
  readonly trailer: Uint8Array
  /** Hex sha256 of the whole stream (database and trailer: what `sha256sum` shows for the file), from the same pass. */
  readonly wholeSha256: string
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")

export class TrailerCheck {
  private readonly hash: Hash = createHash("sha256")
  private held: Uint8Array = new Uint8Array(0)
  private dbBytes = 0

  /**
   * Feeds the next chunk of the stream; returns the bytes now known to be database bytes (in
   * order, possibly empty), which the caller may write out. The returned arrays are views of the
   * input chunks or fresh copies: never reused by the checker.
   */
  push(chunk: Uint8Array): ReadonlyArray<Uint8Array> {
    if (chunk.length === 0) return []
    const total = this.held.length + chunk.length
    if (total <= trailerLength) {
      const merged = new Uint8Array(total)
      merged.set(this.held, 0)
      merged.set(chunk, this.held.length)
      this.held = merged
      return []
    }
    const release = total - trailerLength
    const out: Array<Uint8Array> = []
    // The held bytes come first; only part of them may be released if the chunk is short.
    const fromHeld = Math.min(release, this.held.length)
    if (fromHeld > 0) out.push(this.held.subarray(0, fromHeld))
    const fromChunk = release - fromHeld
    if (fromChunk > 0) out.push(chunk.subarray(0, fromChunk))
    const keepHeld = this.held.subarray(fromHeld)
    const keepChunk = chunk.subarray(fromChunk)
    const next = new Uint8Array(trailerLength)
    next.set(keepHeld, 0)
    next.set(keepChunk, keepHeld.length)
    this.held = next
    for (const part of out) {
      this.hash.update(part)
      this.dbBytes += part.length
    }
    return out
  }

  /** sha256 (hex) of every byte pushed so far, the held-back ones included: the whole file's. Call before `finish`. */
  wholeSha256(): string {
    return this.hash.copy().update(this.held).digest("hex")
  }

  /**
   * Compares the held-back trailer with the hash of everything before it. Call once, at the end;
   * on success the caller writes `trailer` last, so the file is exactly what etcd sent.
   */
  finish(): TrailerVerified | SnapshotHashMismatch | SnapshotTooShort {
    if (this.held.length < trailerLength || this.dbBytes === 0) {
      const bytes = this.dbBytes + this.held.length
      return new SnapshotTooShort({
        bytes,
        message: `the snapshot stream ended after ${bytes} bytes: too short to hold a database and its ${trailerLength}-byte sha256 trailer.`,
      })
    }
    // The database's hash state continued over the trailer: the whole file's sha256 without a second pass.
    const wholeSha256 = this.wholeSha256()
    const actual = this.hash.digest("hex")
    const expected = hex(this.held)
    if (actual !== expected) {
      return new SnapshotHashMismatch({
        expected,
        actual,
        dbBytes: this.dbBytes,
        message:
          `the snapshot's sha256 trailer (${expected}) does not match the sha256 of its ${this.dbBytes} database bytes (${actual}): ` +
          `the stream was truncated or corrupted; take the backup again.`,
      })
    }
    return { dbBytes: this.dbBytes, sha256: actual, trailer: this.held, wholeSha256 }
  }
}

/** A database's bytes with etcd's trailer appended (what a snapshot stream carries). */
export const withTrailer = (db: Uint8Array): Uint8Array => {
  const out = new Uint8Array(db.length + trailerLength)
  out.set(db, 0)
  out.set(createHash("sha256").update(db).digest(), db.length)
  return out
}
