/**
 * The raw JSON exchange underneath the `Kube` service: one request, or one watch connection,
 * against an endpoint of the resource table. The live transport speaks HTTP through
 * `@kubernetes/client-node`; the simulated one calls the in-memory cluster. Decoding, retries and
 * watch resumption sit above, in `kube.ts` and `watch.ts`, shared by both.
 */
import type { Effect, Stream } from "effect"
import { ExecCommandFailed, type KubeError, type ResourceRef } from "./errors.ts"
import type { Endpoint, Verb } from "./resources.ts"

export type RequestVerb = Exclude<Verb, "watch">

export interface TransportRequest {
  readonly endpoint: Endpoint
  readonly verb: RequestVerb
  readonly namespace?: string
  readonly name?: string
  /** JSON body: the object for create/update, the merge patch for patch. */
  readonly body?: unknown
  readonly labelSelector?: string
  /** `metadata.name=<name>`: the only field selector used (RBAC can then limit list/watch by name). */
  readonly fieldSelector?: string
}

export interface TransportWatch {
  readonly endpoint: Endpoint
  readonly namespace?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  /** Deliver the changes after this resourceVersion. */
  readonly resourceVersion: string
}

/** A command to run in a container of a running pod (`pods/<name>/exec`), its stdout streamed back; no stdin, no TTY. */
export interface TransportExec {
  readonly namespace: string
  readonly pod: string
  readonly container: string
  readonly command: ReadonlyArray<string>
}

/** One line of a watch stream, `ERROR` already turned into a failure (`Expired` for 410). */
export interface RawWatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"
  readonly object: unknown
}

export interface KubeTransport {
  /** One attempt; the decoded JSON response body on 2xx, a tagged error otherwise. */
  readonly request: (request: TransportRequest) => Effect.Effect<unknown, KubeError>
  /** One watch connection; ends when the connection ends (cleanly or by the server's timeout). */
  readonly watch: (request: TransportWatch) => Stream.Stream<RawWatchEvent, KubeError>
  /**
   * One exec connection: the command's stdout, pulled (a slow consumer holds the sender back). The stream ends only once
   * the command exited 0; any other exit, or a connection that ends without the exit status, fails it.
   */
  readonly exec: (request: TransportExec) => Stream.Stream<Uint8Array, KubeError | ExecCommandFailed>
}

/** The resource a request is about, for error messages (a create's name comes from its body). */
export const refOf = (request: { readonly endpoint: Endpoint; readonly namespace?: string; readonly name?: string; readonly body?: unknown }): ResourceRef => {
  const metadata = typeof request.body === "object" && request.body !== null ? (request.body as { metadata?: unknown }).metadata : undefined
  const bodyName = typeof metadata === "object" && metadata !== null ? (metadata as { name?: unknown }).name : undefined
  const name = request.name ?? (typeof bodyName === "string" ? bodyName : undefined)
  return {
    kind: request.endpoint.type.kind,
    ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
    ...(name === undefined ? {} : { name }),
  }
}

/** Guards the contract that makes `kubeApiPermissions` exact: only listed verbs are issued. */
export const assertVerbAllowed = (endpoint: Endpoint, verb: Verb): void => {
  if (!endpoint.verbs.includes(verb)) {
    throw new Error(`BUG: ${verb} on ${endpoint.type.resource} is not in the endpoint table (resources.ts)`)
  }
}

/** The failure of an exec'd command: `exitCode` when it exited with one, else `detail` says how it ended. */
export const execFailure = (request: TransportExec, exitCode: number | undefined, detail: string, stderr: string): ExecCommandFailed =>
  new ExecCommandFailed({
    namespace: request.namespace,
    pod: request.pod,
    container: request.container,
    command: [...request.command],
    ...(exitCode === undefined ? {} : { exitCode }),
    stderr,
    message: `\`${request.command.join(" ")}\` in container ${request.container} of pod ${request.namespace}/${request.pod}: ${
      exitCode === undefined ? detail : `exit status ${exitCode}`
    }${stderr.trim() === "" ? "" : ` (stderr: ${stderr.trim()})`}`,
  })
