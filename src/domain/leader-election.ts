/**
 * Leader election through a `coordination.k8s.io/v1` Lease, as pure decisions (the same rules as
 * client-go's leaderelection): the holder renews; others wait until the lease expired, then take
 * it over with an optimistic-concurrency update, so at most one candidate wins a given
 * resourceVersion. A leader stops acting once it could not renew within `renewDeadline` (shorter
 * than the lease duration), so it has stopped before anybody else may take the lease over.
 */

/** The fields of a Lease's spec that election reads and writes (times as epoch milliseconds). */
export interface LeaseRecord {
  readonly holderIdentity: string
  readonly leaseDurationSeconds: number
  readonly acquireTime: number
  readonly renewTime: number
  readonly leaseTransitions: number
}

export interface ElectionConfig {
  readonly identity: string
  /** How long a lease is valid after its last renewal. */
  readonly leaseDurationMs: number
  /** A leader that has not renewed for this long stops acting (must be < leaseDurationMs). */
  readonly renewDeadlineMs: number
  /** How often candidates and leaders try. */
  readonly retryPeriodMs: number
}

export const defaultElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const

export type ElectionStep =
  /** No Lease exists: create it, holding it. */
  | { readonly _tag: "Create"; readonly lease: LeaseRecord }
  /** We hold it: write a fresh renewTime. */
  | { readonly _tag: "Renew"; readonly lease: LeaseRecord }
  /** It expired or was released: take it over (conditional on the read resourceVersion). */
  | { readonly _tag: "Acquire"; readonly lease: LeaseRecord }
  /** Someone else holds a valid lease: try again at `retryAt`. */
  | { readonly _tag: "Follow"; readonly holder: string; readonly expiresAt: number }

const leaseSeconds = (config: ElectionConfig) => Math.max(1, Math.ceil(config.leaseDurationMs / 1000))

/** When a lease stops being valid. */
export const leaseExpiry = (lease: LeaseRecord): number => lease.renewTime + lease.leaseDurationSeconds * 1000

/** What a candidate does, given the Lease it just read (undefined: there is none) and the time. */
export const electionStep = (config: ElectionConfig, current: LeaseRecord | undefined, now: number): ElectionStep => {
  if (current === undefined) {
    return {
      _tag: "Create",
      lease: { holderIdentity: config.identity, leaseDurationSeconds: leaseSeconds(config), acquireTime: now, renewTime: now, leaseTransitions: 0 },
    }
  }
  if (current.holderIdentity === config.identity) {
    return { _tag: "Renew", lease: { ...current, leaseDurationSeconds: leaseSeconds(config), renewTime: now } }
  }
  const expiresAt = leaseExpiry(current)
  if (current.holderIdentity !== "" && now < expiresAt) {
    return { _tag: "Follow", holder: current.holderIdentity, expiresAt }
  }
  return {
    _tag: "Acquire",
    lease: {
      holderIdentity: config.identity,
      leaseDurationSeconds: leaseSeconds(config),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: current.leaseTransitions + 1,
    },
  }
}

/** Whether a leader whose last successful renewal was at `lastRenew` may still act at `now`. */
export const mayAct = (config: ElectionConfig, lastRenew: number | undefined, now: number): boolean =>
  lastRenew !== undefined && now - lastRenew < config.renewDeadlineMs

/** The Lease a leader writes when it shuts down, so a successor need not wait for expiry. */
export const releasedLease = (current: LeaseRecord, now: number): LeaseRecord => ({
  ...current,
  holderIdentity: "",
  leaseDurationSeconds: 1,
  renewTime: now,
})

/** Kubernetes MicroTime (`2006-01-02T15:04:05.000000Z`) of an instant. */
export const formatMicroTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")

/** An instant from a Kubernetes MicroTime or Time string; undefined when unparsable. */
export const parseKubeTime = (text: string): number | undefined => {
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms
}
