/**
 * How a file is cut into S3 multipart parts: S3 takes at most 10,000 parts of at least 5 MiB (the last excepted), so a
 * file too large for the configured part size in that many parts gets larger parts.
 */

/** S3's smallest part (the last one excepted). */
export const minPartSize = 5 * 1024 * 1024
/** S3's most parts in one upload. */
export const maxParts = 10_000

/** The part size an upload of `size` bytes uses with `partSize` configured. */
export const partSizeFor = (size: number, partSize: number): number => Math.max(partSize, minPartSize, Math.ceil(size / maxParts))

/**
 * The ring an upload that follows a growing file (an encryption writing the ciphertext as it is uploaded) reads it in:
 * one part more than it has in flight. Undefined when the file is one part (uploaded whole once written).
 */
export const followRingBytes = (size: number, partSize: number, partsInFlight: number): number | undefined =>
  size <= partSize ? undefined : (partsInFlight + 1) * partSizeFor(size, partSize)
