/** What the standalone benchmark scripts (run by the harness, each in its own process) read from their command line. */
import { execFileSync } from "node:child_process"

/** The value after `--name` on the command line, else `fallback`. */
export const scriptArg = (name: string, fallback: string, argv: ReadonlyArray<string> = process.argv): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback
}

/** `uptime`'s line: the load a script's results record before and after its rounds. */
export const uptimeLine = (): string => execFileSync("uptime", { encoding: "utf8" }).trim()
