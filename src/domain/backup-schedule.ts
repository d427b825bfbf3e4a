/**
 * When a backup policy's next backup is due: effect's `Cron` (IANA time zones, DST overlaps resolved
 * by `onDstOverlap`) decides the wall-clock schedule; this module adds what a controller needs on top
 * of it, as one pure decision over plain data (instants are epoch milliseconds, no Clock inside).
 *
 * - Schedule: the newest due time in (lastScheduleTime, now]. When the operator was down over several
 *   due times, one run stands for all of them (a catch-up), then the schedule resumes.
 * - Revision change: a settled change of the operands' revisions starts a run, never sooner than
 *   `minInterval` after the previous run started.
 * - Retry: after a failure, exponential backoff (capped), but a retry is never planned later than the
 *   next scheduled time, and backoff never delays or skips a scheduled run.
 */
import { Cron, Result, Schema } from "effect"

export class BackupScheduleInvalid extends Schema.TaggedError<BackupScheduleInvalid>()("BackupScheduleInvalid", {
  schedule: Schema.String,
  timeZone: Schema.String,
  message: Schema.String,
}) {}

/** Whether `cron` ever comes: effect parses a date no month has (`0 0 31 2 *`) and then throws from `Cron.next`. */
const comes = (cron: Cron.Cron): boolean => {
  try {
    Cron.next(cron, 0)
    return true
  } catch {
    return false
  }
}

/** The descriptors a Kubernetes CronJob's schedule takes, as the 5-field expressions they stand for. */
export const scheduleDescriptors: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
}

/** The 5 fields of `schedule` (a descriptor's), or why it has no such fields: effect's Cron would read 6 as seconds first. */
const fiveFields = (schedule: string): Result.Result<string, string> => {
  const text = schedule.trim()
  if (text.startsWith("@")) {
    const fields = scheduleDescriptors[text.toLowerCase()]
    return fields === undefined
      ? Result.fail(`${text} is no descriptor: use one of ${Object.keys(scheduleDescriptors).join(", ")}, or 5 fields`)
      : Result.succeed(fields)
  }
  if (/^(CRON_)?TZ=/.test(text)) return Result.fail("a time zone goes in spec.timeZone, not in the schedule")
  const count = text === "" ? 0 : text.split(/\s+/).length
  if (count === 5) return Result.succeed(text)
  return Result.fail(
    `it has ${count} field${count === 1 ? "" : "s"}, not the 5 of minute, hour, day of month, month and day of week${count === 6 ? " (no seconds field)" : ""}`,
  )
}

/**
 * The policy's cron expression (5 fields, minute first, or a CronJob's descriptor such as `@daily`) in its time zone
 * (UTC when none); a repeated local hour runs once, at its first occurrence. An expression that parses but names no
 * date that exists (31 February) is refused here, not thrown from `nextDue` in the middle of a sync.
 */
export const parseSchedule = (schedule: string, timeZone: string | undefined): Result.Result<Cron.Cron, BackupScheduleInvalid> => {
  const zone = timeZone ?? "UTC"
  const invalid = (why: string) =>
    new BackupScheduleInvalid({
      schedule,
      timeZone: zone,
      message: `spec.schedule "${schedule}" in time zone "${zone}" is not usable: ${why}; use a 5-field cron expression and an IANA zone`,
    })
  const fields = fiveFields(schedule)
  if (Result.isFailure(fields)) return Result.fail(invalid(fields.failure))
  const parsed = Result.mapError(Cron.parse(fields.success, zone, { onDstOverlap: "earlier" }), (e) => invalid(e.message))
  return Result.isSuccess(parsed) && !comes(parsed.success) ? Result.fail(invalid("it names no date that exists (a day past the end of its months)")) : parsed
}

/** The first due time strictly after `after`. */
export const nextDue = (cron: Cron.Cron, after: number): number => Cron.next(cron, after).getTime()

/** The newest due time at or before `now`. */
export const latestDue = (cron: Cron.Cron, now: number): number => {
  // Cron.prev is not guaranteed to give the nearest instant next to a DST gap: step forward to it.
  let latest = Cron.prev(cron, now + 1).getTime()
  for (let next = nextDue(cron, latest); next <= now; next = nextDue(cron, latest)) latest = next
  return latest
}

/**
 * The schedule's interval around `next` (a due time): the longer of the gap from the due time before it and the gap
 * before that one, so that an uneven schedule (Mondays to Fridays) counts the long gap (the weekend) both while it
 * passes and at the run that ends it. A regular schedule's period.
 */
export const scheduleInterval = (cron: Cron.Cron, next: number): number => {
  const latest = latestDue(cron, next - 1)
  return Math.max(next - latest, latest - latestDue(cron, latest - 1))
}

export interface Backoff {
  readonly baseMillis: number
  readonly capMillis: number
}

export const defaultBackoff: Backoff = { baseMillis: 60_000, capMillis: 3_600_000 }

