import { mkdtempSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs"
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
