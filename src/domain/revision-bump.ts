/**
 * The revision bump of a restore (`etcdutl snapshot restore --bump-revision N --mark-compacted`), from the highest raft
 * index etcd recorded before the disaster in `/var/lib/etcd/revision.json` (reference doc, section 5): every API server's
 * watch cache then starts over instead of reusing revisions it has seen.
 */
import { Result, Schema } from "effect"
import { failureText } from "./failure-text.ts"

/** Used when the highest raft index before the disaster is unknown (OpenShift's default). */
export const defaultRevisionBump = 1_000_000_000n

/** `etcdutl --bump-revision` takes a uint64. */
export const maxRevisionBump = 2n ** 64n - 1n

export const RevisionBump = Schema.Union([
  /** 1.2 × the highest raft index recorded in `revision.json`, rounded up. */
  Schema.TaggedStruct("FromRaftIndex", {
    amount: Schema.BigInt,
    maxRaftIndex: Schema.BigInt,
    /** The kept record it came from, when etcd's data directory had none (see `revisionBumpFrom`). */
    source: Schema.optionalKey(Schema.String),
  }),
  /** `revision.json` was absent or unusable: the fixed default, and why. */
  Schema.TaggedStruct("Default", { amount: Schema.BigInt, reason: Schema.String }),
  /** `--no-bump`: no `--bump-revision`, no `--mark-compacted`. */
  Schema.TaggedStruct("Disabled", {}),
])
export type RevisionBump = typeof RevisionBump.Type

/** The amount passed to `--bump-revision` (0 when disabled). */
export const bumpAmount = (bump: RevisionBump): bigint => (bump._tag === "Disabled" ? 0n : bump.amount)

const RevisionJson = Schema.Struct({
  clusterId: Schema.optionalKey(Schema.Unknown),
  raftIndex: Schema.optionalKey(Schema.Record(Schema.String, Schema.BigInt)),
  maxRaftIndex: Schema.optionalKey(Schema.BigInt),
  created: Schema.optionalKey(Schema.Unknown),
})

interface SourceContext {
  readonly source?: string
}

/**
 * JSON with every integer as a bigint: raft indexes are uint64, beyond what a double holds
 * exactly (the reviver's `context.source` is the number's own text).
 */
const parseJsonWithBigInts = (text: string): Result.Result<unknown, string> => {
  const reviver = (_key: string, value: unknown, context?: SourceContext): unknown =>
    typeof value === "number" && context?.source !== undefined && /^-?[0-9]+$/.test(context.source) ? BigInt(context.source) : value
  try {
    return Result.succeed(JSON.parse(text, reviver as (key: string, value: unknown) => unknown))
  } catch (e) {
    return Result.fail(failureText(e))
  }
}

/**
 * The revision bump for a restore. `revisionJson` is the content of `/var/lib/etcd/revision.json`
 * (written by OpenShift's `cluster-etcd-operator rev`: `{"clusterId":..,"raftIndex":{"<url>":N,..},
 * "maxRaftIndex":N,"created":".."}`, fields omitted when empty), or `undefined` when absent.
 * The amount is at least 1.2 × the highest raft index found, or `defaultRevisionBump`.
 */
export const revisionBump = (revisionJson: string | undefined, options: { readonly noBump: boolean }): RevisionBump => {
  if (options.noBump) return { _tag: "Disabled" }
  const fallback = (reason: string): RevisionBump => ({ _tag: "Default", amount: defaultRevisionBump, reason })
  if (revisionJson === undefined) return fallback("revision.json is absent")
  const parsed = parseJsonWithBigInts(revisionJson)
  if (Result.isFailure(parsed)) return fallback(`revision.json is not JSON (${parsed.failure})`)
  const decoded = Schema.decodeUnknownResult(RevisionJson)(parsed.success)
  if (Result.isFailure(decoded)) return fallback("revision.json does not have the expected shape (raftIndex and maxRaftIndex as integers)")
  const indexes = [...Object.values(decoded.success.raftIndex ?? {}), ...(decoded.success.maxRaftIndex === undefined ? [] : [decoded.success.maxRaftIndex])]
  if (indexes.some((i) => i < 0n)) return fallback("revision.json records a negative raft index")
  const max = indexes.reduce((a, b) => (b > a ? b : a), 0n)
  if (max === 0n) return fallback("revision.json records no raft index")
  return { _tag: "FromRaftIndex", amount: (max * 6n + 4n) / 5n, maxRaftIndex: max }
}

/** A `revision.json` that `keep-revision-json` moved into the kept-data directory: its host path and content. */
export interface KeptRevisionJson {
  readonly path: string
  readonly text: string
}

/**
 * The revision bump from `/var/lib/etcd/revision.json` (`current`, undefined when absent) or, when
 * etcd's data directory has none, from the copies earlier restores kept (`revision.json` and
 * `revision.json.<restore id>` in the kept-data directory): a restore that failed or was killed
 * after `keep-revision-json` left the record only there, and its rerun must bump at least as much
 * as the first run did. A kept record may also be an old restore's, so it is used only where it
 * asks for more than the default; a bump larger than needed is harmless, a smaller one reuses
 * revisions the API servers' watch caches have seen.
 */
export const revisionBumpFrom = (current: string | undefined, kept: ReadonlyArray<KeptRevisionJson>, options: { readonly noBump: boolean }): RevisionBump => {
  const bump = revisionBump(current, options)
  if (current !== undefined || bump._tag !== "Default") return bump
  const largest = kept
    .flatMap((k) => {
      const b = revisionBump(k.text, options)
      return b._tag === "FromRaftIndex" ? [{ ...b, source: k.path }] : []
    })
    .reduce<RevisionBump | undefined>((a, b) => (a === undefined || bumpAmount(b) > bumpAmount(a) ? b : a), undefined)
  if (largest === undefined || bumpAmount(largest) <= bump.amount) {
    return kept.length === 0
      ? bump
      : { ...bump, reason: `${bump.reason}; the copies earlier restores kept (${kept.map((k) => k.path).join(", ")}) ask for no more` }
  }
  return largest
}
