/**
 * The live transport: Kubernetes REST over HTTP(S) with `@kubernetes/client-node`.
 *
 * The client's `KubeConfig` loads the configuration (in-cluster service account or kubeconfig,
 * with every auth plugin it supports) and authenticates each request; its HTTP library (undici,
 * with the TLS dispatcher the config builds) carries it. Requests are built from the endpoint
 * table rather than the generated per-type API classes: those deserialize into model classes
 * (timestamps become Dates, unknown fields are dropped) and drop the Status body of a 401, while
 * the Schemas here want the API's JSON as sent, and the table is what the RBAC test checks.
 */
import { createHash } from "node:crypto"
import { existsSync, statSync } from "node:fs"
import { homedir } from "node:os"
import { delimiter, join } from "node:path"
// The modules themselves, not the package's index: it loads every generated API class and model
// (~2 MB of code the operator never runs; bench/OPERATOR-MEMORY.md).
import { KubeConfig } from "@kubernetes/client-node/dist/config.js"
import { HttpMethod, RequestContext } from "@kubernetes/client-node/dist/gen/http/http.js"
import { IsomorphicFetchHttpLibrary } from "@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js"
import { Effect, Result, Schema, Stream } from "effect"
import { clientSideError, errorFromStatus, KubeResponseInvalid, StatusBody, StatusReason, Unauthorized, type KubeError, type ResourceRef } from "./errors.ts"
import { resourcePath, type Endpoint } from "./resources.ts"
import { assertVerbAllowed, refOf, type KubeTransport, type RawWatchEvent, type RequestVerb } from "./transport.ts"
import { failureText } from "../../domain/failure-text.ts"
import { credentialsFailureDetail } from "./credentials-failure.ts"
import { kubeProxySchemes, proxyFor, shownProxy, type ProxyEnv } from "../../domain/proxy-choice.ts"
import { shortList } from "../../domain/short-list.ts"
import { tlsCodeOf } from "../tls-failure.ts"

/** Where the API server and credentials come from. */
export type KubeConfigSource =
  /** The pod's service account (KUBERNETES_SERVICE_HOST/PORT, token and CA under /var/run/secrets). */
  | { readonly _tag: "InCluster" }
  /** A kubeconfig file (the `--kubeconfig` flag), at its current context or the one named (`--context`). */
  | { readonly _tag: "File"; readonly path: string; readonly context?: string }
  /**
   * Like controller-runtime: `KUBECONFIG`, else in-cluster when in a pod, else `~/.kube/config`. A context named
   * (`--context`) is a kubeconfig's, so the pod's service account is then not tried.
   */
  | { readonly _tag: "Default"; readonly context?: string }

export const KubeConfigSource = {
  inCluster: { _tag: "InCluster" } as KubeConfigSource,
  file: (path: string): KubeConfigSource => ({ _tag: "File", path }),
  default: { _tag: "Default" } as KubeConfigSource,
  /** The `--kubeconfig` flag's value when given, else the default resolution; `--context`'s when given. */
  fromFlags: (kubeconfig: string | undefined, context?: string): KubeConfigSource => {
    const named = context === undefined || context === "" ? {} : { context }
    return kubeconfig === undefined || kubeconfig === "" ? { _tag: "Default", ...named } : { _tag: "File", path: kubeconfig, ...named }
  },
}

export class KubeConfigInvalid extends Schema.TaggedError<KubeConfigInvalid>()("KubeConfigInvalid", {
  /** Which configuration was tried (a path, `KUBECONFIG=...`, `in-cluster`). */
  source: Schema.String,
  message: Schema.String,
}) {}

const inClusterSource = "in-cluster service account"
const serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"

const inPod = (env: NodeJS.ProcessEnv): boolean =>
  (env.KUBERNETES_SERVICE_HOST ?? "") !== "" && (env.KUBERNETES_SERVICE_PORT ?? "") !== "" && existsSync(serviceAccountToken)

type DispatcherFactory = (cluster: ReturnType<KubeConfig["getCurrentCluster"]>, agentOptions: object) => unknown
const createDispatcherOf = (config: KubeConfig) => (config as unknown as { createDispatcher: DispatcherFactory }).createDispatcher

