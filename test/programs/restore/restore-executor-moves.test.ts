/**
 * The executor after a move off another file system that failed once its copy had the
 * destination's name: the step counts as having changed something, so its undo runs, and an undo
 * move whose destination is taken is named in the failure instead of being skipped in silence.
 * The move's failures are simulated by a DurableFiles whose first move leaves what the real one
 * leaves in those cases (cross-device-move-failures.test.ts shows it does).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, cpSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import type { RestoreStep, StepId } from "../../../src/domain/host-steps.ts"
import type { RestorePlan } from "../../../src/domain/restore-plan.ts"
import { executePlan } from "../../../src/programs/restore/restore-executor.ts"
import { BackupFileError } from "../../../src/services/atomic-files.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { HostProcesses } from "../../../src/services/host-processes.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { tempDir } from "../../support/temp-dir.ts"

/** The live DurableFiles, except that the first move does `firstMove` and then fails. */
const failingFirstMove = (firstMove: (from: string, to: string) => void) =>
  Layer.effect(
    DurableFiles,
    Effect.gen(function* () {
      const live = yield* DurableFiles
      let moves = 0
      return DurableFiles.of({
        ...live,
        move: (from, to, options) =>
          ++moves > 1
            ? live.move(from, to, options)
            : Effect.sync(() => firstMove(from, to)).pipe(
                Effect.andThen(Effect.fail(new BackupFileError({ code: "EIO", path: from, operation: "move", message: `cannot move ${from}: injected` }))),
              ),
      })
    }),
  ).pipe(Layer.provide(DurableFiles.live))

/** A plan of one step moving `from` to `to` across file systems, undone by the move back. */
const movePlan = (from: string, to: string) => {
  const step: RestoreStep = {
    id: "keep-old-member" as StepId,
    title: "Keep the old etcd data",
    description: "",
    preconditions: [],
    actions: [{ _tag: "Move", from, to, acrossFileSystems: true }],
    touches: [from, to],
    onFailure: "The old data is either still in place or fully moved.",
    undo: [{ _tag: "Move", from: to, to: from, acrossFileSystems: true }],
  }
  return { steps: [step] } as unknown as RestorePlan
}

const run = (from: string, to: string, firstMove: (from: string, to: string) => void) =>
  Effect.runPromiseExit(
    executePlan({ plan: movePlan(from, to), print: () => Effect.void, backupVerified: Effect.die("not used") }).pipe(
      Effect.provide(
        Layer.mergeAll(failingFirstMove(firstMove), Etcdutl.inMemory({ statuses: {} }), Tarball.live, HostProcesses.live, DiskSpace.live, NodeServices.layer),
      ),
    ),
  )

const member = (name: string) => {
  const dir = tempDir(`executor-moves-${name}`)
  const from = join(dir, "member")
  mkdirSync(from)
  writeFileSync(join(from, "db"), "old data")
  return { from, to: join(dir, "kept-member") }
}

describe("a step whose move failed after its copy took the destination's name", () => {
  it("the move was done but reported failed (its trash not removed): the undo puts it back and the failure says so", async () => {
    const { from, to } = member("done")
    const exit = await run(from, to, (a, b) => renameSync(a, b))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(JSON.stringify(exit)).toMatch(/RestoreStepFailed.*cannot move .*: injected\. What it had changed was put back\. No earlier step ran/)
    expect(readFileSync(join(from, "db"), "utf8")).toBe("old data")
    expect(existsSync(to)).toBe(false)
  })

  it("both the original and its whole copy are left: the undo move is not run, and the failure names it", async () => {
    const { from, to } = member("both")
    const exit = await run(from, to, (a, b) => cpSync(a, b, { recursive: true }))
    expect(JSON.stringify(exit)).toMatch(
      new RegExp(`What it had changed was put back, except: move .*kept-member.* failed: ${from} exists too, so ${to} was left where it is\\.`),
    )
    expect(readFileSync(join(from, "db"), "utf8")).toBe("old data")
    expect(readFileSync(join(to, "db"), "utf8")).toBe("old data")
  })
})
