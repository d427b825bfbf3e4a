/**
 * What the backup controller does about the revisions it observes, as data. A rollout bumps the
 * four operands' revisions in bursts, so a new pod spec is rendered only once the observed set has
 * stopped moving for `settle`, and never more often than once per `minInterval` (backups of a
 * cluster that churns must not fill the disk). All instants are epoch milliseconds.
 */
import { diffRevisions, formatRevisionChange, revisionSetsEqual, type RevisionChange, type RevisionSet } from "./revisions.ts"
import { formatRfc3339Utc, isRfc3339Millis } from "./rfc3339.ts"

export const defaultMinIntervalMs = 60 * 60 * 1000
export const defaultSettleMs = 30 * 1000

export interface DecisionInput {
  /** The revisions the operator CRs report now. */
  readonly observed: RevisionSet
  /** The revisions of the last rendered pod spec; `undefined` when none was ever rendered. */
  readonly lastRendered: RevisionSet | undefined
  /** When the last pod spec was rendered; `undefined` when unknown (no rate limit applies then; see `countableRenderTime`). */
  readonly lastRenderAt: number | undefined
  /** When `observed` was first seen with exactly these revisions (it has not changed since). */
  readonly stableSince: number
  readonly now: number
  /** Least time between two renders; default 1 hour. */
  readonly minIntervalMs?: number
  /** How long `observed` must stay unchanged before it is rendered; default 30 s. */
  readonly settleMs?: number
}

/** Nothing to do: the last rendered spec already names the observed revisions. */
export interface UpToDate {
  readonly _tag: "UpToDate"
}
/** Render a pod spec for `revisions` now. */
export interface Render {
  readonly _tag: "Render"
  readonly revisions: RevisionSet
  readonly changes: ReadonlyArray<RevisionChange>
  /** One line per reason, for the status message and the event. */
  readonly reasons: ReadonlyArray<string>
}
/** The observed revisions differ, but rendering must wait until `at` (settling or rate limit). */
export interface WaitUntil {
  readonly _tag: "WaitUntil"
  readonly at: number
  readonly reason: string
}
export type ControllerDecision = UpToDate | Render | WaitUntil

/**
 * How far ahead of this operator's clock a recorded render time may be and still count: replicas' clocks differ a
 * little. Further ahead, it was written while a clock ran ahead and was set right since: counting from it would hold
 * every render back (and ignore every backup pod, all created before it) until that time came, so it counts as unknown.
 */
export const renderClockSkewMs = 5 * 60_000

/** The last render's time as a sync may count from it at `now`: undefined when unknown or implausibly far ahead. */
export const countableRenderTime = (at: number | undefined, now: number): number | undefined =>
  at !== undefined && at - now > renderClockSkewMs ? undefined : at

const when = (ms: number): string => (isRfc3339Millis(ms) ? formatRfc3339Utc(ms) : `${ms} ms`)
const seconds = (ms: number): string => `${Math.ceil(ms / 1000)}s`

/**
 * The decision for one reconcile. Render exactly when the observed set differs from the last
 * rendered one, has been stable for `settle`, and `minInterval` has passed since the last render
 * (or there was none); otherwise wait until the earliest instant at which both hold. Re-deciding at
 * that instant with nothing else changed yields Render.
 */
export const decide = (input: DecisionInput): ControllerDecision => {
  const { observed, lastRendered, stableSince, now } = input
  const lastRenderAt = countableRenderTime(input.lastRenderAt, now)
  if (lastRendered !== undefined && revisionSetsEqual(observed, lastRendered)) return { _tag: "UpToDate" }
  const minInterval = Math.max(0, input.minIntervalMs ?? defaultMinIntervalMs)
  const settle = Math.max(0, input.settleMs ?? defaultSettleMs)
  const settledAt = stableSince + settle
  const allowedAt = lastRenderAt === undefined ? Number.NEGATIVE_INFINITY : lastRenderAt + minInterval
  const changes = diffRevisions(observed, lastRendered)
  if (now >= settledAt && now >= allowedAt) {
    const reasons =
      lastRendered === undefined
        ? [`no backup pod spec rendered yet; rendering ${changes.map(formatRevisionChange).join(", ")}`]
        : changes.map((c) => `revision changed: ${formatRevisionChange(c)}`)
    return { _tag: "Render", revisions: observed, changes, reasons }
  }
  const at = Math.max(settledAt, allowedAt)
  const reason =
    at === settledAt
      ? `revisions changed (${changes.map(formatRevisionChange).join(", ")}); waiting ${seconds(settle)} without further change, until ${when(at)}, so a rollout in progress is backed up once`
      : `revisions changed (${changes.map(formatRevisionChange).join(", ")}); the last pod spec was rendered at ${when(lastRenderAt!)} and the minimum interval is ${seconds(minInterval)}, so the next render is at ${when(at)}`
  return { _tag: "WaitUntil", at, reason }
}
