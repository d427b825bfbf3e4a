/**
 * The frames of a `pods/exec` WebSocket (the `v4.channel.k8s.io` protocol, which v5 extends): each binary message is one
 * channel byte and its payload. The last frame on the status channel is a `Status` object: `Success`, or `Failure` with
 * reason `NonZeroExitCode` and the exit code as the message of its `ExitCode` cause.
 */
import { Result, Schema } from "effect"

/** The subprotocols a client offers, newest first (v5 adds a close signal for stdin, which this client never sends). */
export const execSubprotocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const

export const ExecChannel = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const

/** How the command ended, as its status frame says. */
export type ExecOutcome = { readonly _tag: "Exited0" } | { readonly _tag: "Failed"; readonly exitCode?: number; readonly message: string }

const StatusFrame = Schema.Struct({
  status: Schema.String,
  message: Schema.optionalKey(Schema.String),
  reason: Schema.optionalKey(Schema.String),
  details: Schema.optionalKey(
    Schema.Struct({
      causes: Schema.optionalKey(Schema.Array(Schema.Struct({ reason: Schema.optionalKey(Schema.String), message: Schema.optionalKey(Schema.String) }))),
    }),
  ),
})

/** The outcome a status frame's payload (JSON text) reports; a payload that is no Status is a failure saying so. */
export const execOutcomeOf = (payload: string): ExecOutcome => {
  let json: unknown
  try {
    json = JSON.parse(payload)
  } catch {
    return { _tag: "Failed", message: "the exec status frame is not JSON" }
  }
  const decoded = Schema.decodeUnknownResult(StatusFrame)(json)
  if (Result.isFailure(decoded)) return { _tag: "Failed", message: "the exec status frame is not a Status object" }
  const frame = decoded.success
  if (frame.status === "Success") return { _tag: "Exited0" }
  const code = frame.reason === "NonZeroExitCode" ? frame.details?.causes?.find((c) => c.reason === "ExitCode")?.message : undefined
  const exitCode = code !== undefined && /^\d{1,3}$/.test(code) ? Number(code) : undefined
  return { _tag: "Failed", ...(exitCode === undefined ? {} : { exitCode }), message: frame.message ?? frame.reason ?? "the command failed" }
}

/** The status frame's payload a kubelet sends for a command that ended with `exitCode` (what the stub server writes). */
export const execStatusPayload = (command: ReadonlyArray<string>, exitCode: number): string =>
  JSON.stringify(
    exitCode === 0
      ? { metadata: {}, status: "Success" }
      : {
          metadata: {},
          status: "Failure",
          message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${exitCode}`,
          reason: "NonZeroExitCode",
          details: { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
        },
  )

/** One frame: the channel byte, then the payload. */
export const execFrame = (channel: number, payload: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(payload.length + 1)
  frame[0] = channel
  frame.set(payload, 1)
  return frame
}
