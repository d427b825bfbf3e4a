/**
 * A backup id is one path segment of the store's layout (`<prefix>/<id>/<file>`): `--backup-id`
 * and `download`'s ID are checked as such while the command line is parsed (exit 2, before anything
 * is touched). Before, `restore STORE --backup-id .. --dry-run` made the work directory the parent
 * of the downloads directory and swept its siblings: a host directory beside a `.lock` file of
 * another program was removed, and the directory store listed the files above its root.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

describe("a backup id that is not one segment of the store's layout", () => {
  it.each([
    ["restore --backup-id ..", (store: string, root: string) => ["restore", store, "--backup-id", "..", "--root", root, "--member-name", "m", "--dry-run"]],
    ["verify --backup-id a/b", (store: string) => ["verify", store, "--backup-id", "a/b"]],
    ["download ..", (store: string, root: string) => ["download", store, "..", join(root, "into")]],
  ])(
    "%s: exits 2 naming the id, and removes nothing",
    async (_what, args) => {
      const work = tempDir("backup-id-usage")
      const store = join(work, "store")
      const root = join(work, "root")
      mkdirSync(store)
      // Another program's directory and lock beside the restore's etcd-backup directory.
      mkdirSync(join(root, "var", "lib", "victim"), { recursive: true })
      writeFileSync(join(root, "var", "lib", "victim", "data"), "precious")
      writeFileSync(join(root, "var", "lib", "victim.lock"), "not ours")
      const run = await runCli(args(store, root), { timeoutMs: 60_000 })
      expect(run.status, run.output).toBe(2)
      expect(run.stderr).toMatch(/backup id/)
      expect(existsSync(join(root, "var", "lib", "victim", "data"))).toBe(true)
      expect(existsSync(join(root, "into"))).toBe(false)
    },
    90_000,
  )
})

describe("a path where the backup id goes", () => {
  it("download STORE/ID DIR (the id in the store's URL, the directory taken for the id): exit 2 saying the order of the arguments", async () => {
    const run = await runCli(["download", "s3://bkt/p/2026-01-02_030405", join(tempDir("backup-id-path"), "into")], { timeoutMs: 60_000 })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(
      "not a path: download takes STORE ID DIR, in that order: the store, the backup's ID (see list), the directory to download into",
    )
  })

  it("--backup-id <prefix>/<id>: exit 2 saying the store is the argument", async () => {
    const run = await runCli(["verify", "s3://bkt/p", "--backup-id", "p/2026-01-02_030405"], { timeoutMs: 60_000 })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain("not a path: the store is the command's argument, the backup's ID alone goes with --backup-id")
  })
})
