/**
 * prune killed with SIGKILL at random points, then run again to completion, ends exactly where an
 * uninterrupted prune ends: the same backups kept, users' files kept, no leftover, nothing
 * half-deleted. The directory holds enough backups and files (decoded-Secret staging trees of
 * killed backup runs) that removing takes a while. Kills are timed from what prune does, not from
 * its start (Node's start-up is slow and erratic on a loaded machine): six come a seeded random
 * 0-15 ms after prune's first change in the directory (seen by inotify), four a seeded random
 * fraction of an uninterrupted run's working time after it took its lock, the scan included.
 *
 * prune runs with its default leftover grace (24 h), on a fixture made long ago: a killed prune's
 * own deletions make what it leaves look modified now, and the lock it held, stale once it is
 * killed, is what lets the next prune finish it at once. `--leftover-grace 0` would hide a prune
 * that loses that evidence (a cron job's killed prune would then leave its half-deleted backups
 * and decoded Secrets for a day).
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { setTreeMtime, writeFakeBackup, writeStagingLeftovers } from "../support/fake-backups.ts"
import { seededRandom } from "../support/kill-loop.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const work = tempDir("prune-kill")

const args = (dir: string) => ["prune", dir, "--keep-last", "4"]
const stamp = (day: number, hour: number) => `2026-01-${String(day).padStart(2, "0")}_${String(hour).padStart(2, "0")}0000`

/** Subdirectory backups (some with a user's file, some with a killed run's staging tree), flat pairs, one verified flat backup, leftovers. */
const makeFixture = (dir: string) => {
  for (let day = 1; day <= 24; day++) {
    const sub = join(dir, `backup-${day}`)
    writeFakeBackup(sub, stamp(day, 1), { snapshotBytes: 4096 })
    if (day % 3 === 0) writeStagingLeftovers(sub, 60)
    if (day % 5 === 0) writeFileSync(join(sub, "NOTES.txt"), `notes of day ${day}`)
  }
  for (let day = 1; day <= 24; day++) for (const hour of [2, 3, 4]) writeFakeBackup(dir, stamp(day, hour), { manifest: false, snapshotBytes: 2048 })
  writeFakeBackup(dir, stamp(25, 2), { snapshotBytes: 2048 })
  writeStagingLeftovers(dir, 200)
  for (let i = 0; i < 8; i++) writeFileSync(join(dir, `snapshot_2026-01-${26 + (i % 3)}_0${i}0000.db.part`), Buffer.alloc(10_000, 1))
  writeFileSync(join(dir, "README.operator.txt"), "ours, not prune's")
  mkdirSync(join(dir, "scripts"))
  writeFileSync(join(dir, "scripts", "copy.sh"), "oc cp ...")
}

/** A copy of the fixture, every file and directory last modified a month ago (as backups and a killed run's leftovers are). */
const copyOf = (pristine: string, to: string) => {
  cpSync(pristine, to, { recursive: true })
  setTreeMtime(to, Date.now() - 30 * 86_400_000)
}

/** Every path under `dir` with its size (directories as "dir"), sorted. */
const snapshotTree = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((p) => p !== ".cluster-backup/run.lock")
    .sort()
    .map((p) => {
      const info = statSync(join(dir, p))
      return `${p} ${info.isDirectory() ? "dir" : info.size}`
    })

/** When to SIGKILL: `fraction` of `windowMs` after prune took its lock, or `delayMs` after it changed the directory. */
type Kill = { readonly fraction: number; readonly windowMs: number } | { readonly delayMs: number }

/** Runs prune and kills it as `kill` says (never, when undefined); returns how long it worked from taking its lock. */
const runKilled = async (dir: string, kill: Kill | undefined): Promise<{ killed: boolean; workedMs: number }> => {
  let lockedAt: number | undefined
  const run = await runCli(args(dir), {
    during: async (child) => {
      let timer: NodeJS.Timeout | undefined
      const killIn = (ms: number) => {
        timer ??= setTimeout(() => child.kill("SIGKILL"), Math.round(ms))
      }
      const poll = setInterval(() => {
        try {
          if ((JSON.parse(readFileSync(join(dir, ".cluster-backup", "run.lock"), "utf8")) as { pid: number }).pid !== child.pid) return
        } catch {
          return
        }
        lockedAt = Date.now()
        clearInterval(poll)
        if (kill !== undefined && "fraction" in kill) killIn(kill.fraction * kill.windowMs)
      }, 1)
      // A change in the pruned directory or a subdirectory (inotify, one watcher each: prune's own
      // lock is in neither) means it is removing things.
      const watched = [
        dir,
        ...readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isDirectory() && !e.name.startsWith("."))
          .map((e) => join(dir, e.name)),
      ]
      const watchers = watched.map((d) =>
        watch(d, () => {
          if (kill !== undefined && "delayMs" in kill) killIn(kill.delayMs)
        }).on("error", () => undefined),
      )
      await child.end
      clearInterval(poll)
      clearTimeout(timer)
      for (const w of watchers) w.close()
    },
  })
  if (kill === undefined && run.status !== 0) throw new Error(`prune exited with ${run.status}`)
  return { killed: run.signal === "SIGKILL", workedMs: lockedAt === undefined ? 0 : Date.now() - lockedAt }
}

describe("prune under SIGKILL", () => {
  it("ends, once run again, exactly where an uninterrupted prune ends", { timeout: 300_000 }, async () => {
    const pristine = join(work, "pristine")
    makeFixture(pristine)

    const reference = join(work, "reference")
    copyOf(pristine, reference)
    const { workedMs } = await runKilled(reference, undefined)
    const expected = snapshotTree(reference)
    // The reference itself: the 4 newest verified backups, the users' files, no leftover.
    expect(expected.filter((p) => /\.part|staging|resources-|tmp-|run\.lock/.test(p))).toEqual([])
    expect(expected.filter((p) => /NOTES\.txt \d+$/.test(p))).toHaveLength(4)
    expect(expected.filter((p) => /^backup-\d+ dir$|^snapshot_.*\.db /.test(p))).toEqual([
      "backup-10 dir",
      "backup-15 dir",
      "backup-20 dir",
      "backup-22 dir",
      "backup-23 dir",
      "backup-24 dir",
      "backup-5 dir",
      `snapshot_${stamp(25, 2)}.db 2048`,
    ])

    const killedDir = join(work, "killed")
    copyOf(pristine, killedDir)
    const next = seededRandom(13)
    let midWork = 0
    let before = snapshotTree(killedDir)
    for (let i = 0; i < 10; i++) {
      // Six kills soon after removing began (each run removes a little more), then four at any point of the work, the scan included.
      const { killed } = await runKilled(killedDir, i < 6 ? { delayMs: next() * 15 } : { fraction: next(), windowMs: workedMs })
      const after = snapshotTree(killedDir)
      if (killed && after.join("\n") !== before.join("\n") && after.join("\n") !== expected.join("\n")) midWork++
      before = after
    }
    await runKilled(killedDir, undefined)
    expect(snapshotTree(killedDir)).toEqual(expected)
    // No lock outlives the runs: not the pruned directory's (left out of the trees above), nor a subdirectory's.
    expect(readdirSync(killedDir, { recursive: true, encoding: "utf8" }).filter((p) => p.includes("run.lock"))).toEqual([])
    // The loop proved something only if some kills landed while prune was changing the directory.
    expect(midWork).toBeGreaterThan(0)
  })
})
