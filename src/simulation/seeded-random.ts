/**
 * A small deterministic pseudo-random generator (mulberry32). The simulated cluster, its fault
 * injection and the OpenShift fixtures draw from it so that one seed reproduces one run exactly
 * (uids, generated names, injected faults, fixture content).
 */
export interface SeededRandom {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max] (inclusive). */
  readonly int: (min: number, max: number) => number
  /** `n` pseudo-random bytes. */
  readonly bytes: (n: number) => Uint8Array
  /** One element of a non-empty array. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** A random RFC 4122 version-4 shaped UUID. */
  readonly uuid: () => string
}

export const seededRandom = (seed: number): SeededRandom => {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  const bytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = int(0, 255)
    return out
  }
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(0, items.length - 1)] as A
  const uuid = (): string => {
    const b = bytes(16)
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x40
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
  return { next, int, bytes, pick, uuid }
}
