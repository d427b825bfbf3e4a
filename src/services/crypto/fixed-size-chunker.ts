/**
 * Cuts a byte stream that arrives in pieces of any size into chunks of one fixed size, holding the
 * last chunk back until the end: age's STREAM seals and opens the last chunk differently, and a
 * full chunk is known not to be the last only once more bytes arrive. Holds at most one chunk.
 */
export class FixedSizeChunker {
  readonly size: number
  readonly #pending: Buffer
  #filled = 0

  constructor(size: number) {
    this.size = size
    this.#pending = Buffer.allocUnsafe(size)
  }

  /**
   * The full chunks, known not to be the last, that `piece` completes. A chunk may be a view of
   * `piece` or of a buffer the next one reuses: use it before asking for the next.
   */
  *push(piece: Uint8Array): Generator<Uint8Array> {
    let offset = 0
    while (offset < piece.length) {
      if (this.#filled === this.size) {
        yield this.#pending
        this.#filled = 0
      }
      // A whole chunk with more after it in the same piece is handed out in place: a copy costs
      // more than sealing or opening it.
      if (this.#filled === 0 && piece.length - offset > this.size) {
        yield piece.subarray(offset, offset + this.size)
        offset += this.size
        continue
      }
      const n = Math.min(this.size - this.#filled, piece.length - offset)
      this.#pending.set(piece.subarray(offset, offset + n), this.#filled)
      this.#filled += n
      offset += n
    }
  }

  /** The last chunk, once the stream ended: 1 to `size` bytes, or none when the stream was empty. */
  end(): Uint8Array {
    return this.#pending.subarray(0, this.#filled)
  }
}
