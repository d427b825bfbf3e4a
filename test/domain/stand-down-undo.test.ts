import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { defaultOperands } from "../../src/domain/operands.ts"
import { baseOrWithRunId } from "../../src/domain/restore-plan.ts"
import {
  ambiguityMs,
  memberMoveMaxMs,
  planStandDownUndo,
  renderUndoPlan,
  revisionJsonWithMemberMs,
  type UndoSlot,
  undoPlaces,
} from "../../src/domain/stand-down-undo.ts"

const places = undoPlaces(defaultOperands)

const slotsArb: fc.Arbitrary<Array<UndoSlot>> = fc
  .tuple(
    ...places.map((p) =>
      fc.record({
        placeTaken: fc.boolean(),
        candidates: fc.uniqueArray(
          fc.record({
            name: fc.oneof(
              fc.constant(p.base),
              fc.uuid({ version: 4 }).map((id) => `${p.base}.${id}`),
            ),
            ctimeMs: fc.integer({ min: 0, max: 20_000_000 }),
          }),
          { selector: (c) => c.name, maxLength: 3 },
        ),
      }),
    ),
  )
  .map((states) => states.map((s, i) => ({ what: places[i]!.what, dir: places[i]!.dir, place: places[i]!.place, ...s })))

const newest = (slot: UndoSlot) => [...slot.candidates].sort((a, b) => b.ctimeMs - a.ctimeMs)

describe("planStandDownUndo", () => {
  it("property: each move puts back the newest candidate into a free place, in order; revision.json only with its member; a tie, a member with nothing to put back or one no stand-down set aside refuses", () => {
    fc.assert(
      fc.property(
        slotsArb,
        fc.array(fc.uuid({ version: 4 }), { maxLength: 1 }),
        fc.option(fc.integer({ min: 0, max: 20_000_000 }), { nil: undefined }),
        (slots, partials, stoodDownAt) => {
          const plan = planStandDownUndo(slots, partials, stoodDownAt)
          const ambiguous = slots.filter((s) => !s.placeTaken && newest(s).length > 1 && newest(s)[0]!.ctimeMs - newest(s)[1]!.ctimeMs < ambiguityMs)
          const memberLost = !slots[0]!.placeTaken && slots[0]!.candidates.length === 0
          const memberPick = slots[0]!.placeTaken ? undefined : newest(slots[0]!)[0]
          const notStoodDown =
            memberPick !== undefined &&
            !ambiguous.includes(slots[0]!) &&
            (stoodDownAt === undefined || memberPick.ctimeMs < stoodDownAt - ambiguityMs || memberPick.ctimeMs - stoodDownAt > memberMoveMaxMs)
          expect(plan._tag === "Refused").toBe(partials.length > 0 || ambiguous.length > 0 || memberLost || notStoodDown)
          if (plan._tag === "Refused") return
          const places = slots.map((s) => s.place)
          expect(plan.moves.map((m) => places.indexOf(m.to))).toEqual([...plan.moves.map((m) => places.indexOf(m.to))].sort((a, b) => a - b))
          for (const move of plan.moves) {
            const slot = slots.find((s) => s.place === move.to)!
            expect(slot.placeTaken).toBe(false)
            expect(move.from).toBe(`${slot.dir}/${newest(slot)[0]!.name}`)
          }
          for (const slot of slots.slice(2)) {
            expect(plan.moves.some((m) => m.to === slot.place)).toBe(!slot.placeTaken && slot.candidates.length > 0)
          }
          const memberMove = plan.moves.find((m) => m.to === slots[0]!.place)
          const revisionMove = plan.moves.find((m) => m.to === slots[1]!.place)
          if (revisionMove !== undefined) {
            expect(memberMove).toBeDefined()
            expect(Math.abs(newest(slots[1]!)[0]!.ctimeMs - newest(slots[0]!)[0]!.ctimeMs)).toBeLessThanOrEqual(revisionJsonWithMemberMs)
          }
          expect(renderUndoPlan("/host", plan)).toContain(plan.moves.length === 0 ? "nothing to put back" : `${plan.moves.length} moves back`)
        },
      ),
    )
  })

  it("property: only the names a stand-down gives are candidates", () => {
    fc.assert(
      fc.property(fc.constantFrom(...places), fc.string(), (place, tail) => {
        expect(baseOrWithRunId(place.base, place.base)).toBe(true)
        expect(baseOrWithRunId(place.base, `${place.base}.x${tail}`)).toBe(false)
        expect(baseOrWithRunId(place.base, `.${place.base}${tail}`)).toBe(false)
      }),
    )
  })
})
