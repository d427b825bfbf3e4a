import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { extractTarball, listTarball, type LayoutCheck } from "../../../src/services/tarball/tarball.ts"
import { hostileLimits, hostileTarballs, snapshotTree, validTarball, type Refusal } from "../../support/hostile-tarballs.ts"
import { tempDir } from "../../support/temp-dir.ts"

const staticPodResources: LayoutCheck = (path) =>
  path === "static-pod-resources" || path.startsWith("static-pod-resources/")
    ? Result.succeed(path)
    : Result.fail({ message: "only static-pod-resources/ belongs in a resource tarball" })

const work = tempDir("hostile")

/** A parent directory holding the target (with a resident file) and an `outside` directory. */
const scene = (name: string) => {
  const parent = join(work, name.replace(/[^a-z0-9]+/gi, "-"))
  const target = join(parent, "target")
  const outside = join(parent, "outside")
  mkdirSync(join(target, "static-pod-resources", "etcd-pod-0"), { recursive: true })
  writeFileSync(join(target, "static-pod-resources", "etcd-pod-0", "etcd-pod.yaml"), "resident\n")
  mkdirSync(outside)
  writeFileSync(join(outside, "target.txt"), "outside\n")
  return { parent, target, outside, archive: join(parent, "archive.tar.gz") }
}

const expectRefusal = (error: unknown, refusal: Refusal) => {
  expect(error).toMatchObject({ _tag: refusal.tag })
  const kind = (error as { reason?: string; limit?: string }).reason ?? (error as { limit?: string }).limit
  expect(kind).toBe(refusal.kind)
  expect((error as { message: string }).message).toContain("archive.tar.gz")
}

describe("hostile tarballs", () => {
  it("the control archive is accepted (the scene itself is sound)", async () => {
    const { target, archive } = scene("control")
    writeFileSync(archive, validTarball())
    const result = await Effect.runPromise(extractTarball({ archive, target, layout: staticPodResources, limits: hostileLimits }))
    expect(result.installed).toEqual([join(target, "static-pod-resources", "etcd-pod-1")])
  })

  it.each(hostileTarballs.map((h) => [h.name, h] as const))("%s: listing refuses it with a specific error", async (_name, hostile) => {
    const { outside, archive } = scene(`list ${hostile.name}`)
    writeFileSync(archive, hostile.build(outside))
    const error = await Effect.runPromise(Effect.flip(listTarball(archive, { layout: staticPodResources, limits: hostileLimits })))
    expectRefusal(error, hostile.refusal)
  })

  it.each(hostileTarballs.map((h) => [h.name, h] as const))("%s: extraction refuses it and writes nothing", async (_name, hostile) => {
    const { parent, target, outside, archive } = scene(`extract ${hostile.name}`)
    writeFileSync(archive, hostile.build(outside))
    const before = snapshotTree(parent)
    const error = await Effect.runPromise(
      Effect.flip(extractTarball({ archive, target, layout: staticPodResources, limits: hostileLimits, moveExistingTo: join(parent, "aside") })),
    )
    expectRefusal(error, hostile.refusal)
    expect(snapshotTree(parent)).toEqual(before)
  })
})
