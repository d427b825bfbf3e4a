/**
 * How long a rendered backup pod keeps its backup for `oc cp`: its backup-hold container's `--duration`, and once that
 * container runs, until when.
 */
import { Result } from "effect"
import { backupHoldContainerName } from "./backup-pod-names.ts"
import { parseDuration } from "./durations.ts"
import { parseRfc3339Utc } from "./rfc3339.ts"

export interface HoldWindow {
  readonly durationMs: number
  /** When the hold ends; undefined until the container runs. */
  readonly untilMs: number | undefined
}

/** What `holdWindow` reads of a container's status. */
export interface RunningState {
  readonly name: string
  readonly state?: { readonly running?: { readonly startedAt?: string | null | undefined } | undefined } | undefined
}

const isNamed = (c: unknown): c is { readonly name: unknown; readonly command?: unknown } => typeof c === "object" && c !== null && "name" in c

/** The pod spec's hold window; undefined for a pod with no backup-hold container or none with a readable `--duration`. */
export const holdWindow = (containers: unknown, statuses: ReadonlyArray<RunningState>): HoldWindow | undefined => {
  const hold = Array.isArray(containers) ? containers.find((c: unknown) => isNamed(c) && c.name === backupHoldContainerName) : undefined
  const command: ReadonlyArray<unknown> = Array.isArray(hold?.command) ? hold.command : []
  const at = command.indexOf("--duration")
  const text = at < 0 ? undefined : command[at + 1]
  const duration = typeof text === "string" ? parseDuration(text) : undefined
  if (duration === undefined || Result.isFailure(duration)) return undefined
  const started = statuses.find((s) => s.name === backupHoldContainerName)?.state?.running?.startedAt
  const startedMs = started === undefined || started === null ? undefined : parseRfc3339Utc(started)
  return { durationMs: duration.success, untilMs: startedMs === undefined ? undefined : startedMs + duration.success }
}
