/** The flags and output of a command that starts something in the cluster and follows it to its end (backup-now, backup-pod). */
import { Effect } from "effect"
import { Flag } from "effect/cli"
import { durationFlag } from "./duration-flag.ts"

export const followFlags = (options: {
  readonly timeoutMs: number
  readonly timeoutDescription: string
  readonly timeoutExamples: readonly [string, ...Array<string>]
  /** What each poll reads ("the policy's status"). */
  readonly polled: string
  readonly jsonDescription: string
}) => ({
  timeout: durationFlag("timeout", 1000, options.timeoutMs, options.timeoutDescription, { unitRequired: options.timeoutExamples }),
  pollInterval: durationFlag("poll-interval", 100, 5_000, `How often ${options.polled} is read (default 5s)`),
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription(options.jsonDescription)),
})

/** Progress lines on stdout, or with --json on stderr: stdout then holds only the result, one JSON object. */
export const followOutput = (json: boolean) => {
  const progress = json ? process.stderr : process.stdout
  return {
    output: (line: string) => Effect.sync(() => void progress.write(`${line}\n`)),
    result: (value: unknown) => (json ? Effect.sync(() => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)) : Effect.void),
  }
}
