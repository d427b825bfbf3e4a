/**
 * `latest` in place of a backup id (`download STORE latest DIR`, `verify`/`restore STORE --backup-id
 * latest`): the store's newest complete backup, chosen from its listing, so that a restore in a
 * hurry needs no `list` first. A backup id is its timestamp, so `latest` can never be one.
 * Passed over, and named with the reason when newer than the one chosen:
 * - an incomplete backup (an upload under way, or one that failed);
 * - a complete backup whose manifest names another backup (copied or moved under this id: the
 *   download refuses it);
 * - a backup dated more than `futureSkewMs` ahead of the clock (a node whose clock ran fast took
 *   it): it would be "the newest" for ever, as retention also says.
 */
import { isBackupTimestamp, parseBackupTimestamp } from "./archive-names.ts"
import { futureSkewMs } from "./retention.ts"

export const latestBackupId = "latest"

export interface LatestCandidate {
  readonly id: string
  readonly complete: boolean
  /** The timestamp its manifest names, when it has a readable one. */
  readonly manifestTimestamp: string | undefined
}

export interface PassedOver {
  readonly id: string
  readonly reason: string
}

export interface LatestRanking {
  /** The fit backups, newest first: the first is `latest` (the next ones for a caller that refuses it, e.g. unsigned). */
  readonly fit: ReadonlyArray<string>
  /** The backups newer than the first fit one (every one, when none is fit), newest first, each with why it is passed over. */
  readonly passedOver: ReadonlyArray<PassedOver>
}

/** Why `c` cannot be `latest`, or undefined when it can. */
const unfit = (c: LatestCandidate, now: number): string | undefined => {
  if (!c.complete) return "incomplete (see list)"
  if (c.manifestTimestamp !== c.id) return `its manifest describes backup ${c.manifestTimestamp ?? "(none)"}: copied or moved under this id`
  const at = parseBackupTimestamp(c.id).getTime()
  if (at > now + futureSkewMs) return `dated ahead of this clock (${new Date(now).toISOString()}): the clock that took it or this one is wrong`
  return undefined
}

/** The fit candidates newest first, and the unfit ones newer than them; ids that are not backup timestamps are not backups and are ignored. */
export const rankLatest = (candidates: ReadonlyArray<LatestCandidate>, now: number): LatestRanking => {
  const newestFirst = candidates.filter((c) => isBackupTimestamp(c.id)).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
  const fit: Array<string> = []
  const passedOver: Array<PassedOver> = []
  for (const c of newestFirst) {
    const reason = unfit(c, now)
    if (reason === undefined) fit.push(c.id)
    else if (fit.length === 0) passedOver.push({ id: c.id, reason })
  }
  return { fit, passedOver }
}
