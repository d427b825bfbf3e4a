/**
 * etcdserverpb.SnapshotResponse, the messages of `Maintenance/Snapshot` (etcd's
 * `api/etcdserverpb/rpc.proto`): only their `blob` matters to the backup.
 */
import { FramePrefix, type StreamDecoder } from "./grpc-framing.ts"
import { bytesField, GrpcWireError, readMessage, WireType } from "../../domain/protobuf-wire.ts"

/** Field numbers of `SnapshotResponse`. */
export const SnapshotResponseField = { header: 1, remainingBytes: 2, blob: 3 } as const

/** The `blob` of a `SnapshotResponse` (a view of `buf`); other fields are skipped. */
export const snapshotBlob = (buf: Uint8Array): Uint8Array =>
  readMessage(buf, { blob: new Uint8Array(0) }, { [SnapshotResponseField.blob]: bytesField<{ blob: Uint8Array }>("blob") }).blob

/**
 * The blob bytes of a stream of framed `SnapshotResponse` messages, decoded as they arrive: the
 * few bytes of framing and of the other fields are consumed, the blob is passed on as views of
 * the received chunks, never reassembled or copied. (etcd's server writes 16 KiB HTTP/2 frames,
 * so every 32 KiB message spans chunks: reassembling would copy and allocate the whole snapshot
 * once more.)
 */
export class SnapshotBlobs implements StreamDecoder<Uint8Array> {
  private state: "frame" | "tag" | "varint" | "length" | "skip" | "blob" = "frame"
  private readonly prefix = new FramePrefix()
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
    return this.state === "frame" && this.prefix.empty
  }

  push(chunk: Uint8Array): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    let at = 0
    while (at < chunk.length) {
      switch (this.state) {
        case "frame": {
          at += this.prefix.take(chunk, at)
          const length = this.prefix.messageLength()
          if (length !== undefined) {
            this.messageLeft = length
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
            if (this.wire === WireType.varint) this.state = "varint"
            else if (this.wire === WireType.len) this.state = "length"
            else if (this.wire === WireType.i64 || this.wire === WireType.i32) this.beginSkip(this.wire === WireType.i64 ? 8 : 4)
            else throw new GrpcWireError(`unsupported wire type ${this.wire}`)
          } else if (this.state === "varint") {
            this.endField()
          } else if (this.field === SnapshotResponseField.blob) {
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
