import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { ExecChannel, execFrame, execOutcomeOf, execStatusPayload } from "../../../src/services/kube/exec-protocol.ts"

describe("the exec status frame", () => {
  test.prop([fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 255 })])(
    "reads back the exit code a kubelet's status frame reports",
    (command, exitCode) => {
      const outcome = execOutcomeOf(execStatusPayload(command, exitCode))
      expect(outcome).toEqual(exitCode === 0 ? { _tag: "Exited0" } : expect.objectContaining({ _tag: "Failed", exitCode }))
    },
  )

  test.prop([fc.string()])("takes anything but a Success Status for a failure, never for an exit 0", (payload) => {
    fc.pre(!payload.includes("Success"))
    expect(execOutcomeOf(payload)._tag).toBe("Failed")
  })

  test.prop([fc.string({ minLength: 1 })])("a Failure without an ExitCode cause has no exit code, and its message", (message) => {
    expect(execOutcomeOf(JSON.stringify({ status: "Failure", reason: "InternalError", message }))).toEqual({ _tag: "Failed", message })
  })

  test.prop([fc.constantFrom(...Object.values(ExecChannel)), fc.uint8Array({ maxLength: 64 })])(
    "a frame is its channel byte, then the payload",
    (channel, payload) => {
      const frame = execFrame(channel, payload)
      expect(frame[0]).toBe(channel)
      expect([...frame.subarray(1)]).toEqual([...payload])
    },
  )
})
