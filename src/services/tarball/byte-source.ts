/**
 * Pull-style reading of an async stream of buffers (the decompressed tar bytes): exact-length
 * reads for headers, bounded chunks for content, and the count of bytes consumed so far
 * (the offsets quoted in errors).
 */
export class ByteSource {
  #iterator: AsyncIterator<Buffer>
  #pending: Buffer = Buffer.alloc(0)
  #done = false
  #offset = 0

  constructor(source: AsyncIterable<Buffer>) {
    this.#iterator = source[Symbol.asyncIterator]()
  }

  /** Bytes handed out so far. */
  get offset(): number {
    return this.#offset
  }

  async #fill(): Promise<boolean> {
    while (this.#pending.length === 0 && !this.#done) {
      const next = await this.#iterator.next()
      if (next.done === true) this.#done = true
      else this.#pending = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value)
    }
    return this.#pending.length > 0
  }

  /** Up to `max` bytes (fewer only at the end of the stream; empty at the end). */
  async chunk(max: number): Promise<Buffer> {
    if (max <= 0 || !(await this.#fill())) return Buffer.alloc(0)
    const out = this.#pending.subarray(0, Math.min(max, this.#pending.length))
    this.#pending = this.#pending.subarray(out.length)
    this.#offset += out.length
    return out
  }

  /** Exactly `n` bytes, or fewer when the stream ends first. */
  async exactly(n: number): Promise<Buffer> {
    const parts: Array<Buffer> = []
    let got = 0
    while (got < n) {
      const part = await this.chunk(n - got)
      if (part.length === 0) break
      parts.push(part)
      got += part.length
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, got)
  }

  /** Stops the underlying stream early (when a caller gives up on it). */
  async close(): Promise<void> {
    await this.#iterator.return?.()
  }
}