/** What a dispatcher's TLS material and proxy are, as a short key (buffers by their sha256). */
const dispatcherKey = (options: unknown): string =>
  createHash("sha256")
    .update(
      JSON.stringify(options, function (this: unknown, key: string, value: unknown) {
        const raw = (this as Record<string, unknown>)[key]
        return Buffer.isBuffer(raw) ? createHash("sha256").update(raw).digest("hex") : value
      }),
    )
    .digest("hex")

/**
 * client-node 2.0 builds a new undici Agent, with its own connection pool, for every request:
 * each request opened a fresh (TLS) connection that stayed open until undici's keep-alive ended,
 * hundreds of them at a time under load, ~1 MiB of RSS per revision bump (bench/OPERATOR-MEMORY.md).
 * This keeps one dispatcher while the TLS material and proxy stay the same (a rotated certificate
 * makes a new one; the old one closes once its requests are done). `createDispatcher` is private in
 * client-node's types; the version is pinned and test/services/kube/live-kube.test.ts counts the
 * connections.
 */
const shareDispatcher = (config: KubeConfig): KubeConfig => {
  const create = createDispatcherOf(config).bind(config)
  let current: { readonly key: string; readonly dispatcher: unknown } | undefined
  const shared: DispatcherFactory = (cluster, agentOptions) => {
    const key = dispatcherKey(config.createDispatcherOptions(cluster, agentOptions))
    if (current?.key !== key) {
      const previous = current?.dispatcher as { close?: () => Promise<void> } | undefined
      previous?.close?.().catch(() => undefined)
      current = { key, dispatcher: create(cluster, agentOptions) }
    }
    return current.dispatcher
  }
  ;(config as unknown as { createDispatcher: DispatcherFactory }).createDispatcher = shared
  return config
}

/**
 * Why a configuration could not be loaded. A YAML error's message quotes the lines around the fault, which in a
 * kubeconfig are its token and keys: only the reason and the position are told.
 */
const configProblem = (cause: unknown): string => {
  const { name, reason, mark } = (typeof cause === "object" && cause !== null ? cause : {}) as {
    name?: unknown
    reason?: unknown
    mark?: { line?: unknown; column?: unknown }
  }
  if (name !== "YAMLException" || typeof reason !== "string") return failureText(cause)
  const { line, column } = mark ?? {}
  return typeof line === "number" && typeof column === "number" ? `invalid YAML: ${reason} (line ${line + 1}, column ${column + 1})` : `invalid YAML: ${reason}`
}

/**
 * The current cluster with the proxy the environment names for its server, as kubectl and client-go take it
 * (`proxyFor`: HTTPS_PROXY/HTTP_PROXY unless NO_PROXY names the host, never for loopback), where its entry names no
 * `proxy-url` of its own. In a pod behind OpenShift's cluster-wide proxy, the noProxy list holds the service network,
 * so the API server's service address is reached directly. A variable that is no proxy URL is refused, naming it.
 */
const withEnvironmentProxy = (config: KubeConfig, env: ProxyEnv): KubeConfig => {
  const cluster = config.getCurrentCluster()
  if (cluster === null || (cluster.proxyUrl ?? "") !== "") return config
  const choice = proxyFor(env, new URL(cluster.server), kubeProxySchemes)
  if (choice._tag === "Invalid") throw new Error(choice.message)
  if (choice._tag === "Direct") return config
  // As Go's SOCKS5 dialer (kubectl): the proxy resolves the name, which may resolve only beyond an `ssh -D` tunnel.
  const proxyUrl = choice.url.protocol === "socks5:" ? choice.url.href.replace(/^socks5:/, "socks5h:") : choice.url.href
  config.clusters = config.clusters.map((c) => (c.name === cluster.name ? { ...c, proxyUrl } : c))
  return config
}

/** ` through the proxy <origin>` when the current cluster is reached through one, for messages (never its credentials). */
const throughProxy = (config: KubeConfig): string => {
  const proxy = config.getCurrentCluster()?.proxyUrl ?? ""
  return proxy !== "" && URL.canParse(proxy) ? ` through the proxy ${shownProxy(new URL(proxy))}` : ""
}

