/**
 * How a failed command tells its user what went wrong: one line per failure, `error: <message>`,
 * on stderr, with the error's tag so scripts can match it. Defects (bugs) keep their stack.
 * The CLI's own parse errors were already shown with the help text and are not repeated.
 */
import { Cause, Effect } from "effect"

const describeFailure = (error: unknown): string | undefined => {
  if (typeof error === "object" && error !== null) {
    const tag = (error as { _tag?: unknown })._tag
    if (tag === "ShowHelp") return undefined
    const message = (error as { message?: unknown }).message
    if (typeof message === "string" && message !== "") return typeof tag === "string" ? `${message} [${tag}]` : message
  }
  return String(error)
}

export const reportFailure = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Effect.sync(() => {
    for (const reason of cause.reasons) {
      if (reason._tag === "Fail") {
        const text = describeFailure(reason.error)
        if (text !== undefined) process.stderr.write(`error: ${text}\n`)
      } else if (reason._tag === "Die") {
        process.stderr.write(`error: unexpected failure (a bug, please report it):\n${Cause.pretty(Cause.die(reason.defect))}\n`)
      }
    }
  })
