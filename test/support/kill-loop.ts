/**
 * Kill loops: run a command as a child process and SIGKILL it at a random point of its work,
 * chosen by a seeded generator so a failing run can be replayed. "Its work" starts when the
 * command holds the backup directory's lock (the lock file appears): Node's start-up before that
 * changes nothing on disk.
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { decodeBackupManifest } from "../../src/domain/backup-manifest.ts"
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
  /** Its exit code, whether or not the kill landed (a SIGTERMed command may exit with one); null when a signal ended it. */
  readonly status: number | null
  /** Milliseconds from the start of its work (the lock's appearance, or `begun`) to the kill (or to the end). */
  readonly afterLockMs: number
  readonly stdout: string
  readonly stderr: string
}

/** Whether the run lock at `lockPath` names process `pid`: its work has begun (Node's start-up before that changes nothing). */
export const holdsRunLock = (lockPath: string, pid: number): boolean => {
  try {
    return (JSON.parse(readFileSync(lockPath, "utf8")) as { pid?: number }).pid === pid
  } catch {
    return false
  }
}

/** The step count a host-side plan's run (restore, stand-down) prints once it holds its lock (`...: N steps (...)`). */
const plannedSteps = (stdout: string): number | undefined => {
  const total = /: (\d+) steps \(/.exec(stdout)
  return total === null ? undefined : Number(total[1])
}

/** Whether the run holding the lock at `lockPath` has printed its plan's step count. */
export const planBegun = (lockPath: string, pid: number, stdout: string): boolean => holdsRunLock(lockPath, pid) && plannedSteps(stdout) !== undefined

/**
 * A `begun` for a host-side plan's run holding the lock at `lockPath`: at the start of its step
 * ⌊fraction × (steps + 1)⌋, step 0 as soon as it holds the lock and has planned. `chosen` learns the step.
 */
export const atPlanStep =
  (lockPath: string, fraction: number, chosen: (step: number) => void = () => {}) =>
  (pid: number, stdout: string): boolean => {
    const total = holdsRunLock(lockPath, pid) ? plannedSteps(stdout) : undefined
    if (total === undefined) return false
    const step = Math.floor(fraction * (total + 1))
    chosen(step)
    return step === 0 || stdout.includes(`[${step}/`)
  }

export interface KillPlan {
  /** Whether the command's work has begun, asked every 2 ms with its process id and its stdout so far. */
  readonly begun: (pid: number, stdout: string) => boolean
  /** How long after the work has begun the signal is sent (unless the command ended first). */
  readonly delayMs: number
  /** SIGKILL by default. */
  readonly signal?: "SIGKILL" | "SIGTERM"
  /**
   * Runs the command in its own process group: a SIGKILL takes the whole group (what it started with it); a SIGTERM goes to
   * the command alone, and once it has exited whatever is left of its group is SIGKILLed.
   */
  readonly group?: boolean
  readonly env?: Readonly<Record<string, string>>
}

/** Starts `cluster-backup <args>`, waits until its work has begun, signals it `delayMs` later (unless it ended first) and waits for it to be gone. */
export const runAndKillWhen = async (args: ReadonlyArray<string>, plan: KillPlan): Promise<KilledRun> => {
  const signal = plan.signal ?? "SIGKILL"
  const group = plan.group ?? false
  let finished = false
  let begun = 0
  const run = await runCli(args, {
    ...(plan.env === undefined ? {} : { env: plan.env }),
    detached: group,
    during: async (child) => {
      while (!child.ended() && !plan.begun(child.pid, child.stdout())) await sleep(2)
      begun = Date.now()
      await Promise.race([sleep(plan.delayMs), child.end])
      finished = child.ended()
      if (!finished && group && signal === "SIGKILL") child.killGroup(signal)
      else if (!finished) child.kill(signal)
      if (group) {
        await child.end
        child.killGroup("SIGKILL")
      }
    },
  })
  return {
    finished,
    code: finished ? run.status : null,
    status: run.status,
    afterLockMs: Date.now() - begun,
    stdout: run.stdout,
    stderr: run.stderr,
  }
}

/** Throws unless the manifest in `dir`, when there is one, names files there with its sizes and sha256s. */
const manifestFilesWhole = (dir: string): void => {
  const path = join(dir, "backup-manifest.json")
  if (!existsSync(path)) return
  const manifest = decodeBackupManifest(readFileSync(path, "utf8"))
  if (Result.isFailure(manifest)) throw new Error(`${path} does not decode: ${manifest.failure.message}`)
  for (const f of [manifest.success.files.snapshot, manifest.success.files.resources]) {
    const file = join(dir, f.name)
    const sha256 = existsSync(file) ? createHash("sha256").update(readFileSync(file)).digest("hex") : "missing"
    if (sha256 !== f.sha256) throw new Error(`${path} names ${f.name} with sha256 ${f.sha256}, but it is ${sha256} there`)
  }
}

/**
 * Kills of a command that writes into `into`, until `landings` of them landed before its end: each at a seeded random
 * point of the first three quarters of an uninterrupted run's working time (from `into`'s appearance to its end), where a
 * kill lands but for a run much faster than that one. After each, a manifest in `into` (written last, the mark of a
 * finished run) must name files there whole, with its sha256s. A run that finished (the kill came too late, on a loaded
 * machine: one more round) must have exited 0, and `into` is then removed, so that the next starts over. At most 30
 * rounds; returns the kills that landed.
 */
export const killRoundsInto = async (
  args: ReadonlyArray<string>,
  into: string,
  { landings, seed }: { readonly landings: number; readonly seed: number },
): Promise<number> => {
  const begun = () => existsSync(into)
  const whole = await runAndKillWhen(args, { begun, delayMs: 600_000 })
  if (!whole.finished || whole.code !== 0) throw new Error(`the uninterrupted run failed: ${whole.stderr}`)
  rmSync(into, { recursive: true, force: true })
  const random = seededRandom(seed)
  let landed = 0
  for (let round = 0; round < 30 && landed < landings; round++) {
    const killed = await runAndKillWhen(args, { begun, delayMs: Math.floor(random() * whole.afterLockMs * 0.75) })
    if (killed.finished && killed.code !== 0) throw new Error(`a run the kill came too late for failed: ${killed.stderr}`)
    if (!killed.finished) landed++
    manifestFilesWhole(into)
    if (killed.finished) rmSync(into, { recursive: true, force: true })
  }
  return landed
}

/** Starts `cluster-backup <args>`, waits until `lockFile` exists, then SIGKILLs it `delayMs` later (unless it ended first). */
export const runAndKill = (args: ReadonlyArray<string>, lockFile: string, delayMs: number, env: Readonly<Record<string, string>> = {}) =>
  runAndKillWhen(args, { begun: () => existsSync(lockFile), delayMs, env })

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
