/**
 * Leader election through a `coordination.k8s.io/v1` Lease, as pure decisions (the same rules as
 * client-go's leaderelection): the holder renews; others wait until the lease expired, then take
 * it over with an optimistic-concurrency update, so at most one candidate wins a given
 * resourceVersion. As in client-go, a candidate judges expiry by its own clock from when it saw the
 * Lease last change (`LeaseObservation`), never from the holder's `renewTime`: the replicas' clocks
 * need not agree, and a follower whose clock runs ahead does not take over from a leader still acting. A leader stops acting once it could not renew within `renewDeadline` (shorter
 * than the lease duration), so it has stopped before anybody else may take the lease over.
 */

import { formatDuration } from "./durations.ts"

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

/**
 * OpenShift's operator timings (library-go's leader-election defaults, safe on a single-node
 * cluster through an API server restart): ~2 Lease writes a minute instead of client-go's ~29
 * (renewing every 2 s), at the price of a slower takeover (up to 137 s) when a leader dies
 * without releasing the Lease; a leader that stops cleanly releases it at once.
 */
export const defaultElectionTimings = {
  leaseDurationMs: 137_000,
  renewDeadlineMs: 107_000,
  retryPeriodMs: 26_000,
} as const

export type ElectionTimings = Pick<ElectionConfig, "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs">

/**
 * Why these timings cannot work, or undefined. A leader must stop acting (renew deadline) before
 * its Lease expires for the others (lease duration), and must get to try renewing (retry period)
 * before its renew deadline passes.
 */
export const electionTimingsProblem = (t: ElectionTimings): { readonly setting: "renewDeadline" | "retryPeriod"; readonly message: string } | undefined => {
  if (!(t.renewDeadlineMs < t.leaseDurationMs)) {
    return {
      setting: "renewDeadline",
      message: `the renew deadline (${formatDuration(t.renewDeadlineMs)}) must be shorter than the lease duration (${formatDuration(t.leaseDurationMs)}), or two leaders could act at once`,
    }
  }
  if (!(t.retryPeriodMs < t.renewDeadlineMs)) {
    return {
      setting: "retryPeriod",
      message: `the retry period (${formatDuration(t.retryPeriodMs)}) must be shorter than the renew deadline (${formatDuration(t.renewDeadlineMs)}), or the leader loses leadership before it tries to renew`,
    }
  }
  return undefined
}

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

/** The Lease as a candidate last saw it change, and when that was by the candidate's own clock (client-go's observedTime). */
export interface LeaseObservation {
  readonly record: LeaseRecord
  readonly at: number
}

const sameRecord = (a: LeaseRecord, b: LeaseRecord) =>
  a.holderIdentity === b.holderIdentity &&
  a.leaseDurationSeconds === b.leaseDurationSeconds &&
  a.acquireTime === b.acquireTime &&
  a.renewTime === b.renewTime &&
  a.leaseTransitions === b.leaseTransitions

/** What a candidate knows after reading `current` (undefined: there is none) at `now`: the time moves on only when the Lease changed. */
export const observeLease = (previous: LeaseObservation | undefined, current: LeaseRecord | undefined, now: number): LeaseObservation | undefined =>
  current === undefined ? undefined : previous !== undefined && sameRecord(previous.record, current) ? previous : { record: current, at: now }

/** When a lease stops being valid for the candidate that observed it. */
export const leaseExpiry = (observed: LeaseObservation): number => observed.at + observed.record.leaseDurationSeconds * 1000

/**
 * What a candidate does, given what it observed of the Lease (`observeLease` of the read just made)
 * and the time: `now` on the candidate's own monotonic clock (what `observed.at` is measured on, so
 * a step of the wall clock cannot expire a lease), `wallNow` the wall time it writes into the Lease.
 */
export const electionStep = (config: ElectionConfig, observed: LeaseObservation | undefined, now: number, wallNow: number = now): ElectionStep => {
  if (observed === undefined) {
    return {
      _tag: "Create",
      lease: { holderIdentity: config.identity, leaseDurationSeconds: leaseSeconds(config), acquireTime: wallNow, renewTime: wallNow, leaseTransitions: 0 },
    }
  }
  const current = observed.record
  if (current.holderIdentity === config.identity) {
    return { _tag: "Renew", lease: { ...current, leaseDurationSeconds: leaseSeconds(config), renewTime: wallNow } }
  }
  const expiresAt = leaseExpiry(observed)
  if (current.holderIdentity !== "" && now < expiresAt) {
    return { _tag: "Follow", holder: current.holderIdentity, expiresAt }
  }
  return {
    _tag: "Acquire",
    lease: {
      holderIdentity: config.identity,
      leaseDurationSeconds: leaseSeconds(config),
      acquireTime: wallNow,
      renewTime: wallNow,
      leaseTransitions: current.leaseTransitions + 1,
    },
  }
}

/** Whether a leader whose last successful renewal was at `lastRenew` may still act at `now` (both on its monotonic clock). */
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
