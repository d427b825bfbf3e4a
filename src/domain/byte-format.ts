/** Byte counts and transfer progress as people read them. */
const units = ["B", "KiB", "MiB", "GiB", "TiB"]

/** `1.5 GiB`, `512 B`. */
export const formatBytes = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

export interface ProgressSample {
  readonly bytes: number
  /** What the source announced (etcd's reported database size); percent is capped below 100 until done. */
  readonly expectedBytes: number
  readonly elapsedMs: number
  readonly done: boolean
}

/** `snapshot: 512.0 MiB of ~1.0 GiB (50%), 120.3 MiB/s` */
export const formatProgress = (label: string, s: ProgressSample): string => {
  const rate = s.elapsedMs > 0 ? (s.bytes * 1000) / s.elapsedMs : 0
  const raw = s.expectedBytes > 0 ? Math.floor((s.bytes * 100) / s.expectedBytes) : 0
  const percent = s.done ? 100 : Math.min(99, raw)
  const of = s.done ? "" : ` of ~${formatBytes(s.expectedBytes)} (${percent}%)`
  return `${label}: ${formatBytes(s.bytes)}${of}, ${formatBytes(rate)}/s`
}