/** Loads the client configuration; the error says what was tried and what to do. */
export const loadKubeConfig = (source: KubeConfigSource, env: NodeJS.ProcessEnv = process.env): Effect.Effect<KubeConfig, KubeConfigInvalid> =>
  Effect.suspend(() => {
    const config = new KubeConfig()
    // The client reads synchronously: a FIFO would block the main thread, and with it every signal.
    const loadFile = (into: KubeConfig, file: string) => {
      if (!statSync(file).isFile()) throw new Error(`${file} is not a regular file`)
      into.loadFromFile(file)
    }
    const context = source._tag === "InCluster" ? undefined : source.context
    const attempt = (described: string, load: () => void) =>
      Effect.try({
        try: () => {
          load()
          if (context !== undefined) {
            if (config.getContextObject(context) === null)
              throw new Error(
                config.contexts.length === 0
                  ? `--context ${context}: it has no contexts`
                  : `--context ${context}: it has no context of that name (its contexts: ${shortList(config.contexts.map((c) => c.name))})`,
              )
            config.setCurrentContext(context)
          }
          const cluster = config.getCurrentCluster()
          if (cluster === null) throw new Error("it names no current context with a cluster")
          if (!/^https?:\/\//.test(cluster.server)) throw new Error(`its server "${cluster.server}" is not an http(s) URL`)
          // client-node refuses it at each request, in words that read as a failed login.
          if (cluster.server.startsWith("http://") && cluster.skipTLSVerify !== true)
            throw new Error(
              `its server "${cluster.server}" is plain http, which the Kubernetes client takes only from a cluster entry with ` +
                "insecure-skip-tls-verify: true (a local kubectl proxy); give the API server's https URL",
            )
          return shareDispatcher(withEnvironmentProxy(config, env))
        },
        catch: (cause) =>
          new KubeConfigInvalid({
            source: described,
            message: `cannot use the Kubernetes configuration from ${described}: ${configProblem(cause)}`,
          }),
      }).pipe(
        Effect.tap((loaded) =>
          Effect.logInfo(
            `Kubernetes API ${loaded.getCurrentCluster()?.server}${throughProxy(loaded)} (${described === inClusterSource ? described : `context ${loaded.getCurrentContext()} of ${described}`})`,
          ),
        ),
      )
    switch (source._tag) {
      case "File":
        return attempt(source.path, () => loadFile(config, source.path))
      case "InCluster":
        return inPod(env)
          ? attempt(inClusterSource, () => config.loadFromCluster())
          : Effect.fail(
              new KubeConfigInvalid({
                source: inClusterSource,
                message: `not running in a pod: KUBERNETES_SERVICE_HOST/PORT are unset or ${serviceAccountToken} is missing; pass --kubeconfig instead`,
              }),
            )
      case "Default": {
        const fromEnv = (env.KUBECONFIG ?? "").split(delimiter).filter((file) => file !== "")
        if (fromEnv.length > 0) {
          // As kubectl: the first file to set the current context, or a cluster, user or context of a name, wins; later
          // ones add to it (client-node's mergeConfig refuses a name already there, as two installers' kubeconfigs share `admin`).
          return attempt(`KUBECONFIG=${fromEnv.join(delimiter)}`, () => {
            loadFile(config, fromEnv[0] ?? "")
            const unnamed = <A extends { readonly name: string }>(have: ReadonlyArray<A>, more: ReadonlyArray<A>) =>
              more.filter((entry) => !have.some((had) => had.name === entry.name))
            for (const file of fromEnv.slice(1)) {
              const more = new KubeConfig()
              loadFile(more, file)
              more.clusters = unnamed(config.clusters, more.clusters)
              more.users = unnamed(config.users, more.users)
              more.contexts = unnamed(config.contexts, more.contexts)
              config.mergeConfig(more, (config.currentContext ?? "") !== "")
            }
          })
        }
        if (inPod(env) && context === undefined) return attempt(inClusterSource, () => config.loadFromCluster())
        const home = join(homedir(), ".kube", "config")
        if (existsSync(home)) return attempt(home, () => loadFile(config, home))
        return Effect.fail(
          new KubeConfigInvalid({
            source: "default",
            message:
              context === undefined
                ? `no Kubernetes configuration found: pass --kubeconfig <file>, set KUBECONFIG, create ${home}, or run inside a pod`
                : `no kubeconfig found to take --context ${context} from: pass --kubeconfig <file>, set KUBECONFIG or create ${home}`,
          }),
        )
      }
    }
  })

/** The `labelSelector` and `fieldSelector` query parameters of a request, when given. */
const selectorQuery = (request: { readonly labelSelector?: string; readonly fieldSelector?: string }): Record<string, string> => ({
  ...(request.labelSelector === undefined || request.labelSelector === "" ? {} : { labelSelector: request.labelSelector }),
  ...(request.fieldSelector === undefined || request.fieldSelector === "" ? {} : { fieldSelector: request.fieldSelector }),
})

export interface LiveOptions {
  /** Deadline of one request attempt (headers and body). Default 30 s. */
  readonly requestTimeoutMillis?: number
  /** Asks the server to end each watch connection after this long (it is then resumed). Default 300 s. */
  readonly watchTimeoutSeconds?: number
  /** A watch connection silent this long is presumed dead and resumed. Default watchTimeoutSeconds + 30 s. */
  readonly watchIdleMillis?: number
  /** An exec'd command that sends nothing this long while its output is awaited fails as hung. Default 60 s. */
  readonly execIdleMillis?: number
  /** The environment KUBECONFIG, the in-cluster variables and the proxy are read from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv
}

const methods: Readonly<Record<RequestVerb, HttpMethod>> = {
  get: HttpMethod.GET,
  list: HttpMethod.GET,
  create: HttpMethod.POST,
  update: HttpMethod.PUT,
  patch: HttpMethod.PATCH,
  delete: HttpMethod.DELETE,
}

/** An error and its causes, up to 5 deep (fetch's `fetch failed` holds the socket's error in its cause; an AggregateError its first). */
const causeChain = (error: unknown): ReadonlyArray<object> => {
  const chain: Array<object> = []
  let current: unknown = error
  while (chain.length < 5 && typeof current === "object" && current !== null) {
    chain.push(current)
    current = (current as { errors?: ReadonlyArray<unknown> }).errors?.[0] ?? (current as { cause?: unknown }).cause
  }
  return chain
}

/** The messages along an error's causes. */
const chainText = (error: unknown): string => causeChain(error).map(failureText).join("; ")

/** The first errno-like code along an error's causes. */
const errorCode = (error: unknown): string | undefined =>
  causeChain(error)
    .map((e) => (e as { code?: unknown }).code)
    .find((code): code is string => typeof code === "string")

/** Node's TLS verification failures, with what a person checks for each. */
const certificateProblems: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: "it has expired; check this machine's clock, then renew the API server's serving certificate",
  CERT_NOT_YET_VALID: "it is not valid yet; check this machine's clock",
  ERR_TLS_CERT_ALTNAME_INVALID: "it does not name the host of the kubeconfig's server address",
  DEPTH_ZERO_SELF_SIGNED_CERT: "it is self-signed and not the kubeconfig's certificate-authority",
  SELF_SIGNED_CERT_IN_CHAIN: "its issuer is not among the kubeconfig's certificate-authority certificates",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its issuer is not among the kubeconfig's certificate-authority certificates",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its issuer is not among the kubeconfig's certificate-authority certificates",
  CERT_SIGNATURE_FAILURE: "its signature does not verify",
}

/** Seconds from a Retry-After header (delta-seconds or HTTP-date). */
export const parseRetryAfter = (value: string | undefined, now: number = Date.now()): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000))
}

