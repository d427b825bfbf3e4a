/**
 * The bytes of the three etcd calls the backup makes, without a generated client: gRPC's
 * length-prefixed message framing and a minimal protobuf reader/writer for `StatusResponse`,
 * `RangeRequest`/`RangeResponse` and `SnapshotResponse` (field numbers from etcd's
 * `etcdserverpb/rpc.proto` and `mvccpb/kv.proto`, stable across etcd 3.x). Pure functions; a
 * malformed message is a `GrpcWireError`, never a crash.
 */

export class GrpcWireError extends Error {
  override readonly name = "GrpcWireError"
}

// ---------------------------------------------------------------------------------------------
// protobuf

const WIRE_VARINT = 0
const WIRE_I64 = 1
const WIRE_LEN = 2
const WIRE_I32 = 5

/** A protobuf reader over one message; length-delimited fields are views of the input. */
class Reader {
  private pos = 0
  private readonly buf: Uint8Array
  constructor(buf: Uint8Array) {
    this.buf = buf
  }

  get done(): boolean {
    return this.pos >= this.buf.length
  }

  varint(): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new GrpcWireError("truncated varint")
      const byte = this.buf[this.pos++]!
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
    }
    throw new GrpcWireError("varint longer than 10 bytes")
  }

  /** A varint that must fit a JS number exactly (sizes, revisions, indexes). */
  safe(field: string): number {
    const v = BigInt.asIntN(64, this.varint())
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new GrpcWireError(`${field}=${v} is beyond 2^53`)
    return Number(v)
  }

  bytes(): Uint8Array {
    const length = Number(this.varint())
    if (this.pos + length > this.buf.length) throw new GrpcWireError("length-delimited field runs past the message")
    const out = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return out
  }

  tag(): { readonly field: number; readonly wire: number } {
    const t = Number(this.varint())
    return { field: t >>> 3, wire: t & 7 }
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint()
    else if (wire === WIRE_LEN) this.bytes()
    else if (wire === WIRE_I64) this.advance(8)
    else if (wire === WIRE_I32) this.advance(4)
    else throw new GrpcWireError(`unsupported wire type ${wire}`)
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw new GrpcWireError("fixed-width field runs past the message")
    this.pos += n
  }
}

/** Reads every field of a message, handing each to `on` (which reads or skips it). */
const readFields = (buf: Uint8Array, on: (field: number, wire: number, r: Reader) => boolean): void => {
  const r = new Reader(buf)
  while (!r.done) {
    const { field, wire } = r.tag()
    if (!on(field, wire, r)) r.skip(wire)
  }
}

const utf8 = new TextDecoder("utf-8")

class Writer {
  private readonly parts: Array<Uint8Array> = []
  private length = 0

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes)
    this.length += bytes.length
  }

  private varint(value: bigint): void {
    const out: Array<number> = []
    let v = BigInt.asUintN(64, value)
    do {
      let byte = Number(v & 0x7fn)
      v >>= 7n
      if (v !== 0n) byte |= 0x80
      out.push(byte)
    } while (v !== 0n)
    this.push(Uint8Array.from(out))
  }

  int(field: number, value: number): this {
    if (value !== 0) {
      this.varint(BigInt((field << 3) | WIRE_VARINT))
      this.varint(BigInt(value))
    }
    return this
  }

  bytes(field: number, value: Uint8Array): this {
    if (value.length > 0) {
      this.varint(BigInt((field << 3) | WIRE_LEN))
      this.varint(BigInt(value.length))
      this.push(value)
    }
    return this
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length)
    let at = 0
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
}

// ---------------------------------------------------------------------------------------------
// etcd messages

export interface ResponseHeader {
  readonly clusterId: string
  readonly memberId: string
  readonly revision: number
  readonly raftTerm: number
}

