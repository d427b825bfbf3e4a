/**
 * A BackupPolicy's conditions (metav1.Condition): Ready says whether the newest backup succeeded (its reason is
 * the `State` printer column), Progressing whether one runs now, Degraded whether something needs a person. A
 * condition keeps its lastTransitionTime while its status stays, so a sync that changes nothing writes nothing.
 */
import type { PolicyCondition } from "./backup-policy.ts"
import { formatRfc3339Utc } from "./rfc3339.ts"
import { proxySecretName } from "./pod-proxy-env.ts"

export type Condition = typeof PolicyCondition.Type

/** What one condition should say; the transition time comes from the condition read. */
export interface ConditionState {
  readonly status: "True" | "False"
  readonly reason: string
  readonly message: string
}

/** Why the policy is Degraded, when something a person must fix (or wait for) stops it from backing up. */
export interface Blocked {
  readonly reason: "InvalidSpec" | "RevisionsUnavailable" | "ProxySecretMissing"
  readonly message: string
}

export interface PolicyFacts {
  /** The policy cannot run as written. */
  readonly invalid: Blocked | undefined
  /** A due run could not start. */
  readonly blocked: Blocked | undefined
  readonly suspended: boolean
  /** The pod taking a backup now (or created by this sync). */
  readonly running: string | undefined
  /** Why that pod's container cannot be started, when it cannot (the kubelet's words). */
  readonly runningStuck?: string | undefined
  /** Its Event while its image is being pulled within the limit of a pull (`Pulling: Pulling image "..."`). */
  readonly runningPulling?: string | undefined
  readonly lastSuccess: { readonly id: string; readonly time: string } | undefined
  readonly failures: number
  readonly lastFailureMessage: string | undefined
  readonly nextScheduleTime: string | undefined
}

const ready = (f: PolicyFacts): ConditionState => {
  if (f.invalid !== undefined) return { status: "False", reason: "InvalidSpec", message: f.invalid.message }
  // The policy's pods cannot start: whatever the newest backup did, the next one will not happen.
  if (f.blocked?.reason === "ProxySecretMissing") return { status: "False", reason: f.blocked.reason, message: f.blocked.message }
  if (f.failures > 0) return { status: "False", reason: "BackupFailed", message: `the newest backup failed: ${f.lastFailureMessage ?? "no reason recorded"}` }
  if (f.lastSuccess !== undefined) {
    return { status: "True", reason: "BackupSucceeded", message: `the newest backup ${f.lastSuccess.id} (${f.lastSuccess.time}) succeeded` }
  }
  return { status: "False", reason: "NoBackupYet", message: "no backup of this policy has completed yet" }
}

const progressing = (f: PolicyFacts): ConditionState => {
  if (f.running !== undefined && f.runningStuck !== undefined) {
    return {
      status: "True",
      reason: "BackupPodNotStarting",
      message: `pod ${f.running} cannot start its ${f.runningStuck}; it fails at its deadline unless the cause is fixed`,
    }
  }
  if (f.running !== undefined) {
    const pulling = f.runningPulling === undefined ? "" : ` (it is starting, its image still being pulled: ${f.runningPulling})`
    return { status: "True", reason: "BackupRunning", message: `pod ${f.running} is taking a backup${pulling}` }
  }
  if (f.invalid !== undefined) return { status: "False", reason: "InvalidSpec", message: "no backup starts until the spec is fixed" }
  if (f.suspended) return { status: "False", reason: "Suspended", message: "spec.suspend is true: no backup starts but one a person asks for (backup-now)" }
  if (f.blocked?.reason === "ProxySecretMissing") {
    return { status: "False", reason: f.blocked.reason, message: `no backup starts until Secret ${proxySecretName} holds the proxy's keys (see Degraded)` }
  }
  const next = f.nextScheduleTime === undefined ? "at the next settled revision change, if the policy backs up on those" : `at ${f.nextScheduleTime}`
  return { status: "False", reason: "Idle", message: `the next backup starts ${next}` }
}

const degraded = (f: PolicyFacts): ConditionState => {
  const blocked = f.invalid ?? f.blocked
  if (blocked !== undefined) return { status: "True", reason: blocked.reason, message: blocked.message }
  if (f.failures > 0) {
    return {
      status: "True",
      reason: "BackupFailed",
      message: `the newest backup failed; retrying with backoff: ${f.lastFailureMessage ?? "no reason recorded"}`,
    }
  }
  return { status: "False", reason: "AsExpected", message: "backups run as the policy says" }
}

/** The three conditions from the facts, keeping the transition time of each whose status did not change. */
export const policyConditions = (
  facts: PolicyFacts,
  previous: ReadonlyArray<Condition> | undefined,
  generation: number | undefined,
  now: number,
): ReadonlyArray<Condition> => {
  const states: ReadonlyArray<readonly [string, ConditionState]> = [
    ["Ready", ready(facts)],
    ["Progressing", progressing(facts)],
    ["Degraded", degraded(facts)],
  ]
  return states.map(([type, state]) => {
    const before = previous?.find((c) => c.type === type)
    return {
      type,
      status: state.status,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      lastTransitionTime: before?.status === state.status ? before.lastTransitionTime : formatRfc3339Utc(now),
      reason: state.reason,
      message: state.message,
    }
  })
}

/** Whether the conditions read already say `state` for `type` (status, reason and message). */
export const conditionSays = (conditions: ReadonlyArray<Condition> | undefined, type: string, state: ConditionState): boolean => {
  const c = conditions?.find((x) => x.type === type)
  return c !== undefined && c.status === state.status && c.reason === state.reason && c.message === state.message
}
