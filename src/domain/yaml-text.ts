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
}

/**
 * Parses one YAML (or JSON) document. `failsafe` reads every scalar as a string, for callers that
 * validate scalars themselves (`3`, `"3"` and `0x3` then stay distinguishable as text). `uniqueKeys: false` accepts
 * repeated keys (the last wins), for a caller that only looks for some fields in files it did not write: the parser's
 * check compares every key of a mapping with every other, quadratic in a mapping of many keys.
 */
export const parseYamlText = (
  text: string,
  options: { readonly schema?: "core" | "failsafe"; readonly uniqueKeys?: boolean } = {},
): Result.Result<unknown, YamlProblem> => {
  const doc = YAML.parseDocument(text, { schema: options.schema ?? "core", uniqueKeys: options.uniqueKeys ?? true, prettyErrors: false })
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem !== undefined) return Result.fail({ message: `invalid YAML: ${problem.message.split("\n")[0]}` })
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

/** The canonical YAML of a JSON-able value: keys ordered by `canonicalize`, strings double-quoted, no line folding. */
export const canonicalYaml = (value: unknown, keyOrder: ReadonlyArray<string> = []): string =>
  YAML.stringify(canonicalize(value, keyOrder), {
    version: "1.1",
    defaultStringType: "QUOTE_DOUBLE",
    defaultKeyType: "PLAIN",
    lineWidth: 0,
    indent: 2,
  })
