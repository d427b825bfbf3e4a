import { mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { keepFresh } from "../../src/services/kept-fresh.ts"
import { settled } from "../support/eventually.ts"

const longAgo = new Date("2020-01-01T00:00:00Z")

describe("keepFresh", () => {
  it("refreshes the file's times while it runs, and no more once stopped", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "kept-fresh-")), "f.part")
    writeFileSync(file, "x")
    utimesSync(file, longAgo, longAgo)
    const stop = keepFresh(file, 10)
    expect(
      await settled(
        () => Date.now() - statSync(file).mtimeMs < 60_000,
        (fresh) => fresh,
        { ms: 2000, everyMs: 5 },
      ),
    ).toBe(true)
    stop()
    await sleep(30)
    utimesSync(file, longAgo, longAgo)
    expect(
      await settled(
        () => statSync(file).mtimeMs !== longAgo.getTime(),
        (moved) => moved,
        { ms: 100, everyMs: 5 },
      ),
    ).toBe(false)
  })

  it("a file removed while refreshed: onGone once, and no refresh after; none while it is there or once stopped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kept-fresh-"))
    const [file, kept, stoppedFile] = ["gone.part", "kept.part", "stopped.part"].map((n) => join(dir, n))
    for (const f of [file, kept, stoppedFile]) writeFileSync(f!, "x")
    const calls = { gone: 0, kept: 0, stopped: 0 }
    keepFresh(file!, 5, () => calls.gone++)
    const stopKept = keepFresh(kept!, 5, () => calls.kept++)
    const stop = keepFresh(stoppedFile!, 5, () => calls.stopped++)
    stop()
    rmSync(file!)
    rmSync(stoppedFile!)
    expect(
      await settled(
        () => calls.gone,
        (n) => n > 0,
        { ms: 2000, everyMs: 5 },
      ),
    ).toBe(1)
    await sleep(50)
    stopKept()
    expect(calls).toEqual({ gone: 1, kept: 0, stopped: 0 })
  })

  it("a file gone or replaced by a symlink: skipped, nothing created, the link's target untouched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kept-fresh-"))
    const target = join(dir, "target")
    writeFileSync(target, "x")
    utimesSync(target, longAgo, longAgo)
    const gone = keepFresh(join(dir, "gone"), 5)
    const linked = join(dir, "linked")
    symlinkSync(target, linked)
    const viaLink = keepFresh(linked, 5)
    await sleep(50)
    gone()
    viaLink()
    expect(statSync(target).mtimeMs).toBe(longAgo.getTime())
    expect(() => statSync(join(dir, "gone"))).toThrow()
  })
})
