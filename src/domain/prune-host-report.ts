/**
 * What `prune-host --json` prints: one document per run, dry or real, refused or not, so a loop over a
 * fleet's hosts can add up what each keeps and what was given back.
 */
import { Schema } from "effect"
import { type KeptKind, keptKinds, type PruneDecision } from "./kept-on-host.ts"
import { formatRfc3339Utc } from "./rfc3339.ts"

/** What a real run did with an entry it was to remove. */
export type RemovalOutcome = { readonly _tag: "Removed" } | { readonly _tag: "Held"; readonly why: string } | { readonly _tag: "Failed"; readonly why: string }

const PruneHostEntry = Schema.Struct({
  path: Schema.String,
  kind: Schema.Literals(Object.keys(keptKinds) as Array<KeptKind>),
  bytes: Schema.Int,
  keptSince: Schema.String,
  verdict: Schema.Literals(["remove", "keep"]),
  why: Schema.optionalKey(Schema.String),
  outcome: Schema.optionalKey(Schema.Literals(["removed", "kept", "failed"])),
  error: Schema.optionalKey(Schema.String),
})

export const PruneHostReport = Schema.Struct({
  root: Schema.String,
  dryRun: Schema.Boolean,
  olderThanSeconds: Schema.Number,
  /** Why nothing was removed: the host still needs what it kept. */
  refused: Schema.optionalKey(Schema.Array(Schema.String)),
  entries: Schema.Array(PruneHostEntry),
  removedBytes: Schema.Int,
})
export type PruneHostReport = typeof PruneHostReport.Type

export const pruneHostReport = (
  run: { readonly root: string; readonly dryRun: boolean; readonly olderThanMs: number; readonly refused?: ReadonlyArray<string> | undefined },
  decisions: ReadonlyArray<PruneDecision>,
  outcomes: ReadonlyMap<string, RemovalOutcome> = new Map(),
): PruneHostReport => {
  const entries = decisions.map(({ item, verdict }) => {
    const outcome = outcomes.get(item.path)
    return {
      path: item.path,
      kind: item.kind,
      bytes: item.bytes,
      keptSince: formatRfc3339Utc(Math.floor(item.keptSinceMs / 1000) * 1000),
      verdict: verdict._tag === "Remove" ? ("remove" as const) : ("keep" as const),
      ...(verdict._tag === "Keep" ? { why: verdict.why } : {}),
      ...(outcome === undefined
        ? {}
        : { outcome: outcome._tag === "Removed" ? ("removed" as const) : outcome._tag === "Held" ? ("kept" as const) : ("failed" as const) }),
      ...(outcome === undefined || outcome._tag === "Removed" ? {} : { error: outcome.why }),
    }
  })
  return {
    root: run.root,
    dryRun: run.dryRun,
    olderThanSeconds: run.olderThanMs / 1000,
    ...(run.refused === undefined || run.refused.length === 0 ? {} : { refused: [...run.refused] }),
    entries,
    removedBytes: decisions.reduce((total, d) => total + (outcomes.get(d.item.path)?._tag === "Removed" ? d.item.bytes : 0), 0),
  }
}

export const encodePruneHostReport = (report: PruneHostReport): string => `${JSON.stringify(Schema.encodeSync(PruneHostReport)(report), null, 2)}\n`
