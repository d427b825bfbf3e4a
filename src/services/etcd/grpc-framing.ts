/**
 * gRPC's length-prefixed message framing (1 byte compressed flag, 4 bytes big-endian length, the
 * message) and the decoders that turn a response byte stream into items.
 */
import { GrpcWireError } from "../../domain/protobuf-wire.ts"

/** Bytes of a frame's prefix: the compressed flag and the length. */
export const framePrefixBytes = 5

/** The length of the message whose frame prefix starts at `at`; compressed messages are refused (none were negotiated). */
export const frameLength = (bytes: Uint8Array, at: number): number => {
  if (bytes[at] !== 0) throw new GrpcWireError("compressed gRPC message received without negotiation")
  return new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0)
}

export const frameMessage = (message: Uint8Array): Uint8Array => {
  const out = new Uint8Array(framePrefixBytes + message.length)
  new DataView(out.buffer).setUint32(1, message.length)
  out.set(message, framePrefixBytes)
  return out
}

/** A frame's prefix, filled from chunks as they come (it may be split across chunks like anything else). */
export class FramePrefix {
  private readonly bytes = new Uint8Array(framePrefixBytes)
  private filled = 0

  /** True when no byte of a prefix has been taken yet. */
  get empty(): boolean {
    return this.filled === 0
  }

  /** Takes what the prefix still lacks from `chunk` at `at`; returns how many bytes it took. */
  take(chunk: Uint8Array, at: number): number {
    const n = Math.min(framePrefixBytes - this.filled, chunk.length - at)
    this.bytes.set(chunk.subarray(at, at + n), this.filled)
    this.filled += n
    return n
  }

  /** Once the prefix is complete: its message length, the prefix emptied for the next; before: undefined. */
  messageLength(): number | undefined {
    if (this.filled < framePrefixBytes) return undefined
    this.filled = 0
    return frameLength(this.bytes, 0)
  }
}

/**
 * Splits a byte stream into gRPC messages whatever the chunking. A message inside one chunk is
 * returned as a view of it; a message spanning chunks is copied once into a buffer of its size.
 */
export class Deframer {
  private readonly prefix = new FramePrefix()
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
      if (this.prefix.empty && chunk.length - at >= framePrefixBytes) {
        const length = this.checked(frameLength(chunk, at))
        const start = at + framePrefixBytes
        if (chunk.length - start >= length) {
          out.push(chunk.subarray(start, start + length))
          at = start + length
        } else {
          this.begin(length)
          at = start
        }
        continue
      }
      at += this.prefix.take(chunk, at)
      const length = this.prefix.messageLength()
      if (length !== undefined) {
        this.checked(length)
        if (length === 0) out.push(new Uint8Array(0))
        else this.begin(length)
      }
    }
    return out
  }

  /** True when no partial message is pending (a clean end of stream). */
  get idle(): boolean {
    return this.prefix.empty && this.body === undefined
  }

  private begin(length: number): void {
    this.body = new Uint8Array(length)
    this.bodyFilled = 0
  }

  private checked(length: number): number {
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
