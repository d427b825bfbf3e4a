import { posix } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { hostLayout, stopPathsToObserve } from "../../src/domain/host-layout.ts"
import { stepIds } from "../../src/domain/host-steps.ts"
import { defaultOperands } from "../../src/domain/operands.ts"
import { stoppingSteps } from "../../src/domain/stopping-steps.ts"

const inputArb = fc.record({
  root: fc.constantFrom("/", "/host"),
  restoreId: fc.uuid({ version: 4 }),
  existing: fc.subarray([...stopPathsToObserve()]),
  keepControlPlaneRunning: fc.boolean(),
  purpose: fc.constantFrom("restore" as const, "stand-down" as const),
  separate: fc.boolean(),
})

describe("stoppingSteps", () => {
  it("property: in the fixed order, they only move what runs or what etcd's data directory holds out of place, each back by its undo", () => {
    fc.assert(
      fc.property(inputArb, ({ separate, ...input }) => {
        const disk = separate ? { memberBytes: 1, partialRestoresBytes: 0 } : undefined
        const { steps } = stoppingSteps({ ...input, ...(disk === undefined ? {} : { separateDataDisk: disk }) }, defaultOperands)
        const order = steps.map((s) => stepIds.indexOf(s.id))
        expect(order).toEqual([...order].sort((a, b) => a - b))
        const host = (p: string) => posix.join(input.root, p)
        const moves = steps.flatMap((s) => s.actions).filter((a) => a._tag === "Move")
        for (const m of moves) {
          const fromManifests = posix.dirname(m.from) === host(hostLayout.manifestsDir)
          const fromData = posix.dirname(m.from) === host(hostLayout.dataDir)
          expect(fromManifests || fromData).toBe(true)
          expect(input.existing).toContain(m.from.slice(input.root === "/" ? 0 : input.root.length))
          expect(input.existing).not.toContain(m.to.slice(input.root === "/" ? 0 : input.root.length))
          if (input.keepControlPlaneRunning) expect(fromData || m.from.endsWith(`/${defaultOperands.etcd.podConfigMap}.yaml`)).toBe(true)
        }
        for (const s of steps) {
          const back = s.undo.filter((a) => a._tag === "Move").map((a) => `${a.to}<-${a.from}`)
          for (const a of s.actions) if (a._tag === "Move" && !a.from.includes("/manifests/")) expect(back).toContain(`${a.from}<-${a.to}`)
        }
        expect(steps.flatMap((s) => s.actions).some((a) => a._tag === "RunCommand" || a._tag === "CopyFile" || a._tag === "ExtractArchive")).toBe(false)
      }),
    )
  })
})
