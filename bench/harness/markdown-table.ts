/**
 * Reads the tables of a markdown file another benchmark script wrote (bench/store-vs-rclone.ts,
 * bench/age-vs-cli.ts: their documented output), column by header name, so that a column they
 * move still reads and one they rename fails naming it.
 */
import { Schema } from "effect"

export interface MarkdownTable {
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

const cells = (line: string): ReadonlyArray<string> =>
  line
    .trim()
    .replace(/^\||\|$/g, "")
    .split("|")
    .map((c) => c.trim())

const isRule = (line: string) => /^\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*\|?$/.test(line.trim())

export const markdownTables = (text: string): ReadonlyArray<MarkdownTable> => {
  const lines = text.split("\n")
  const tables: Array<MarkdownTable> = []
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith("|") || !isRule(lines[i + 1]!)) continue
    const rows: Array<ReadonlyArray<string>> = []
    let j = i + 2
    for (; j < lines.length && lines[j]!.trim().startsWith("|"); j++) rows.push(cells(lines[j]!))
    tables.push({ header: cells(lines[i]!), rows })
    i = j - 1
  }
  return tables
}

export class TableColumnMissing extends Schema.TaggedError<TableColumnMissing>()("TableColumnMissing", {
  source: Schema.String,
  columns: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/** The first table having every one of `columns`, as records by header name. */
export const tableWith = (text: string, source: string, columns: ReadonlyArray<string>): ReadonlyArray<Readonly<Record<string, string>>> => {
  const table = markdownTables(text).find((t) => columns.every((c) => t.header.includes(c)))
  if (table === undefined) {
    const named = columns.map((c) => `"${c}"`).join(", ")
    throw new TableColumnMissing({
      source,
      columns,
      message: `${source} wrote no table with the columns ${named}: its output changed; update how the harness reads it`,
    })
  }
  return table.rows.map((row) => Object.fromEntries(table.header.map((h, i) => [h, row[i] ?? ""])))
}
