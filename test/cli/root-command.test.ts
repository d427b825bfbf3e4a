import { describe, expect, it } from "vitest"
import { requestedSubcommand } from "../../src/cli/root-command.ts"

describe("which subcommand a command line names", () => {
  it.each([
    [["backup-init", "--backup-dir", "/backup"], "backup-init"],
    [["--log-format", "json", "backup-init"], "backup-init"],
    [["--log-level=debug", "verify", "dir"], "verify"],
    [["--log-level", "debug", "render"], "render"],
    [["--help"], undefined],
    [[], undefined],
    [["nope"], undefined],
    [["toString"], undefined],
    [["--log-format", "json"], undefined],
  ] as const)("%j names %s", (args, name) => {
    expect(requestedSubcommand(args)).toBe(name)
  })
})
