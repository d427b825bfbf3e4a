/** A child's log line (JSON from `--log-format json`) as the demo shows it: its message, and its level unless INFO; other lines as they are. */
export const childLogLine = (line: string): string => {
  try {
    const entry = JSON.parse(line) as { message?: unknown; level?: string }
    const message = Array.isArray(entry.message) ? entry.message.join(" ") : String(entry.message)
    const level = entry.level === "INFO" || entry.level === undefined ? "" : `${entry.level} `
    return `${level}${message}`
  } catch {
    return line
  }
}
