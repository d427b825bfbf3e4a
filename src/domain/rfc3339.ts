/**
 * RFC 3339 timestamps in UTC (`2024-05-01T12:00:00Z`, optionally with a fraction), the form
 * Kubernetes writes. The project computes with epoch milliseconds; these convert at the edges.
 */
import { Schema } from "effect"

const pattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/

/** Smallest and largest instants with a four-digit year (0000-01-01 .. 9999-12-31T23:59:59.999). */
export const minRfc3339Millis = -62_167_219_200_000
export const maxRfc3339Millis = 253_402_300_799_999

/**
 * Epoch milliseconds of an RFC 3339 UTC timestamp (fractions below a millisecond are dropped), or
 * `undefined` when the text is not one or names no calendar instant (`2023-02-29`, hour 24, ...).
 */
export const parseRfc3339Utc = (text: string): number | undefined => {
  const m = pattern.exec(text)
  if (m === null) return undefined
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const millis = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3))
  const at = new Date(0)
  at.setUTCFullYear(year, month - 1, day)
  at.setUTCHours(hour, minute, second, millis)
  const exact =
    at.getUTCFullYear() === year &&
    at.getUTCMonth() === month - 1 &&
    at.getUTCDate() === day &&
    at.getUTCHours() === hour &&
    at.getUTCMinutes() === minute &&
    at.getUTCSeconds() === second
  return exact ? at.getTime() : undefined
}

/** Whether `ms` is an instant `formatRfc3339Utc` can write. */
export const isRfc3339Millis = (ms: number): boolean => Number.isSafeInteger(ms) && ms >= minRfc3339Millis && ms <= maxRfc3339Millis

/**
 * The canonical text of an instant: whole seconds as `YYYY-MM-DDTHH:MM:SSZ`, otherwise with
 * milliseconds. Precondition: `isRfc3339Millis(ms)`.
 */
export const formatRfc3339Utc = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z")

/** A string holding an RFC 3339 UTC timestamp. */
export const Rfc3339Utc = Schema.String.check(
  Schema.makeFilter((s: string) => parseRfc3339Utc(s) !== undefined, {
    expected: "an RFC 3339 UTC timestamp such as 2024-05-01T12:00:00Z",
  }),
)
export type Rfc3339Utc = typeof Rfc3339Utc.Type
