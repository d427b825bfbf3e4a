/**
 * Kill loops: run a command as a child process and SIGKILL it at a random point of its work,
 * chosen by a seeded generator so a failing run can be replayed. "Its work" starts when the
 * command holds the backup directory's lock (the lock file appears): Node's start-up before that
 * changes nothing on disk.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { runCli } from "./run-cli.ts"

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export const seededRandom = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface KilledRun {
  /** The child finished before the kill landed (the kill point was past its end). */
  readonly finished: boolean
  /** Its exit code when it finished, else null. */
  readonly code: number | null
  /** Milliseconds from the lock's appearance to the kill (or to the end). */
  readonly afterLockMs: number
  readonly stderr: string
}

/**
 * Starts `cluster-backup <args>`, waits until `lockFile` exists, then SIGKILLs it `delayMs` later
 * (unless it ended first) and waits for it to be gone.
 */
export const runAndKill = async (
  args: ReadonlyArray<string>,
  lockFile: string,
  delayMs: number,
  env: Readonly<Record<string, string>> = {},
): Promise<KilledRun> => {
  let finished = false
  let locked = 0
  const run = await runCli(args, {
    env,
    during: async (child) => {
      while (!child.ended() && !existsSync(lockFile)) await sleep(2)
      locked = Date.now()
      await Promise.race([sleep(delayMs), child.end])
      finished = child.ended()
      if (!finished) child.kill("SIGKILL")
    },
  })
  return { finished, code: finished ? run.status : null, afterLockMs: Date.now() - locked, stderr: run.stderr }
}

/** Every regular file under `root`, relative path to content. */
export const filesUnder = (root: string): Map<string, Buffer> => {
  const out = new Map<string, Buffer>()
  const visit = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name)
      const info = statSync(full)
      if (info.isDirectory()) visit(full, `${prefix}${name}/`)
      else if (info.isFile()) out.set(`${prefix}${name}`, readFileSync(full))
    }
  }
  visit(root, "")
  return out
}
