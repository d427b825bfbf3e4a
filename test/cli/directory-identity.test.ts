/**
 * `verify`/`restore DIR --identity FILE` without --backup-id: the identity was silently ignored. A directory of `.age`
 * files is refused with the directory-store command that decrypts it; a plain directory is checked, with a warning that
 * the identity was not needed.
 */
import { renameSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { copyBackup, fakeBackupForSuite, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const { work, backup } = fakeBackupForSuite("cli-directory-identity")
let etcdutl: string
let encrypted: string
const identity = () => join(work, "age.key")

beforeAll(() => {
  etcdutl = writeScriptedEtcdutl(join(work, "bin", "etcdutl"))
  // What a store's encrypted backup looks like copied out of it: the objects under the backup id, only their .age forms.
  encrypted = copyBackup(backup, join(tempDir("store-copy", work), readManifest(backup).timestamp))
  for (const f of Object.values(readManifest(encrypted).files)) renameSync(join(encrypted, f.name), join(encrypted, `${f.name}.age`))
})

describe("--identity with a backup directory", () => {
  it.concurrent.each([
    ["verify", () => ["verify", encrypted, "--identity", identity(), "--etcdutl", etcdutl]],
    ["restore", () => ["restore", encrypted, "--identity", identity(), "--root", "/nonexistent-root", "--member-name", "m", "--dry-run"]],
  ])(
    "%s of a directory of .age files: refused, naming the files and the --backup-id command that decrypts them",
    async (command, args) => {
      const run = await runCli(args(), { timeoutMs: 60_000 })
      expect(run.status, run.output).toBe(1)
      const m = readManifest(backup)
      expect(run.stderr).toContain(`${encrypted} holds age-encrypted files (${m.files.snapshot.name}.age, ${m.files.resources.name}.age)`)
      expect(run.stderr).toContain(`cluster-backup ${command} ${join(encrypted, "..")} --backup-id ${m.timestamp} --identity FILE`)
      expect(run.output).not.toMatch(/unexpected failure|\n\s+at /)
    },
    90_000,
  )

  // Before, without --identity, verify said "no backup files (snapshot_<timestamp>.db ...) in the directory", and restore the same.
  it.concurrent.each([
    ["verify", () => ["verify", encrypted, "--etcdutl", etcdutl]],
    ["restore", () => ["restore", encrypted, "--root", "/nonexistent-root", "--member-name", "m", "--dry-run"]],
  ])(
    "%s of a directory of .age files without --identity: refused the same way, not as a directory without backup files",
    async (command, args) => {
      const run = await runCli(args(), { timeoutMs: 60_000 })
      expect(run.status, run.output).toBe(1)
      const m = readManifest(backup)
      expect(run.stderr).toContain(
        `${encrypted} holds age-encrypted files (${m.files.snapshot.name}.age, ${m.files.resources.name}.age), and no plain backup file`,
      )
      expect(run.stderr).toContain(`cluster-backup ${command} ${join(encrypted, "..")} --backup-id ${m.timestamp} --identity FILE`)
      expect(run.output).not.toContain("no backup files")
    },
    90_000,
  )

  it("verify of a plain directory: checked as without it, with a warning that the identity was not needed", async () => {
    const run = await runCli(["verify", backup, "--identity", identity(), "--etcdutl", etcdutl], { timeoutMs: 60_000 })
    expect(run.status, run.output).toBe(0)
    expect(run.stdout.trimEnd().split("\n").at(-1)).toBe("verify: PASS (18 checks)")
    expect(run.output).toContain(`--identity was not needed: ${backup} holds no age-encrypted file (*.age)`)
  })
})
