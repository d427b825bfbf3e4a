/** The few statistics the benchmarks report. Empty input gives NaN, never a throw. */

export const median = (xs: ReadonlyArray<number>): number => quantile(xs, 0.5)

/** The nearest-rank quantile (q in [0, 1]): always one of the values; for 0.5 on an even count, the mean of the middle two. */
export const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  if (q === 0.5 && s.length % 2 === 0) return (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

/** Least-squares slope of ys over xs (NaN for fewer than two distinct xs). */
export const slope = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): number => {
  const n = Math.min(xs.length, ys.length)
  if (n < 2) return Number.NaN
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? Number.NaN : num / den
}

/** The mean of the first and of the last tenth of the values (at least one each). */
export const firstAndLastTenth = (xs: ReadonlyArray<number>): { readonly first: number; readonly last: number } => {
  const k = Math.max(1, Math.floor(xs.length / 10))
  const mean = (ys: ReadonlyArray<number>) => (ys.length === 0 ? Number.NaN : ys.reduce((a, b) => a + b, 0) / ys.length)
  return { first: mean(xs.slice(0, k)), last: mean(xs.slice(-k)) }
}

/**
 * The order of `n` tools in a round: a Williams design, so over n rounds each tool runs right
 * after each other tool once (a run is slowed by the one just before it: page cache, CPU caches).
 */
export const williamsOrder = (n: number, round: number): ReadonlyArray<number> => {
  const first = Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i % 2 === 1 ? (i + 1) / 2 : n - i / 2))
  return first.map((t) => (t + round) % n)
}
