/**
 * Runs one measured process: wall time from here, peak RSS and CPU from `/usr/bin/time -v`
 * (written to its own file, so the command's stderr stays the command's). A failed run is an
 * error naming the command, its exit code and the end of what it wrote.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Schema } from "effect"

export interface ProcessRun {
  readonly seconds: number
  /** Maximum resident set size of the process (the largest of its children for a shell). */
  readonly peakRssMiB: number
  /** User + system CPU seconds. */
  readonly cpuSeconds: number
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
}

/** A step of a benchmark that did not do its job; the message ends with what it wrote last. */
export class BenchStepFailed extends Schema.TaggedError<BenchStepFailed>()("BenchStepFailed", {
  step: Schema.String,
  exitCode: Schema.Number,
  message: Schema.String,
}) {}

const timeField = (text: string, label: string): number => Number(new RegExp(`${label}: ([\\d.]+)`).exec(text)?.[1] ?? Number.NaN)

/** Runs `command args` to its end under `/usr/bin/time -v`; resolves whatever its exit code. */
export const runMeasured = (command: string, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<ProcessRun> =>
  new Promise((done, fail) => {
    const dir = mkdtempSync(join(tmpdir(), "cb-bench-time-"))
    const stats = join(dir, "time.txt")
    const child = spawn("/usr/bin/time", ["-v", "-o", stats, command, ...args], {
      env: options.env ?? process.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout = (stdout + c).slice(-100_000)))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-100_000)))
    const started = process.hrtime.bigint()
    child.on("error", (e) => {
      rmSync(dir, { recursive: true, force: true })
      fail(e)
    })
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      let text = ""
      try {
        text = readFileSync(stats, "utf8")
      } catch {
        // /usr/bin/time itself did not get to write (it could not start the command)
      }
      rmSync(dir, { recursive: true, force: true })
      done({
        seconds,
        peakRssMiB: timeField(text, "Maximum resident set size \\(kbytes\\)") / 1024,
        cpuSeconds: timeField(text, "User time \\(seconds\\)") + timeField(text, "System time \\(seconds\\)"),
        exitCode: code ?? -1,
        stdout,
        stderr,
      })
    })
  })

/** `runMeasured`, failing with `BenchStepFailed` unless the command exits 0. */
export const runChecked = async (step: string, command: string, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<ProcessRun> => {
  const run = await runMeasured(command, args, options)
  if (run.exitCode !== 0) {
    const output = `${run.stdout}\n${run.stderr}`.trim().slice(-2000)
    throw new BenchStepFailed({ step, exitCode: run.exitCode, message: `${step} exited with ${run.exitCode}; the end of its output:\n${output}` })
  }
  return run
}

/** A shell command line with positional parameters ($1, $2, ...): paths never pass through the shell's parser. */
export const shell = (script: string, ...params: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] => [
  "bash",
  ["-euo", "pipefail", "-c", script, "bench", ...params],
]
