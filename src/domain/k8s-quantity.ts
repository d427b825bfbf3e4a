/** Kubernetes resource quantities (`20Gi`, `100m`, `1.5`) as the pod spec takes them, and the bytes a size stands for. */
import { Schema } from "effect"

const quantityPattern = /^([0-9]+)(?:\.([0-9]+))?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/

/** A Kubernetes resource quantity (`20Gi`, `100m`, `1.5`). */
export const Quantity = Schema.String.check(Schema.isPattern(quantityPattern, { expected: "a Kubernetes quantity such as 20Gi or 100m" }))
export type Quantity = typeof Quantity.Type

/** How many bytes a Kubernetes quantity (`20Gi`, `1.5G`, `64Mi`, `500m`) stands for, rounded down; undefined when it is none. */
export const quantityBytes = (quantity: string): number | undefined => {
  const m = quantityPattern.exec(quantity)
  if (m === null) return undefined
  const fraction = m[2] ?? ""
  const [numerator, denominator] = quantityFactors[m[3] ?? ""]!
  // In integers, so 1.15k is 1150 bytes and not 1149 as 1.15 * 1000 in floating point.
  const bytes = (BigInt(`${m[1]}${fraction}`) * numerator) / (denominator * 10n ** BigInt(fraction.length))
  return bytes <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(bytes) : undefined
}

/** Suffix -> [numerator, denominator]: milli, then the decimal (k = 10^3, M = 10^6, ...) and binary (Ki = 2^10, ...) steps. */
const quantityFactors: Readonly<Record<string, readonly [bigint, bigint]>> = {
  "": [1n, 1n],
  m: [1n, 1000n],
  ...Object.fromEntries(["k", "M", "G", "T", "P", "E"].map((unit, i) => [unit, [10n ** BigInt(3 * (i + 1)), 1n]])),
  ...Object.fromEntries(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].map((unit, i) => [unit, [2n ** BigInt(10 * (i + 1)), 1n]])),
}