const decodeHeader = (buf: Uint8Array): ResponseHeader => {
  let clusterId = 0n
  let memberId = 0n
  let revision = 0
  let raftTerm = 0
  readFields(buf, (field, wire, r) => {
    if (wire !== WIRE_VARINT) return false
    if (field === 1) clusterId = r.varint()
    else if (field === 2) memberId = r.varint()
    else if (field === 3) revision = r.safe("revision")
    else if (field === 4) raftTerm = r.safe("raft_term")
    else return false
    return true
  })
  return { clusterId: clusterId.toString(), memberId: memberId.toString(), revision, raftTerm }
}

const emptyHeader: ResponseHeader = { clusterId: "0", memberId: "0", revision: 0, raftTerm: 0 }

export interface StatusResponse {
  readonly header: ResponseHeader
  readonly version: string
  readonly dbSize: number
  readonly leader: string
  readonly raftIndex: number
  readonly raftTerm: number
  readonly raftAppliedIndex: number
  readonly errors: ReadonlyArray<string>
  readonly dbSizeInUse: number
  readonly isLearner: boolean
}

export const decodeStatusResponse = (buf: Uint8Array): StatusResponse => {
  let header = emptyHeader
  let version = ""
  let dbSize = 0
  let leader = 0n
  let raftIndex = 0
  let raftTerm = 0
  let raftAppliedIndex = 0
  const errors: Array<string> = []
  let dbSizeInUse = 0
  let isLearner = false
  readFields(buf, (field, wire, r) => {
    if (wire === WIRE_LEN) {
      if (field === 1) header = decodeHeader(r.bytes())
      else if (field === 2) version = utf8.decode(r.bytes())
      else if (field === 8) errors.push(utf8.decode(r.bytes()))
      else return false
      return true
    }
    if (wire !== WIRE_VARINT) return false
    if (field === 3) dbSize = r.safe("dbSize")
    else if (field === 4) leader = r.varint()
    else if (field === 5) raftIndex = r.safe("raftIndex")
    else if (field === 6) raftTerm = r.safe("raftTerm")
    else if (field === 7) raftAppliedIndex = r.safe("raftAppliedIndex")
    else if (field === 9) dbSizeInUse = r.safe("dbSizeInUse")
    else if (field === 10) isLearner = r.varint() !== 0n
    else return false
    return true
  })
  return { header, version, dbSize, leader: leader.toString(), raftIndex, raftTerm, raftAppliedIndex, errors, dbSizeInUse, isLearner }
}

export interface RangeRequest {
  readonly key: Uint8Array
  readonly rangeEnd?: Uint8Array | undefined
  readonly limit?: number | undefined
  /** 0: the latest revision. */
  readonly revision?: number | undefined
}

export const encodeRangeRequest = (req: RangeRequest): Uint8Array =>
  new Writer()
    .bytes(1, req.key)
    .bytes(2, req.rangeEnd ?? new Uint8Array(0))
    .int(3, req.limit ?? 0)
    .int(4, req.revision ?? 0)
    .finish()

export interface WireKeyValue {
  readonly key: Uint8Array
  readonly createRevision: number
  readonly modRevision: number
  readonly version: number
  readonly value: Uint8Array
  readonly lease: number
}

const decodeKeyValue = (buf: Uint8Array): WireKeyValue => {
  let key: Uint8Array = new Uint8Array(0)
  let value: Uint8Array = new Uint8Array(0)
  let createRevision = 0
  let modRevision = 0
  let version = 0
  let lease = 0
  readFields(buf, (field, wire, r) => {
    if (wire === WIRE_LEN) {
      if (field === 1) key = r.bytes()
      else if (field === 5) value = r.bytes()
      else return false
      return true
    }
    if (wire !== WIRE_VARINT) return false
    if (field === 2) createRevision = r.safe("create_revision")
    else if (field === 3) modRevision = r.safe("mod_revision")
    else if (field === 4) version = r.safe("version")
    else if (field === 6) lease = r.safe("lease")
    else return false
    return true
  })
  return { key, createRevision, modRevision, version, value, lease }
}

export interface RangeResponse {
  readonly header: ResponseHeader
  readonly kvs: ReadonlyArray<WireKeyValue>
  readonly more: boolean
  readonly count: number
}

