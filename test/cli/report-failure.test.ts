import { Cause, Effect } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { reportFailure } from "../../src/cli/report-failure.ts"

const reported = (cause: Cause.Cause<unknown>): string => {
  const lines: Array<string> = []
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk))
    return true
  })
  Effect.runSync(reportFailure(cause))
  return lines.join("")
}

/** A value whose every conversion to text throws. */
const hostile = new Proxy(Object.create(null) as object, {
  get: () => {
    throw new Error("no")
  },
})

describe("reportFailure", () => {
  afterEach(() => vi.restoreAllMocks())

  it("prints a failure's message and tag", () => {
    expect(reported(Cause.fail({ _tag: "Broken", message: "it broke" }))).toBe("error: it broke [Broken]\n")
  })

  it("prints a defect with its stack as a bug", () => {
    const text = reported(Cause.die(new TypeError("Invalid URL")))
    expect(text).toMatch(/^error: unexpected failure \(a bug, please report it\):\n/)
    expect(text).toContain("TypeError: Invalid URL")
  })

  it("still prints something for a failure or a defect that cannot be turned into text", () => {
    expect(reported(Cause.fail(Object.create(null)))).toMatch(/^error: .+\n$/)
    expect(reported(Cause.fail(hostile))).toMatch(/^error: .+\n$/)
    expect(reported(Cause.die(hostile))).toMatch(/^error: unexpected failure \(a bug, please report it\):\n.+\n$/)
  })
})
