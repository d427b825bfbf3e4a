import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Logger, Option } from "effect"
import { describe, expect, it } from "vitest"
import { readUploadRecipients } from "../../src/cli/encryption-flags.ts"
import { keygen } from "../services/crypto/age-cli.ts"
import { tempDir } from "../support/temp-dir.ts"
import { writeFileSync } from "node:fs"

const dir = tempDir("encryption-flags")
const recipients = join(dir, "r.txt")
writeFileSync(recipients, `${keygen(join(dir, "k")).recipient}\n`)

const read = async (snapshot: string | undefined, resources: string | undefined) => {
  const lines: Array<string> = []
  const capture = Logger.layer([Logger.make(({ logLevel, message }) => void lines.push(`${logLevel} ${String(message)}`))])
  const result = await Effect.runPromise(
    readUploadRecipients({ recipientsFile: Option.fromNullishOr(snapshot), resourcesRecipientsFile: Option.fromNullishOr(resources) }).pipe(
      Effect.provide(capture),
      Effect.provide(NodeServices.layer),
    ),
  )
  return { result, lines }
}

describe("backup-upload's recipients flags", () => {
  it("only --resources-recipients-file: the snapshot stays plain, and a warning says so", async () => {
    const { result, lines } = await read(undefined, recipients)
    expect(result.snapshot).toBeUndefined()
    expect(result.resources).toBeDefined()
    expect(lines.filter((l) => l.startsWith("Warn"))).toEqual([expect.stringMatching(/snapshot.*stored plain.*--recipients-file/)])
  })

  it("--recipients-file alone covers both files, without a warning; no flag encrypts nothing, without a warning", async () => {
    const both = await read(recipients, undefined)
    expect(both.result.snapshot).toBeDefined()
    expect(both.result.resources).toBe(both.result.snapshot)
    expect(both.lines).toEqual([])
    const none = await read(undefined, undefined)
    expect(none.result).toEqual({ snapshot: undefined, resources: undefined })
    expect(none.lines).toEqual([])
  })
})