interface Exchange {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: { text(): Promise<string>; stream(): ReadableStream<Uint8Array> | null }
}

/** The transport over a loaded configuration. */
export const liveTransport = (config: KubeConfig, options: LiveOptions = {}): KubeTransport => {
  const http = new IsomorphicFetchHttpLibrary()
  const server = (config.getCurrentCluster()?.server ?? "").replace(/\/+$/, "")
  /** The server as messages name it: with the proxy it is reached through. */
  const shown = `${server}${throughProxy(config)}`
  const proxied = (config.getCurrentCluster()?.proxyUrl ?? "") !== ""
  const requestTimeout = options.requestTimeoutMillis ?? 30_000
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300
  const watchIdle = options.watchIdleMillis ?? (watchTimeoutSeconds + 30) * 1000

  const url = (endpoint: Endpoint, namespace: string | undefined, name: string | undefined, query: Record<string, string>) => {
    const params = new URLSearchParams(query).toString()
    return `${server}${resourcePath(endpoint.type, namespace, name, endpoint.subresource)}${params === "" ? "" : `?${params}`}`
  }

  const networkError = (cause: unknown, timedOut: boolean, ref: ResourceRef): KubeError => {
    if (timedOut) return clientSideError(StatusReason.ClientTimeout, `no answer from the API server at ${shown} within ${requestTimeout} ms`, ref)
    const code = errorCode(cause)
    if (code === "ECONNREFUSED") {
      return clientSideError(StatusReason.ConnectionRefused, `the API server at ${shown} refused the connection (ECONNREFUSED)`, ref)
    }
    if (code !== undefined && tlsCodeOf(code, chainText(cause)) === "ERR_SSL_WRONG_VERSION_NUMBER") {
      return clientSideError(
        StatusReason.CertificateRejected,
        `the server at ${shown} answered, but not in TLS (${code}): it is no API server (a plain http endpoint, such as kubectl proxy's?); give the kubeconfig the API server's https:// address`,
        ref,
      )
    }
    const rejected = code === undefined ? undefined : certificateProblems[code]
    if (rejected !== undefined) {
      return clientSideError(
        StatusReason.CertificateRejected,
        `the API server at ${shown} presented a TLS certificate this client rejects (${code}): ${rejected}`,
        ref,
      )
    }
    // fetch's own message is "fetch failed": its causes say why (a port fetch refuses to reach says "bad port"). Through a
    // proxy, the code alone (UND_ERR_ABORTED) hides the proxy's answer (a 407), which only the words carry.
    const detail = code === undefined ? chainText(cause) : proxied ? `${code}: ${chainText(cause)}` : code
    return clientSideError(StatusReason.ConnectionFailed, `the connection to the API server at ${shown} failed (${detail})`, ref)
  }

  /**
   * Sends one request. The deadline covers the headers, and the body too when `whole` (a watch
   * body is read later, as a stream, until `connection` aborts). Interruption aborts it.
   */
  const exchange = (
    method: HttpMethod,
    target: string,
    ref: ResourceRef,
    body: { readonly json: unknown; readonly contentType: string } | undefined,
    whole: boolean,
    connection: AbortController = new AbortController(),
  ): Effect.Effect<{ readonly response: Exchange; readonly text: string | undefined }, KubeError> => {
    let timedOut = false
    return Effect.tryPromise({
      try: async (interrupted) => {
        const abort = () => connection.abort()
        interrupted.addEventListener("abort", abort, { once: true })
        const timer = setTimeout(() => {
          timedOut = true
          connection.abort()
        }, requestTimeout)
        try {
          const context = new RequestContext(target, method)
          context.setHeaderParam("Accept", "application/json")
          context.setHeaderParam("User-Agent", "cluster-backup")
          if (body !== undefined) {
            context.setHeaderParam("Content-Type", body.contentType)
            context.setBody(JSON.stringify(body.json))
          }
          context.setSignal(connection.signal)
          try {
            await config.applySecurityAuthentication(context)
          } catch (cause) {
            throw new CredentialsError(cause)
          }
          const response = await http.send(context).toPromise()
          const exchanged: Exchange = { status: response.httpStatusCode, headers: response.headers, body: response.body }
          const text = whole || exchanged.status !== 200 ? await response.body.text() : undefined
          return { response: exchanged, text }
        } finally {
          clearTimeout(timer)
          interrupted.removeEventListener("abort", abort)
        }
      },
      catch: (cause) =>
        cause instanceof CredentialsError
          ? new Unauthorized({
              ...ref,
              reason: "CredentialsUnavailable",
              code: 0,
              message: `cannot authenticate to the API server at ${shown}: ${cause.detail}`,
            })
          : networkError(cause, timedOut, ref),
    })
  }

  const failure = (response: Pick<Exchange, "status" | "headers">, text: string | undefined, ref: ResourceRef): KubeError => {
    let parsed: unknown
    try {
      parsed = text === undefined || text === "" ? {} : JSON.parse(text)
    } catch {
      parsed = {}
    }
    const status = Result.getOrElse(Schema.decodeUnknownResult(StatusBody)(parsed), () => ({}) as typeof StatusBody.Type)
    const retryAfterSeconds = parseRetryAfter(response.headers["retry-after"]) ?? status.details?.retryAfterSeconds
    // The API server's words for a 401 are only "Unauthorized": say whose credentials and what to do.
    const message =
      response.status === 401
        ? `${status.message ?? "Unauthorized"}: the API server at ${shown} did not accept the credentials this configuration gives ` +
          "(a token or client certificate that is missing, expired or revoked); log in again, or give a kubeconfig with current credentials"
        : status.message
    return errorFromStatus(
      {
        code: response.status,
        ...(status.reason === undefined ? {} : { reason: status.reason }),
        ...(message === undefined ? {} : { message }),
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      },
      ref,
    )
  }

  const parseJson = (text: string, ref: ResourceRef): Effect.Effect<unknown, KubeResponseInvalid> =>
    Effect.try({
      try: () => (text === "" ? null : (JSON.parse(text) as unknown)),
      catch: () => new KubeResponseInvalid({ ...ref, message: `the API server at ${shown} answered with a body that is not JSON` }),
    })

  const WatchLine = Schema.Struct({ type: Schema.String, object: Schema.Unknown })

  const watchLine = (line: string, ref: ResourceRef): Effect.Effect<RawWatchEvent, KubeError> =>
    Effect.gen(function* () {
      const json = yield* parseJson(line, ref)
      const decoded = Schema.decodeUnknownResult(WatchLine)(json)
      if (Result.isFailure(decoded)) {
        return yield* new KubeResponseInvalid({ ...ref, message: `a watch line from ${shown} is not a watch event` })
      }
      const { type, object } = decoded.success
      if (type === "ADDED" || type === "MODIFIED" || type === "DELETED" || type === "BOOKMARK") return { type, object }
      if (type === "ERROR") {
        const status = Result.getOrElse(Schema.decodeUnknownResult(StatusBody)(object), () => ({}) as typeof StatusBody.Type)
        return yield* errorFromStatus(
          {
            code: status.code ?? 500,
            ...(status.reason === undefined ? {} : { reason: status.reason }),
            ...(status.message === undefined ? {} : { message: status.message }),
          },
          ref,
        )
      }
      return yield* new KubeResponseInvalid({ ...ref, message: `unknown watch event type "${type}" from ${shown}` })
    })

  return {
    // Loaded on first use: the operator never runs a command in a pod, and ws is not loaded into it.
    exec: (request) =>
      Stream.unwrap(
        Effect.promise(() => import("./live-exec.ts")).pipe(
          Effect.map(({ liveExec }) =>
            liveExec({
              config,
              server,
              shown,
              handshakeMillis: requestTimeout,
              idleMillis: options.execIdleMillis ?? 60_000,
              networkError,
              refusal: failure,
            })(request),
          ),
        ),
      ),
    request: (request) =>
      Effect.gen(function* () {
        assertVerbAllowed(request.endpoint, request.verb)
        const ref = refOf(request)
        const query: Record<string, string> = selectorQuery(request)
        const body =
          request.body === undefined
            ? undefined
            : {
                json: request.body,
                contentType: request.verb === "patch" ? "application/merge-patch+json" : "application/json",
              }
        const { response, text } = yield* exchange(methods[request.verb], url(request.endpoint, request.namespace, request.name, query), ref, body, true)
        if (response.status < 200 || response.status > 299) return yield* Effect.fail(failure(response, text, ref))
        return yield* parseJson(text ?? "", ref)
      }),
    watch: (request) =>
      Stream.unwrap(
        Effect.gen(function* () {
          assertVerbAllowed(request.endpoint, "watch")
          const ref = refOf(request)
          const controller = yield* Effect.acquireRelease(
            Effect.sync(() => new AbortController()),
            (c) => Effect.sync(() => c.abort()),
          )
          const query: Record<string, string> = {
            watch: "true",
            allowWatchBookmarks: "true",
            resourceVersion: request.resourceVersion,
            timeoutSeconds: String(watchTimeoutSeconds),
            ...selectorQuery(request),
          }
          const { response, text } = yield* exchange(
            HttpMethod.GET,
            url(request.endpoint, request.namespace, undefined, query),
            ref,
            undefined,
            false,
            controller,
          )
          if (response.status !== 200) return yield* Effect.fail(failure(response, text, ref))
          const body = response.body.stream()
          if (body === null) return Stream.empty
          return Stream.fromReadableStream({
            evaluate: () => body,
            onError: (cause) => networkError(cause, false, ref),
          }).pipe(
            Stream.decodeText,
            Stream.splitLines,
            Stream.filter((line) => line.trim() !== ""),
            Stream.mapEffect((line) => watchLine(line, ref)),
            // A silent connection may be half-open: end it; the watch resumes from its last resourceVersion.
            Stream.timeout(watchIdle),
          )
        }),
      ),
  }
}

class CredentialsError {
  readonly detail: string
  constructor(cause: unknown) {
    this.detail = credentialsFailureDetail(cause)
  }
}
