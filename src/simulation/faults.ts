/**
 * Fault injection for the simulated cluster, shared by its two fronts (the in-process
 * `SimulatedKube.inMemory` Layer and the HTTP stub API server): a schedule ("the next 3 updates of
 * configmaps answer Conflict") and a seeded random policy (probabilities of conflicts, 5xx, 429,
 * timeouts, dropped watches) so that property tests can prove programs converge anyway.
 */
import type { KubeStatus } from "../services/kube/errors.ts"
import { rbacResource, type ResourceType, type Verb } from "../services/kube/resources.ts"
import { seededRandom, type SeededRandom } from "./seeded-random.ts"

export type Fault =
  /** Answer with this Status instead of serving the request (the request has no effect). */
  | { readonly _tag: "Status"; readonly status: KubeStatus }
  /** Never answer (HTTP: hold the request open; in-process: a `Timeout`). When `applied`, the change was made. */
  | { readonly _tag: "Timeout"; readonly applied: boolean }
  /** End a watch connection after `afterEvents` events; `abrupt` resets the TCP connection. */
  | { readonly _tag: "DropWatch"; readonly afterEvents: number; readonly abrupt: boolean }

const status = (code: number, reason: string, message: string, retryAfterSeconds?: number): Fault => ({
  _tag: "Status",
  status: { code, reason, message, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) },
})

export const Fault = {
  status,
  conflict: (): Fault =>
    status(
      409,
      "Conflict",
      "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again (injected)",
    ),
  internalError: (): Fault => status(500, "InternalError", "Internal error occurred (injected)"),
  unavailable: (retryAfterSeconds?: number): Fault =>
    status(503, "ServiceUnavailable", "The server is currently unable to handle the request (injected)", retryAfterSeconds),
  tooManyRequests: (retryAfterSeconds = 1): Fault => status(429, "TooManyRequests", "Too many requests, please try again later (injected)", retryAfterSeconds),
  serverTimeout: (): Fault => status(504, "Timeout", "Timeout: request did not complete within the allowed duration (injected)"),
  forbidden: (): Fault => status(403, "Forbidden", "access denied (injected)"),
  expired: (): Fault => status(410, "Expired", "too old resource version (injected)"),
  timeout: (applied = false): Fault => ({ _tag: "Timeout", applied }),
  dropWatch: (afterEvents = 0, abrupt = true): Fault => ({ _tag: "DropWatch", afterEvents, abrupt }),
}

/** A request as fault rules see it. */
export interface RequestInfo {
  readonly type: ResourceType
  readonly verb: Verb
  readonly namespace?: string
  readonly name?: string
  /** A pod's exec: matched by its RBAC name, `pods/exec`, not as `pods`. */
  readonly subresource?: "exec"
}

/** Which requests a rule applies to; an absent field matches anything. */
export interface FaultMatch {
  readonly verb?: Verb | ReadonlyArray<Verb>
  /** Plural resource name (`configmaps`), or `pods/exec` for a pod's exec. */
  readonly resource?: string
  readonly namespace?: string
  readonly name?: string
}

export interface RandomFaultPolicy {
  readonly seed: number
  /** Probability that an update or patch answers 409 Conflict. */
  readonly conflict?: number
  /** Probability that a request answers 503 (500 for half of them). */
  readonly unavailable?: number
  /** Probability that a request answers 429 with Retry-After: 1. */
  readonly tooManyRequests?: number
  /** Probability that a request gets no answer; half of the timed-out writes were applied. */
  readonly timeout?: number
  /** Probability, after each delivered watch event, that the connection drops. */
  readonly dropWatch?: number
  /** Restrict random faults to these requests. */
  readonly match?: FaultMatch
}

export interface InjectedFault {
  readonly request: RequestInfo
  readonly fault: Fault
}

