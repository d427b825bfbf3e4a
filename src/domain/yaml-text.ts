/**
 * YAML in and out. Reading is strict (one document, no aliases, no unknown tags: a config file
 * or ConfigMap value never needs them, and aliases can build cyclic or exploding values); writing
 * is canonical (sorted keys, double-quoted strings) and reads back the same under YAML 1.1 and 1.2
 * parsers, so `oc`/`kubectl` (YAML 1.1) see exactly the values written.
 */
import { Result } from "effect"
import * as YAML from "yaml"
import { canonicalize } from "./canonical-json.ts"
import { failureText } from "./failure-text.ts"

export interface YamlProblem {
  readonly message: string
  /** The parser's error code and where (1-based), for callers that must not quote the text (it may hold secrets). */
  readonly code?: string | undefined
  readonly line?: number | undefined
  readonly col?: number | undefined
}

const lineAndColumn = (text: string, offset: number) => {
  const before = text.slice(0, offset)
  const line = before.split("\n").length
  return { line, col: offset - before.lastIndexOf("\n") }
}

/**
 * The first key repeated in one mapping, in linear time: the parser's own check (`uniqueKeys`) compares every key of a
 * mapping with every other, so a file of many keys (a hostile backup's) took minutes.
 */
const repeatedKey = (doc: YAML.Document): YAML.Node | undefined => {
  let found: YAML.Node | undefined
  YAML.visit(doc, {
    Map: (_, map) => {
      const seen = new Set<unknown>()
      for (const pair of map.items) {
        const key = YAML.isScalar(pair.key) ? pair.key.value : pair.key
        if (seen.has(key)) {
          found = pair.key as YAML.Node
          return YAML.visit.BREAK
        }
        seen.add(key)
      }
      return undefined
    },
  })
  return found
}

/**
 * Parses one YAML (or JSON) document. `failsafe` reads every scalar as a string, for callers that
 * validate scalars themselves (`3`, `"3"` and `0x3` then stay distinguishable as text). A key repeated in a mapping is
 * refused unless `uniqueKeys: false` (the last wins), for a caller that only looks for some fields in files it did not write.
 */
export const parseYamlText = (
  text: string,
  options: { readonly schema?: "core" | "failsafe"; readonly uniqueKeys?: boolean } = {},
): Result.Result<unknown, YamlProblem> => {
  const doc = YAML.parseDocument(text, { schema: options.schema ?? "core", uniqueKeys: false, prettyErrors: false })
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem !== undefined) {
    const at = problem.pos === undefined ? undefined : lineAndColumn(text, problem.pos[0])
    return Result.fail({ message: `invalid YAML: ${problem.message.split("\n")[0]}`, code: problem.code, ...at })
  }
  const repeated = options.uniqueKeys === false ? undefined : repeatedKey(doc)
  if (repeated !== undefined) {
    const at = repeated.range === undefined || repeated.range === null ? undefined : lineAndColumn(text, repeated.range[0])
    return Result.fail({ message: "invalid YAML: Map keys must be unique", code: "DUPLICATE_KEY", ...at })
  }
  let alias = false
  YAML.visit(doc, {
    Alias: () => {
      alias = true
      return YAML.visit.BREAK
    },
  })
  if (alias) return Result.fail({ message: "invalid YAML: aliases (*name) are not accepted; write the value out" })
  try {
    return Result.succeed(doc.toJS())
  } catch (e) {
    return Result.fail({ message: `invalid YAML: ${failureText(e)}` })
  }
}

const canonicalOptions: YAML.DocumentOptions & YAML.SchemaOptions & YAML.ToStringOptions = {
  version: "1.1",
  // Without the merge tag, the string "<<" is written as a string (quoted), never as YAML 1.1's merge key `<<`.
  customTags: (tags) => tags.filter((t) => typeof t === "string" || t.tag !== "tag:yaml.org,2002:merge"),
  defaultStringType: "QUOTE_DOUBLE",
  defaultKeyType: "PLAIN",
  lineWidth: 0,
  indent: 2,
}

/**
 * The canonical YAML of a JSON-able value: keys ordered by `canonicalize`, strings double-quoted, no line folding. A key
 * `<<` is double-quoted too: plain, YAML 1.1 parsers (kubectl's) read it as a merge key, not as the key it is.
 */
export const canonicalYaml = (value: unknown, keyOrder: ReadonlyArray<string> = []): string => {
  const doc = new YAML.Document(canonicalize(value, keyOrder), canonicalOptions)
  YAML.visit(doc, {
    Pair: (_, pair) => {
      if (YAML.isScalar(pair.key) && pair.key.value === "<<") pair.key.type = "QUOTE_DOUBLE"
    },
  })
  return doc.toString(canonicalOptions)
}
