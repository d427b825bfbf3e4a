/**
 * The one way tests run `cluster-backup` (or another Node entry point) in a child process.
 */
import { spawn } from "node:child_process"
import { cliEntry } from "./tools.ts"

export interface CliRun {
  /** The exit code; null when a signal ended the process. */
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** stdout and stderr interleaved as they came. */
  readonly output: string
  /** Milliseconds from the start to the end. */
  readonly ms: number
  /** Whether `timeoutMs` passed and the process was sent `killSignal`. */
  readonly timedOut: boolean
}

/** The running process, handed to `during`. */
export interface RunningCli {
  readonly pid: number
  /** Output so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  /** Whether the process has exited. */
  readonly ended: () => boolean
  /** Resolves when it has exited and its output is closed. */
  readonly end: Promise<void>
  readonly kill: (signal: NodeJS.Signals) => void
  /** Signals the process's whole group (with `detached`); nothing when the group is gone. */
  readonly killGroup: (signal: NodeJS.Signals) => void
}

export interface CliOptions {
  /** Over this process's environment; `KUBECONFIG` is cleared unless set here. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Another entry point run by this Node (the built command, a test's stand-in); the source tree's command by default. */
  readonly entry?: string
  /** Written to the process's stdin, which is then closed; no stdin by default. */
  readonly stdin?: string | Uint8Array
  readonly cwd?: string
  /** Runs it in its own process group, so that `killGroup` reaches what it started (as a container or systemd stop does). */
  readonly detached?: boolean
  /** Past it the process is sent `killSignal` (the run then reports `timedOut`). */
  readonly timeoutMs?: number
  /** SIGKILL by default: what the timeout guards against is often a process blocked where SIGTERM cannot end it. */
  readonly killSignal?: NodeJS.Signals
  /**
   * Runs while the process does (to signal it mid-run, or wait for what it prints or writes);
   * the run's result comes when both it and the process have ended. When it fails, the process
   * is SIGKILLed and the run fails with its error.
   */
  readonly during?: (child: RunningCli) => Promise<void> | void
}

/**
 * Runs `entry <args>` with this Node without blocking this process (a stub API server here must
 * keep answering it); resolves when the process has ended, whatever its exit code or signal.
 */
export const runCli = (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliRun> => {
  const started = Date.now()
  const child = spawn(process.execPath, [options.entry ?? cliEntry, ...args], {
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    env: { ...process.env, KUBECONFIG: "", ...options.env },
    detached: options.detached ?? false,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  })
  let stdout = ""
  let stderr = ""
  let output = ""
  let ended = false
  let timedOut = false
  const collect = (into: "stdout" | "stderr") => (d: Buffer) => {
    const text = d.toString()
    if (into === "stdout") stdout += text
    else stderr += text
    output += text
  }
  child.stdout!.on("data", collect("stdout"))
  child.stderr!.on("data", collect("stderr"))
  if (options.stdin !== undefined) child.stdin!.end(options.stdin)
  const timeout = () => {
    timedOut = true
    child.kill(options.killSignal ?? "SIGKILL")
  }
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(timeout, options.timeoutMs)
  const end = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject)
    child.on("exit", () => {
      ended = true
    })
    child.on("close", (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stdout, stderr, output, ms: Date.now() - started, timedOut })
    })
  })
  const running: RunningCli = {
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    ended: () => ended,
    end: end.then(
      () => undefined,
      () => undefined,
    ),
    kill: (signal) => void child.kill(signal),
    killGroup: (signal) => {
      try {
        process.kill(-child.pid!, signal)
      } catch {
        // no such group: all of it is gone
      }
    },
  }
  const during = Promise.resolve().then(() => options.during?.(running))
  return during.then(
    () => end,
    (error: unknown) => {
      child.kill("SIGKILL")
      return end.then(() => Promise.reject(error))
    },
  )
}
