import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { defaultOperands } from "../../src/domain/operands.ts"
import { baseOrWithRunId } from "../../src/domain/host-layout.ts"
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
          // A record of an earlier version, naming no moves: every place is judged by ctime.
          const plan = planStandDownUndo(slots, partials, stoodDownAt === undefined ? undefined : { stoodDownAtMs: stoodDownAt })
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
          // Done, the record goes: it no longer applies, and a later undo must not take it for a new stand-down's.
          expect(plan.removesRecord).toBe(stoodDownAt !== undefined)
        },
      ),
    )
  })

  /**
   * Slots as a stand-down at `at` leaves them, its record naming one candidate of each place that has any: kept when it
   * ran (a manifest before the record, etcd's member and revision.json after it, within a copy's time) and no other
   * candidate kept clearly after it. Returns the slots and the record's moves.
   */
  const recordedArb = fc
    .tuple(slotsArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: memberMoveMaxMs })), { minLength: places.length, maxLength: places.length }))
    .map(([slots, picks]) => {
      const at = 10_000_000
      const named: Array<string | undefined> = []
      const consistent = slots.map((slot, i) => {
        if (slot.candidates.length === 0) {
          named.push(undefined)
          return slot
        }
        const [choice, offset] = picks[i]!
        const index = choice % slot.candidates.length
        const keptAt = i < 2 ? at + offset : at - offset
        named.push(slot.candidates[index]!.name)
        return {
          ...slot,
          candidates: slot.candidates.map((c, j) => ({ ...c, ctimeMs: j === index ? keptAt : Math.min(c.ctimeMs, keptAt + ambiguityMs - 1) })),
        }
      })
      const moved = consistent.flatMap((s, i) => (named[i] === undefined ? [] : [{ from: s.place, to: `${s.dir}/${named[i]}` }]))
      return { slots: consistent, named, record: { stoodDownAtMs: at, moved } }
    })

  it("property: where the record names a place's move, exactly that entry goes back, whatever older or tied entries there are", () => {
    fc.assert(
      fc.property(recordedArb, fc.array(fc.uuid({ version: 4 }), { maxLength: 1 }), ({ slots, named, record }, partials) => {
        const plan = planStandDownUndo(slots, partials, record)
        const memberLost = !slots[0]!.placeTaken && slots[0]!.candidates.length === 0
        expect(plan._tag === "Refused").toBe(partials.length > 0 || memberLost)
        if (plan._tag === "Refused") return
        const expected = slots.flatMap((s, i) => (s.placeTaken || named[i] === undefined ? [] : [{ what: s.what, from: `${s.dir}/${named[i]}`, to: s.place }]))
        expect(plan.moves).toEqual(expected)
      }),
    )
  })

  it("property: an entry the record names refuses, naming it, when its ctime is past its move or another was kept clearly after it", () => {
    fc.assert(
      fc.property(recordedArb, fc.nat(), fc.boolean(), fc.integer({ min: 0, max: 1_000_000 }), ({ slots, named, record }, which, laterOther, by) => {
        const free = slots.flatMap((s, i) => (!s.placeTaken && named[i] !== undefined ? [i] : []))
        fc.pre(free.length > 0)
        const i = free[which % free.length]!
        const slot = slots[i]!
        const keptAt = slot.candidates.find((c) => c.name === named[i])!.ctimeMs
        const broken = laterOther
          ? [...slot.candidates, { name: `${places[i]!.base}.9d0ba8d4-5d2c-4b6e-8f1a-3c7e2b9a1f00`, ctimeMs: keptAt + ambiguityMs + by }]
          : slot.candidates.map((c) => (c.name === named[i] ? { ...c, ctimeMs: record.stoodDownAtMs + (i < 2 ? memberMoveMaxMs : ambiguityMs) + 1 + by } : c))
        const plan = planStandDownUndo(
          slots.map((s, j) => (j === i ? { ...s, candidates: broken } : s)),
          [],
          record,
        )
        expect(plan._tag).toBe("Refused")
        if (plan._tag === "Refused") {
          expect(plan.reasons.some((r) => r.includes(`names ${slot.dir}/${named[i]} as the stand-down's`))).toBe(true)
        }
      }),
    )
  })

  it("property: where a restore's member is in place, a move of an entry kept before that restore refuses, naming it; otherwise the plan is as without it", () => {
    fc.assert(
      fc.property(
        slotsArb,
        fc.option(fc.integer({ min: 0, max: 20_000_000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 20_000_000 }),
        fc.uuid({ version: 4 }),
        (slots, stoodDownAt, restoredAtMs, restoreId) => {
          const record = stoodDownAt === undefined ? undefined : { stoodDownAtMs: stoodDownAt }
          const base = planStandDownUndo(slots, [], record)
          const withRestore = planStandDownUndo(slots, [], record, { restoreId, restoredAtMs })
          if (base._tag === "Refused") {
            expect(withRestore._tag).toBe("Refused")
            return
          }
          const keptAt = (from: string) => slots.flatMap((s) => s.candidates.filter((c) => `${s.dir}/${c.name}` === from))[0]!.ctimeMs
          const early = base.moves.filter((m) => keptAt(m.from) < restoredAtMs - ambiguityMs)
          expect(withRestore._tag === "Refused").toBe(early.length > 0)
          if (withRestore._tag === "Refused") {
            for (const m of early) {
              expect(withRestore.reasons.some((r) => r.startsWith(`${m.from} was kept before restore-${restoreId}`))).toBe(true)
            }
          } else {
            expect(withRestore).toEqual(base)
          }
        },
      ),
    )
  })

  it("a record's move to an entry that is gone falls back to the newest candidate", () => {
    const slots = places.map((p, i) => ({
      what: p.what,
      dir: p.dir,
      place: p.place,
      placeTaken: i !== 2,
      candidates: i === 2 ? [{ name: p.base, ctimeMs: 5_000 }] : [],
    }))
    const plan = planStandDownUndo(slots, [], { stoodDownAtMs: 10_000, moved: [{ from: places[2]!.place, to: `${places[2]!.dir}/${places[2]!.base}.gone` }] })
    expect(plan).toEqual({
      _tag: "Moves",
      moves: [{ what: places[2]!.what, from: `${places[2]!.dir}/${places[2]!.base}`, to: places[2]!.place }],
      removesRecord: true,
    })
    expect(renderUndoPlan("/host", plan)).toContain("  remove /var/lib/etcd-backup/stood-down.json  (the stand-down's record: undone, it no longer applies)\n")
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
