import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { attachNegativeValues, requestedSubcommand } from "../../src/cli/root-command.ts"

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

describe("a value that begins with a dash and a digit", () => {
  it("is attached to the flag before it, so the flag's check refuses it instead of the parser reading -1h as -1 -h (help, exit 0)", () => {
    expect(attachNegativeValues(["prune", "/b", "--max-age", "-1h", "--keep-last", "-3"])).toEqual(["prune", "/b", "--max-age=-1h", "--keep-last=-3"])
    expect(attachNegativeValues(["prune", "/b", "-h"])).toEqual(["prune", "/b", "-h"])
    expect(attachNegativeValues(["prune", "/b", "--dry-run", "--max-age=-1h"])).toEqual(["prune", "/b", "--dry-run", "--max-age=-1h"])
  })

  test.prop([
    fc.array(
      fc.oneof(
        fc.constantFrom("--max-age", "--keep-last", "-h", "prune", "/b", "--x=1"),
        fc.integer({ min: -99, max: -1 }).map((n) => `${n}h`),
      ),
    ),
  ])("keeps every word, in order, and joins only a flag with the dash-digit word right after it", (args) => {
    const out = attachNegativeValues(args)
    expect(out.join("\u0000").replaceAll("=", "\u0000")).toBe(args.join("\u0000").replaceAll("=", "\u0000"))
    for (const word of out) expect(/^-[0-9]/.test(word) && out.indexOf(word) > 0 && /^--[a-z][-a-z0-9]*$/.test(out[out.indexOf(word) - 1]!)).toBe(false)
  })
})
