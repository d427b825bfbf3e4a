/**
 * A JSON report a container leaves as its termination message (`/dev/termination-log`), read back from the pod's
 * status. The kubelet keeps at most 4096 bytes of one and cuts the rest silently: a message that is not JSON is named
 * as possibly cut, never misread.
 */
import { Result, type Schema } from "effect"
import { firstKeyedProblem } from "./schema-errors.ts"

/** The kubelet's limit on one container's termination message. */
export const terminationMessageLimit = 4096
/** The most a report's JSON may take, well under the kubelet's limit. */
export const maxReportBytes = 3072

export interface TerminationReportProblem {
  readonly key: string
  readonly message: string
}

/** Whose report it is, for the messages: what it is called and the command that writes it. */
export interface ReportSource {
  readonly report: string
  readonly writer: string
}

export const parseTerminationReport = <A>(
  decode: (input: unknown) => Result.Result<A, Schema.SchemaError>,
  terminationMessage: string,
  { report, writer }: ReportSource,
): Result.Result<A, TerminationReportProblem> => {
  let json: unknown
  try {
    json = JSON.parse(terminationMessage)
  } catch {
    const bytes = Buffer.byteLength(terminationMessage, "utf8")
    const cut = bytes >= terminationMessageLimit ? ` (${bytes} bytes: the kubelet may have cut it at ${terminationMessageLimit})` : ""
    return Result.fail({ key: "", message: `the termination message is not a ${report} (not JSON${cut}); read the container's log for what ${writer} did` })
  }
  return Result.mapError(decode(json), (e) => {
    const { key, message } = firstKeyedProblem(e)
    return { key, message: `the ${report}'s ${key === "" ? "shape" : key} ${message}; was it written by another version of ${writer}?` }
  })
}
