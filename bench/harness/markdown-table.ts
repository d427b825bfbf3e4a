/**
 * Markdown tables: read the ones another benchmark script wrote (bench/store-vs-rclone.ts,
 * bench/age-vs-cli.ts: their documented output), column by header name, so that a column they
 * move still reads and one they rename fails naming it; and lay out the ones a benchmark writes
 * as the project's formatter does, so a results file is committed as written.
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

const displayWidth = (cell: string) => [...cell].length

/**
 * `text` with every table's columns padded to their widest cell (at least 3) and its rule made of
 * dashes as wide, as Biome formats markdown (the check `npm test` runs over bench/). Other lines
 * are left as they are.
 */
export const alignTables = (text: string): string => {
  const lines = text.split("\n")
  const out: Array<string> = []
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trim().startsWith("|") || i + 1 >= lines.length || !isRule(lines[i + 1]!)) {
      out.push(lines[i]!)
      continue
    }
    let end = i + 2
    while (end < lines.length && lines[end]!.trim().startsWith("|")) end++
    const header = cells(lines[i]!)
    const rows = lines.slice(i + 2, end).map(cells)
    const widths = header.map((h, c) => Math.max(3, displayWidth(h), ...rows.map((r) => displayWidth(r[c] ?? ""))))
    const line = (row: ReadonlyArray<string>) => `| ${widths.map((w, c) => (row[c] ?? "") + " ".repeat(w - displayWidth(row[c] ?? ""))).join(" | ")} |`
    out.push(line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line))
    i = end - 1
  }
  return out.join("\n")
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