export const decodeRangeResponse = (buf: Uint8Array): RangeResponse => {
  let header = emptyHeader
  const kvs: Array<WireKeyValue> = []
  let more = false
  let count = 0
  readFields(buf, (field, wire, r) => {
    if (wire === WIRE_LEN) {
      if (field === 1) header = decodeHeader(r.bytes())
      else if (field === 2) kvs.push(decodeKeyValue(r.bytes()))
      else return false
      return true
    }
    if (wire !== WIRE_VARINT) return false
    if (field === 3) more = r.varint() !== 0n
    else if (field === 4) count = r.safe("count")
    else return false
    return true
  })
  return { header, kvs, more, count }
}

/** The `blob` of a `SnapshotResponse` (a view of `buf`); other fields are skipped. */
export const snapshotBlob = (buf: Uint8Array): Uint8Array => {
  let blob: Uint8Array = new Uint8Array(0)
  readFields(buf, (field, wire, r) => {
    if (field === 3 && wire === WIRE_LEN) {
      blob = r.bytes()
      return true
    }
    return false
  })
  return blob
}

// ---------------------------------------------------------------------------------------------
// gRPC framing: 1 byte compressed flag, 4 bytes big-endian length, the message

export const frameMessage = (message: Uint8Array): Uint8Array => {
  const out = new Uint8Array(5 + message.length)
  new DataView(out.buffer).setUint32(1, message.length)
  out.set(message, 5)
  return out
}

/**
 * Splits a byte stream into gRPC messages whatever the chunking. A message inside one chunk is
 * returned as a view of it; a message spanning chunks is copied once into a buffer of its size.
 */
export class Deframer {
  private readonly head = new Uint8Array(5)
  private headFilled = 0
  private body: Uint8Array | undefined
  private bodyFilled = 0
  private readonly maxMessageBytes: number

  /** `maxMessageBytes`: largest message accepted (snapshot messages are 32 KiB; range pages a few MiB). */
  constructor(maxMessageBytes = 256 * 1024 * 1024) {
    this.maxMessageBytes = maxMessageBytes
  }

  push(chunk: Uint8Array): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    let at = 0
    while (at < chunk.length) {
      if (this.body !== undefined) {
        const n = Math.min(this.body.length - this.bodyFilled, chunk.length - at)
        this.body.set(chunk.subarray(at, at + n), this.bodyFilled)
        this.bodyFilled += n
        at += n
        if (this.bodyFilled === this.body.length) {
          out.push(this.body)
          this.body = undefined
        }
        continue
      }
      if (this.headFilled === 0 && chunk.length - at >= 5) {
        const length = this.lengthOf(chunk, at)
        const start = at + 5
        if (chunk.length - start >= length) {
          out.push(chunk.subarray(start, start + length))
          at = start + length
        } else {
          this.begin(length)
          at = start
        }
        continue
      }
      const n = Math.min(5 - this.headFilled, chunk.length - at)
      this.head.set(chunk.subarray(at, at + n), this.headFilled)
      this.headFilled += n
      at += n
      if (this.headFilled === 5) {
        this.headFilled = 0
        const length = this.lengthOf(this.head, 0)
        if (length === 0) out.push(new Uint8Array(0))
        else this.begin(length)
      }
    }
    return out
  }

  /** True when no partial message is pending (a clean end of stream). */
  get idle(): boolean {
    return this.headFilled === 0 && this.body === undefined
  }

  private begin(length: number): void {
    this.body = new Uint8Array(length)
    this.bodyFilled = 0
  }

  private lengthOf(bytes: Uint8Array, at: number): number {
    if (bytes[at] !== 0) throw new GrpcWireError("compressed gRPC message received without negotiation")
    const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0)
    if (length > this.maxMessageBytes) throw new GrpcWireError(`gRPC message of ${length} bytes exceeds ${this.maxMessageBytes}`)
    return length
  }
}

/** What turns a response byte stream into items: a `Deframer` (messages) or `SnapshotBlobs` (blob bytes). */
export interface StreamDecoder<A> {
  push(chunk: Uint8Array): Array<A>
  /** True between messages: the stream may end here. */
  readonly idle: boolean
}