export interface FaultInjector {
  /** Answer the next `times` (default 1; `Infinity` for always) matching requests with `fault`. */
  readonly inject: (fault: Fault, match?: FaultMatch & { readonly times?: number }) => void
  /** Turn the random policy on (or off with `undefined`). */
  readonly setRandom: (policy: RandomFaultPolicy | undefined) => void
  /** Remove every scheduled rule and the random policy. */
  readonly clear: () => void
  /** The fault for a request (scheduled rules first, in order), or undefined to serve it. */
  readonly decide: (request: RequestInfo) => Fault | undefined
  /** Whether a watch connection drops after the event just delivered (random policy). */
  readonly dropAfterEvent: (request: RequestInfo) => boolean
  /** The faults injected so far, in order (the newest 10000). */
  readonly injected: ReadonlyArray<InjectedFault>
  /** Scheduled injections not yet used. */
  readonly pending: () => number
}

export const matches = (match: FaultMatch | undefined, request: RequestInfo): boolean => {
  if (match === undefined) return true
  const verbs = match.verb === undefined ? undefined : typeof match.verb === "string" ? [match.verb] : match.verb
  return (
    (verbs === undefined || verbs.includes(request.verb)) &&
    (match.resource === undefined || match.resource === rbacResource(request.type, request.subresource)) &&
    (match.namespace === undefined || match.namespace === request.namespace) &&
    (match.name === undefined || match.name === request.name)
  )
}

const writes: ReadonlyArray<Verb> = ["create", "update", "patch", "delete"]
const injectedLogLimit = 10_000

export const makeFaultInjector = (): FaultInjector => {
  const rules: Array<{ fault: Fault; match: FaultMatch | undefined; remaining: number }> = []
  const injected: Array<InjectedFault> = []
  let policy: RandomFaultPolicy | undefined
  let random: SeededRandom | undefined

  const record = (request: RequestInfo, fault: Fault): Fault => {
    injected.push({ request, fault })
    if (injected.length > injectedLogLimit) injected.splice(0, injected.length - injectedLogLimit)
    return fault
  }

  const randomFault = (request: RequestInfo): Fault | undefined => {
    if (policy === undefined || random === undefined || !matches(policy.match, request)) return undefined
    const roll = random.next()
    let edge = 0
    const hit = (p: number | undefined) => {
      edge += p ?? 0
      return roll < edge
    }
    if ((request.verb === "update" || request.verb === "patch") && hit(policy.conflict)) return Fault.conflict()
    if (hit(policy.unavailable)) return random.next() < 0.5 ? Fault.unavailable() : Fault.internalError()
    if (hit(policy.tooManyRequests)) return Fault.tooManyRequests(1)
    if (hit(policy.timeout)) return Fault.timeout(writes.includes(request.verb) && random.next() < 0.5)
    return undefined
  }

  return {
    inject: (fault, match) => {
      const { times, ...rest } = match ?? {}
      rules.push({ fault, match: rest, remaining: times ?? 1 })
    },
    setRandom: (next) => {
      policy = next
      random = next === undefined ? undefined : seededRandom(next.seed)
    },
    clear: () => {
      rules.length = 0
      policy = undefined
      random = undefined
    },
    decide: (request) => {
      const rule = rules.find((r) => r.remaining > 0 && matches(r.match, request) && applicable(r.fault, request))
      if (rule !== undefined) {
        rule.remaining--
        return record(request, rule.fault)
      }
      const fault = randomFault(request)
      return fault === undefined ? undefined : record(request, fault)
    },
    dropAfterEvent: (request) => {
      if (policy?.dropWatch === undefined || random === undefined || !matches(policy.match, request)) return false
      const drop = random.next() < policy.dropWatch
      if (drop) record(request, Fault.dropWatch(0, true))
      return drop
    },
    get injected() {
      return injected
    },
    pending: () => rules.reduce((n, r) => n + (Number.isFinite(r.remaining) ? r.remaining : 1), 0),
  }
}

/** A dropped connection only means something for a watch. */
const applicable = (fault: Fault, request: RequestInfo): boolean => fault._tag !== "DropWatch" || request.verb === "watch"
