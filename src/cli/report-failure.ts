/**
 * How a failed command tells its user what went wrong: one line per failure, `error: <message>`,
 * on stderr, with the error's tag so scripts can match it. Defects (bugs) keep their stack.
 * The CLI's own parse errors were already shown with the help text and are not repeated.
 */
import { inspect } from "node:util"
import { Cause, Effect } from "effect"

/** Text of anything at all, even a value whose own conversion throws (a hostile or broken object). */
const textOf = <R extends string | undefined>(value: unknown, render: (value: unknown) => R): R | string => {
  try {
    return render(value)
  } catch {
    try {
      return inspect(value, { depth: 4 })
    } catch {
      return "(a value that cannot be printed)"
    }
  }
}

const describeFailure = (error: unknown): string | undefined => {
  if (typeof error === "object" && error !== null) {
    const tag = (error as { _tag?: unknown })._tag
    if (tag === "ShowHelp") return undefined
    const message = (error as { message?: unknown }).message
    if (typeof message === "string" && message !== "") return typeof tag === "string" ? `${message} [${tag}]` : message
  }
  return textOf(error, String)
}

export const reportFailure = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Effect.sync(() => {
    for (const reason of cause.reasons) {
      if (reason._tag === "Fail") {
        const text = textOf(reason.error, describeFailure)
        if (text !== undefined) process.stderr.write(`error: ${text}\n`)
      } else if (reason._tag === "Die") {
        process.stderr.write(`error: unexpected failure (a bug, please report it):\n${textOf(reason.defect, (d) => Cause.pretty(Cause.die(d)))}\n`)
      }
    }
  })
