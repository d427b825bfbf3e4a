/**
 * Watch semantics of the simulated cluster: the log of committed changes, bounded to the newest
 * `historyLimit` (resuming from an older resourceVersion answers 410 Expired, as after etcd's
 * compaction; from one the store has not reached, 504 "Too large resource version"), and the
 * open watches each change is delivered to. A watch with a selector sees an object enter its
 * selection as ADDED and leave it as DELETED, as the API server's does.
 */
import { Result } from "effect"
import type { KubeStatus } from "../services/kube/errors.ts"
import type { ResourceType } from "../services/kube/resources.ts"
import { parseSelection, selects, type Selection } from "./object-selection.ts"
import type { Change, ObjectStore } from "./object-store.ts"
import { badRequest } from "./simulated-validation.ts"
import { clone, scopeOf, typeKey, type Obj } from "./wire-object.ts"

export interface WatchRequest {
  readonly type: ResourceType
  readonly namespace?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  /** Replay the changes after it; absent, "" or "0": start with the current objects as ADDED. */
  readonly resourceVersion?: string
}

export interface WatchLine {
  readonly type: Change["type"]
  readonly object: Obj
}

export interface WatchHandlers {
  readonly onEvent: (event: WatchLine) => void
  /** The connection ended: dropped by fault injection (`abrupt` = reset) or closed by the cluster. */
  readonly onEnd: (abrupt: boolean) => void
}

/** An accepted watch: `start` replays and then delivers live changes, synchronously. */
export interface WatchSession {
  readonly start: (handlers: WatchHandlers) => void
  readonly close: () => void
}

export interface WatchLog {
  /** Appends a committed change and delivers it to the open watches it concerns. */
  readonly record: (change: Change) => void
  readonly watch: (request: WatchRequest) => Result.Result<WatchSession, KubeStatus>
  /** Forget the history up to `revision`: resuming from any earlier resourceVersion answers 410. */
  readonly compact: (revision: number) => void
  /** End every open watch (an API server restart). */
  readonly dropWatches: (abrupt: boolean) => void
}

/** What one watch is for: the type, the namespace (undefined: all) and the selection. */
interface Interest {
  readonly typeKey: string
  readonly namespace: string | undefined
  readonly selection: Selection
}

interface Watcher extends Interest {
  readonly handlers: WatchHandlers
  closed: boolean
}

/** What a watch with this interest sees of a change, if anything. */
const project = (interest: Interest, change: Change): WatchLine | undefined => {
  if (change.typeKey !== interest.typeKey) return undefined
  if (interest.namespace !== undefined && change.namespace !== interest.namespace) return undefined
  const now = selects(interest.selection, change.object)
  if (change.type === "MODIFIED") {
    const before = change.previous !== undefined && selects(interest.selection, change.previous)
    if (now && before) return { type: "MODIFIED", object: clone(change.object) }
    if (now) return { type: "ADDED", object: clone(change.object) }
    if (before) return { type: "DELETED", object: clone(change.object) }
    return undefined
  }
  return now ? { type: change.type, object: clone(change.object) } : undefined
}

/**
 * `store` gives a watch from the start its initial ADDED events, and its newest resourceVersion (a watch from a later one
 * answers 504, as the API server does); `startRevision` is the store's first resourceVersion.
 */
export const makeWatchLog = (store: Pick<ObjectStore, "list" | "revision">, historyLimit: number, startRevision: number): WatchLog => {
  const history: Array<Change> = []
  const watchers = new Set<Watcher>()
  let compactedThrough = startRevision

  const record = (change: Change) => {
    history.push(change)
    while (history.length > historyLimit) compactedThrough = history.shift()?.rv ?? compactedThrough
    for (const watcher of [...watchers]) {
      if (watcher.closed) continue
      const line = project(watcher, change)
      if (line !== undefined) watcher.handlers.onEvent(line)
    }
  }

  const watch = (request: WatchRequest): Result.Result<WatchSession, KubeStatus> => {
    const { type } = request
    const namespace = scopeOf(type, request.namespace)
    const selector = parseSelection(request.labelSelector, request.fieldSelector)
    if (Result.isFailure(selector)) return Result.fail(badRequest(selector.failure))
    const interest: Interest = { typeKey: typeKey(type), namespace, selection: selector.success }
    const from = request.resourceVersion ?? ""
    let replay: () => ReadonlyArray<WatchLine>
    if (from === "" || from === "0") {
      replay = () => store.list(type, namespace, selector.success).map((object) => ({ type: "ADDED", object }))
    } else {
      const rv = Number(from)
      if (!Number.isSafeInteger(rv) || rv < 0) return Result.fail(badRequest(`invalid resourceVersion "${from}"`))
      if (rv < compactedThrough) {
        return Result.fail({ code: 410, reason: "Expired", message: `too old resource version: ${rv} (${compactedThrough})` })
      }
      // The API server's watch cache waits (3 s) for a version it has not reached, then refuses it as a timeout.
      if (rv > store.revision()) {
        return Result.fail({
          code: 504,
          reason: "Timeout",
          message: `Timeout: Too large resource version: ${rv}, current: ${store.revision()}`,
          retryAfterSeconds: 1,
          details: { causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }] },
        })
      }
      replay = () => history.filter((e) => e.rv > rv).flatMap((e) => project(interest, e) ?? [])
    }
    let watcher: Watcher | undefined
    let closed = false
    return Result.succeed({
      start: (handlers) => {
        if (closed) return
        watcher = { ...interest, handlers, closed: false }
        const current = watcher
        for (const line of replay()) {
          if (current.closed) return
          handlers.onEvent(line)
        }
        if (!current.closed) watchers.add(current)
      },
      close: () => {
        closed = true
        if (watcher !== undefined) {
          watcher.closed = true
          watchers.delete(watcher)
        }
      },
    })
  }

  return {
    record,
    watch,
    compact: (revision) => {
      compactedThrough = revision
      history.length = 0
    },
    dropWatches: (abrupt) => {
      for (const watcher of [...watchers]) {
        watcher.closed = true
        watchers.delete(watcher)
        watcher.handlers.onEnd(abrupt)
      }
    },
  }
}
