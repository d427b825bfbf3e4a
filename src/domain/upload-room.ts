/**
 * Whether a store with a reported amount of free space (a directory store's file system) can take
 * a backup's upload, decided before the first byte is written, so that a full volume refuses the
 * backup at once instead of after gigabytes. The files are put one after another, each written
 * whole beside what it replaces (`.part`, then a rename), so a file needs its size on top of all
 * that the files before it added; what a file replaces (the same key's earlier object, the other
 * form of the file that the upload drops) is freed only once it is in place. A part a killed put of
 * the same key left (a directory store's `<file>.<nonce>.part`) is removed as the put begins: freed before it
 * writes.
 */

export interface UploadStep {
  readonly name: string
  /** The bytes freed as the put begins: a part a killed put of the same key left, which it removes. */
  readonly freedBeforeBytes?: number | undefined
  /** The bytes the put writes. */
  readonly bytes: number
  /** The bytes freed once it is in place. */
  readonly freedBytes: number
}

export interface UploadShortfall {
  /** The file whose put would not fit. */
  readonly name: string
  /** The free space the whole upload needs at its start. */
  readonly neededBytes: number
}

/** The free space the upload needs at its start: the most any step needs (its bytes on top of what the steps before it added), and `allowance`. */
export const uploadNeed = (steps: ReadonlyArray<UploadStep>, allowance: number): number => {
  let added = 0
  // Below zero when a part a step replaces is larger than all it adds: it fits with less free than the allowance.
  let most = Number.NEGATIVE_INFINITY
  for (const step of steps) {
    added -= step.freedBeforeBytes ?? 0
    most = Math.max(most, added + step.bytes)
    added += step.bytes - step.freedBytes
  }
  return Math.max(0, most + allowance)
}

/** `undefined` when every step fits in `freeBytes` with `allowance` to spare; otherwise the first step that would not, and the space the whole upload needs. */
export const uploadShortfall = (freeBytes: number, steps: ReadonlyArray<UploadStep>, allowance: number): UploadShortfall | undefined => {
  let added = 0
  for (const step of steps) {
    added -= step.freedBeforeBytes ?? 0
    if (added + step.bytes + allowance > freeBytes) return { name: step.name, neededBytes: uploadNeed(steps, allowance) }
    added += step.bytes - step.freedBytes
  }
  return undefined
}
