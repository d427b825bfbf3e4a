/**
 * `verify`/`restore STORE --backup-id ID --timestamp T`: the backup id names the backup already,
 * so --timestamp is a usage error (exit 2, the flag named, before the store is contacted). It
 * was silently ignored before.
 */
import { describe, expect, it } from "vitest"
import { runCli } from "../support/run-cli.ts"

// An endpoint nothing listens on: had the store been contacted, the run would fail otherwise (exit 1).
const store = ["s3://backups/p", "--backup-id", "2026-01-02_030405", "--timestamp", "2026-01-01_000000", "--s3-endpoint", "http://127.0.0.1:9"]
const env = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "not-a-real-secret", AWS_CA_BUNDLE: "" }

describe("--timestamp with --backup-id", () => {
  it.concurrent.each([
    ["verify", ["verify", ...store]],
    ["restore", ["restore", ...store, "--root", "/nonexistent-root", "--member-name", "m", "--dry-run"]],
  ])(
    "%s: exits 2 naming --timestamp",
    async (_command, args) => {
      const run = await runCli(args, { env, timeoutMs: 60_000 })
      expect(run.status, run.output).toBe(2)
      expect(run.stderr).toMatch(/Invalid value for flag --timestamp\b/)
      expect(run.stderr).toContain("no --timestamp with --backup-id")
      expect(run.output).not.toMatch(/ECONNREFUSED|unexpected failure|\n\s+at /)
    },
    90_000,
  )
})

describe("an s3:// store with no prefix", () => {
  it.concurrent("is a usage error (exit 2) naming the argument, and says how to ask for the bucket's root, a store too", async () => {
    const run = await runCli(["list", "s3://backups"], { env, timeoutMs: 60_000 })
    expect(run.status, run.output).toBe(2)
    expect(run.stderr).toContain(`Invalid value for argument <store>: "s3://backups". Expected: s3://backups has no prefix`)
    expect(run.stderr).toContain(`--prefix "" for the bucket's root`)
    expect(run.output).not.toMatch(/ECONNREFUSED|unexpected failure|\n\s+at /)
  }, 90_000)
})