/**
 * The blob bytes of a stream of framed `SnapshotResponse` messages, decoded as they arrive: the
 * few bytes of framing and of the other fields are consumed, the blob is passed on as views of
 * the received chunks, never reassembled or copied. (etcd's server writes 16 KiB HTTP/2 frames,
 * so every 32 KiB message spans chunks: reassembling would copy and allocate the whole snapshot
 * once more.)
 */
export class SnapshotBlobs implements StreamDecoder<Uint8Array> {
  private state: "frame" | "tag" | "varint" | "length" | "skip" | "blob" = "frame"
  private readonly frame = new Uint8Array(5)
  private frameFilled = 0
  /** Bytes of the current message not consumed yet. */
  private messageLeft = 0
  private varintValue = 0
  private varintShift = 0
  private field = 0
  private wire = 0
  /** Bytes left in the field being skipped or passed on. */
  private fieldLeft = 0
  private blobsInMessage = 0

  get idle(): boolean {
    return this.state === "frame" && this.frameFilled === 0
  }

  push(chunk: Uint8Array): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    let at = 0
    while (at < chunk.length) {
      switch (this.state) {
        case "frame": {
          const n = Math.min(5 - this.frameFilled, chunk.length - at)
          this.frame.set(chunk.subarray(at, at + n), this.frameFilled)
          this.frameFilled += n
          at += n
          if (this.frameFilled === 5) {
            this.frameFilled = 0
            if (this.frame[0] !== 0) throw new GrpcWireError("compressed gRPC message received without negotiation")
            this.messageLeft = new DataView(this.frame.buffer).getUint32(1)
            this.blobsInMessage = 0
            this.state = this.messageLeft === 0 ? "frame" : "tag"
            this.startVarint()
          }
          break
        }
        case "tag":
        case "varint":
        case "length": {
          const byte = chunk[at++]!
          this.consume(1)
          // A skipped value may take all 10 bytes; a tag or a length must fit 32 bits.
          if (this.varintShift > (this.state === "varint" ? 63 : 28)) throw new GrpcWireError("varint too long")
          if (this.state !== "varint") this.varintValue += (byte & 0x7f) * 2 ** this.varintShift
          this.varintShift += 7
          if ((byte & 0x80) !== 0) break
          const value = this.varintValue
          this.startVarint()
          if (this.state === "tag") {
            this.field = Math.floor(value / 8)
            this.wire = value % 8
            if (this.wire === 0) this.state = "varint"
            else if (this.wire === 2) this.state = "length"
            else if (this.wire === 1 || this.wire === 5) this.beginSkip(this.wire === 1 ? 8 : 4)
            else throw new GrpcWireError(`unsupported wire type ${this.wire}`)
          } else if (this.state === "varint") {
            this.endField()
          } else if (this.field === 3) {
            this.blobsInMessage += 1
            if (this.blobsInMessage > 1) throw new GrpcWireError("a snapshot message with two blobs")
            if (value > this.messageLeft) throw new GrpcWireError("blob runs past its message")
            this.fieldLeft = value
            this.state = "blob"
            if (value === 0) this.endField()
          } else {
            this.beginSkip(value)
          }
          break
        }
        case "skip":
        case "blob": {
          const n = Math.min(this.fieldLeft, chunk.length - at)
          if (this.state === "blob") out.push(chunk.subarray(at, at + n))
          at += n
          this.fieldLeft -= n
          this.consume(n)
          if (this.fieldLeft === 0) this.endField()
          break
        }
      }
    }
    return out
  }

  private startVarint(): void {
    this.varintValue = 0
    this.varintShift = 0
  }

  private consume(n: number): void {
    this.messageLeft -= n
    if (this.messageLeft < 0) throw new GrpcWireError("field runs past its message")
  }

  private beginSkip(length: number): void {
    if (length > this.messageLeft) throw new GrpcWireError("field runs past its message")
    this.fieldLeft = length
    this.state = "skip"
    if (length === 0) this.endField()
  }

  private endField(): void {
    this.state = this.messageLeft === 0 ? "frame" : "tag"
    this.startVarint()
  }
}