/** The delay before retry number `failures` (1 = first retry): base * 2^(failures-1), at most the cap. */
export const backoffDelay = (backoff: Backoff, failures: number): number =>
  Math.min(backoff.capMillis, backoff.baseMillis * 2 ** Math.min(Math.max(failures - 1, 0), 52))

export interface ScheduleState {
  readonly now: number
  readonly suspend: boolean
  /** A backup of this policy is running now: one at a time. */
  readonly active: boolean
  /** The due time the last scheduled run stood for; the policy's creation time before any run. */
  readonly lastScheduleTime: number
  /** When the last run of any trigger started, if one ever did. */
  readonly lastRunStart: number | undefined
  /** Whether the operands' revisions settled on values no backup holds yet (only when onRevisionChange). */
  readonly revisionChangePending: boolean
  /** A person asked for a backup (the policy's request annotation) that no run has started for yet. */
  readonly requestPending: boolean
  readonly minIntervalMillis: number
  /** Failures since the last success, and when the newest ended. */
  readonly consecutiveFailures: number
  readonly lastFailureTime: number | undefined
  readonly backoff: Backoff
}

export type Trigger = "Schedule" | "CatchUp" | "RevisionChange" | "Retry" | "Requested"

export type ScheduleDecision =
  /** Start a run now. `scheduledTime` (Schedule, CatchUp) becomes the new lastScheduleTime. */
  | {
      readonly _tag: "Start"
      readonly trigger: Trigger
      readonly scheduledTime: number | undefined
      readonly nextScheduleTime: number | undefined
    }
  /** Nothing to start; reconcile again at `wakeAt` (the earliest pending trigger; undefined: none, wait for events). */
  | { readonly _tag: "Wait"; readonly wakeAt: number | undefined; readonly nextScheduleTime: number | undefined }
  | { readonly _tag: "Suspended" }

/** When a retry of the last failure is due, never later than the next scheduled time; undefined when none is owed. */
const retryAt = (s: ScheduleState, nextScheduled: number | undefined): number | undefined =>
  s.consecutiveFailures > 0 && s.lastFailureTime !== undefined
    ? Math.min(s.lastFailureTime + backoffDelay(s.backoff, s.consecutiveFailures), nextScheduled ?? Number.POSITIVE_INFINITY)
    : undefined

const revisionAt = (s: ScheduleState): number | undefined =>
  s.revisionChangePending ? (s.lastRunStart === undefined ? s.now : s.lastRunStart + s.minIntervalMillis) : undefined

/**
 * How far ahead of this operator's clock a recorded schedule time may be and still count: replicas' clocks differ a
 * little (a run taken by a leader whose clock is ahead). Further ahead, the clock that wrote it ran ahead and was set
 * right since; counting from there would skip every run until that time comes, so the schedule counts from now.
 */
export const scheduleClockSkewMs = 5 * 60_000

/**
 * What the policy wants at `s.now`: start a run (and why), or wait until a given instant. `cron` is undefined for
 * a policy without a schedule (revision changes and retries only).
 */
export const decideSchedule = (cron: Cron.Cron | undefined, s: ScheduleState): ScheduleDecision => {
  const since = s.lastScheduleTime - s.now > scheduleClockSkewMs ? s.now : s.lastScheduleTime
  const firstDue = cron === undefined ? undefined : nextDue(cron, since)
  const nextScheduled = cron === undefined || firstDue === undefined ? undefined : firstDue > s.now ? firstDue : nextDue(cron, s.now)
  // A person is waiting for it: it runs next, suspended or not, and regardless of minInterval and the retry backoff.
  if (s.requestPending && !s.active) {
    return { _tag: "Start", trigger: "Requested", scheduledTime: undefined, nextScheduleTime: s.suspend ? undefined : nextScheduled }
  }
  if (s.suspend) return { _tag: "Suspended" }
  const retry = retryAt(s, firstDue)
  const revision = revisionAt(s)
  const candidates = [firstDue, retry, revision].filter((t): t is number => t !== undefined)
  const earliest = candidates.length === 0 ? undefined : Math.max(s.active ? s.now + 1 : s.now, Math.min(...candidates))
  const wait: ScheduleDecision = { _tag: "Wait", wakeAt: earliest, nextScheduleTime: nextScheduled }
  if (s.active) return wait
  if (cron !== undefined && firstDue !== undefined && firstDue <= s.now) {
    const due = latestDue(cron, s.now)
    return { _tag: "Start", trigger: due > firstDue ? "CatchUp" : "Schedule", scheduledTime: due, nextScheduleTime: nextScheduled }
  }
  if (retry !== undefined && retry <= s.now) return { _tag: "Start", trigger: "Retry", scheduledTime: undefined, nextScheduleTime: nextScheduled }
  if (revision !== undefined && revision <= s.now) {
    return { _tag: "Start", trigger: "RevisionChange", scheduledTime: undefined, nextScheduleTime: nextScheduled }
  }
  return wait
}
