/**
 * `backup-create` on a volume that fills up after the tarball, while the manifest is written: a
 * real ENOSPC from the kernel (a tmpfs in the child's own mount namespace), reported with the
 * code, the path and what to do, where it used to say `Unknown: FileSystem.writeAll (21)`.
 */
import { spawnSync } from "node:child_process"
import { cpSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { formatRevisionSet } from "../../src/domain/revisions.ts"
import { loadedCluster, revisions, stageAll, timestamp, writeFakeSnapshot } from "../programs/backup/backup-resources-harness.ts"
import { runCli } from "../support/run-cli.ts"
import { cliEntry } from "../support/tools.ts"
import { scopedTempDir } from "../support/temp-dir.ts"

const page = 4096
const pages = (bytes: number) => Math.ceil(bytes / page) * page

/**
 * Copies `prepared` onto a fresh 16 MiB tmpfs, fills it until `room` bytes are free, and runs
 * backup-create there; prints the directory's listing after the run on stdout's last line.
 */
const createOnTmpfs = (prepared: string, room: number) => {
  const script = [
    'set -e; d=$(mktemp -d); mount -t tmpfs -o size=16m tmpfs "$d"; cp -a "$1/." "$d/"',
    // Fill the volume until `room` bytes are left.
    'free=$(( $(stat -f -c "%a" "$d") * $(stat -f -c "%S" "$d") )); head -c $(( free - $2 )) /dev/zero > "$d/filler"',
    'set +e; "$3" "$4" backup-create --backup-dir "$d" --revisions "$5"; status=$?',
    'echo; ls -A "$d" | tr "\\n" " "; exit $status',
  ].join("\n")
  return spawnSync(
    "unshare",
    ["--map-root-user", "--mount", "sh", "-c", script, "sh", prepared, String(room), process.execPath, cliEntry, formatRevisionSet(revisions)],
    {
      encoding: "utf8",
      timeout: 120_000,
    },
  )
}

describe("backup-create on a volume that fills up", () => {
  it.effect(
    "the manifest write fails with ENOSPC, the path and what to do; no manifest, no temporary file",
    () =>
      Effect.gen(function* () {
        const dir = yield* scopedTempDir("full-disk")
        const backupDir = join(dir, "backup")
        yield* stageAll(backupDir, loadedCluster().cluster)
        yield* writeFakeSnapshot(backupDir, revisions)

        // A run with room, on a copy, gives the sizes of what backup-create writes.
        const trial = join(dir, "trial")
        cpSync(backupDir, trial, { recursive: true })
        const ok = yield* Effect.promise(() => runCli(["backup-create", "--backup-dir", trial, "--revisions", formatRevisionSet(revisions)]))
        assert.strictEqual(ok.status, 0, ok.stderr)
        const tarball = statSync(join(trial, `static_kuberesources_${timestamp}.tar.gz`)).size
        const manifest = readFileSync(join(trial, "backup-manifest.json")).length
        // Room for the tarball and a page for small files (a lock), not for the manifest.
        const room = pages(tarball) + page
        assert.isAbove(pages(manifest), 2 * page, "the manifest must need more than the spare page")

        const run = createOnTmpfs(backupDir, room)
        assert.strictEqual(run.status, 1, `${run.stdout}\n${run.stderr}`)
        const path = /cannot write (\S+backup-manifest\.json): /.exec(run.stderr)?.[1]
        assert.isDefined(path, run.stderr)
        assert.include(
          run.stderr,
          `error: cannot write ${path}: ENOSPC: the volume holding ${path} is full: free space or give it more room, then run again [BackupFileError]`,
        )
        assert.notInclude(run.stderr, "Unknown")
        const left = run.stdout.trim().split("\n").at(-1)!.trim().split(" ")
        assert.notInclude(left, "backup-manifest.json")
        assert.isFalse(
          left.some((name) => name.includes(".tmp-")),
          left.join(" "),
        )
      }),
    180_000,
  )
})
