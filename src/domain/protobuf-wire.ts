/**
 * A minimal protobuf reader and writer for the few etcd messages the backup uses, and the stored objects whose
 * decryption it checks (`encrypted-value.ts`). Pure; a
 * malformed message is a `GrpcWireError`, never a crash.
 */

/** Bytes received from etcd that are not a well-formed gRPC message (thrown by the pure decoders, caught at the channel). */
export class GrpcWireError extends Error {
  override readonly name = "GrpcWireError"
}

/** Protobuf wire types (encoding.md of the protobuf documentation). */
export const WireType = { varint: 0, i64: 1, len: 2, i32: 5 } as const
export type WireType = (typeof WireType)[keyof typeof WireType]

/** A protobuf reader over one message; length-delimited fields are views of the input. */
export class Reader {
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
    if (wire === WireType.varint) this.varint()
    else if (wire === WireType.len) this.bytes()
    else if (wire === WireType.i64) this.advance(8)
    else if (wire === WireType.i32) this.advance(4)
    else throw new GrpcWireError(`unsupported wire type ${wire}`)
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw new GrpcWireError("fixed-width field runs past the message")
    this.pos += n
  }
}

export const utf8 = new TextDecoder("utf-8")

/** A message being decoded: its fields writable, its lists growable. */
export type Draft<T> = { -readonly [K in keyof T]: T[K] extends ReadonlyArray<infer E> ? Array<E> : T[K] }

/** How one field of a message is read into its draft. */
export interface FieldReader<M> {
  readonly wire: WireType
  readonly read: (r: Reader, into: M) => void
}

/** A varint field (`read` takes the value off the reader). */
export const varintField = <M>(read: (r: Reader, into: M) => void): FieldReader<M> => ({ wire: WireType.varint, read })
/** A length-delimited field: bytes, a string or a nested message. */
export const lenField = <M>(read: (r: Reader, into: M) => void): FieldReader<M> => ({ wire: WireType.len, read })

/** The keys of `M` whose values are of type `V`. */
type KeysOf<M, V> = { [K in keyof M]-?: M[K] extends V ? K : never }[keyof M]

/** An integer field that must fit a JS number exactly (`label` names it in errors). */
export const intField = <M>(key: KeysOf<M, number>, label = String(key)): FieldReader<M> =>
  varintField<M>((r, m) => {
    ;(m[key] as number) = r.safe(label)
  })
/** A 64-bit unsigned field kept exact as a decimal string (ids). */
export const uint64Field = <M>(key: KeysOf<M, string>): FieldReader<M> =>
  varintField<M>((r, m) => {
    ;(m[key] as string) = r.varint().toString()
  })
export const boolField = <M>(key: KeysOf<M, boolean>): FieldReader<M> =>
  varintField<M>((r, m) => {
    ;(m[key] as boolean) = r.varint() !== 0n
  })
/** A string field (UTF-8). */
export const stringField = <M>(key: KeysOf<M, string>): FieldReader<M> =>
  lenField<M>((r, m) => {
    ;(m[key] as string) = utf8.decode(r.bytes())
  })
/** An embedded message, decoded by `decode`. */
export const messageField = <M, V>(key: KeysOf<M, V>, decode: (buf: Uint8Array) => V): FieldReader<M> =>
  lenField<M>((r, m) => {
    ;(m[key] as V) = decode(r.bytes())
  })
/** A bytes field, as a view of the message. */
export const bytesField = <M>(key: KeysOf<M, Uint8Array>): FieldReader<M> =>
  lenField<M>((r, m) => {
    ;(m[key] as Uint8Array) = r.bytes()
  })

/**
 * Reads every field of `buf` into `into`: a field listed in `readers` with the wire type listed
 * there by its reader, any other field (unknown, or of another wire type) skipped.
 */
export const readMessage = <M>(buf: Uint8Array, into: M, readers: Readonly<Record<number, FieldReader<M>>>): M => {
  const r = new Reader(buf)
  while (!r.done) {
    const { field, wire } = r.tag()
    const reader = readers[field]
    if (reader !== undefined && reader.wire === wire) reader.read(r, into)
    else r.skip(wire)
  }
  return into
}

/** A protobuf writer; default values (0, empty bytes) are left out, as proto3 encoders do. */
export class Writer {
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
      this.varint(BigInt((field << 3) | WireType.varint))
      this.varint(BigInt(value))
    }
    return this
  }

  bytes(field: number, value: Uint8Array): this {
    if (value.length > 0) {
      this.varint(BigInt((field << 3) | WireType.len))
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
