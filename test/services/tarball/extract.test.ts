import { execFileSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Effect, Exit, Fiber, Result } from "effect"
import { describe, expect, it } from "vitest"
import { extractTarball, listTarball, writeTarball, type LayoutCheck } from "../../../src/services/tarball/tarball.ts"
import { snapshotTree } from "../../support/hostile-tarballs.ts"
import { tempDir } from "../../support/temp-dir.ts"

const layout: LayoutCheck = (path) =>
  path === "static-pod-resources" || path.startsWith("static-pod-resources/") ? Result.succeed(path) : Result.fail({ message: "outside static-pod-resources" })

type Tree = Record<string, { readonly content: string | Buffer; readonly mode: number }>

const files: Tree = {
  "static-pod-resources/etcd-pod-3/etcd-pod.yaml": { content: "kind: Pod\n", mode: 0o600 },
  "static-pod-resources/etcd-pod-3/configmaps/etcd-scripts/etcd.env": { content: "A=1\n", mode: 0o600 },
  "static-pod-resources/etcd-pod-3/configmaps/etcd-scripts/restore.sh": { content: "#!/bin/sh\n", mode: 0o755 },
  "static-pod-resources/etcd-pod-3/secrets/etcd-all-certs/rotate.sh": { content: "#!/bin/sh\n", mode: 0o700 },
  [`static-pod-resources/kube-scheduler-pod-5/secrets/localhost-recovery-client-token/${"t".repeat(120)}`]: { content: "token", mode: 0o600 },
}

/** An archive written by our writer from `files`, in `dir`. */
const archiveOf = async (dir: string, tree: Tree = files) => {
  const source = join(dir, "src")
  for (const [path, { content, mode }] of Object.entries(tree)) {
    mkdirSync(dirname(join(source, path)), { recursive: true })
    writeFileSync(join(source, path), content)
    chmodSync(join(source, path), mode)
  }
  const archive = join(dir, "static_kuberesources_2024-01-01_000000.tar.gz")
  await Effect.runPromise(writeTarball({ source, destination: archive, mtime: new Date(0) }))
  rmSync(source, { recursive: true })
  return archive
}

const expectInstalled = (target: string, tree: Tree = files) => {
  for (const [path, { content, mode }] of Object.entries(tree)) {
    expect(readFileSync(join(target, path))).toEqual(Buffer.from(content))
    expect(statSync(join(target, path)).mode & 0o7777).toBe(mode)
  }
  expect(statSync(join(target, "static-pod-resources/etcd-pod-3/secrets")).mode & 0o7777).toBe(0o700)
}

describe("extractTarball", () => {
  it("installs each revision directory in place, with the archived modes, and leaves no staging behind", async () => {
    const dir = tempDir("ok")
    const archive = await archiveOf(dir)
    const target = join(dir, "etc-kubernetes")
    mkdirSync(join(target, "manifests"), { recursive: true })
    const result = await Effect.runPromise(extractTarball({ archive, target, layout }))
    expect(result.installed).toEqual([join(target, "static-pod-resources/etcd-pod-3"), join(target, "static-pod-resources/kube-scheduler-pod-5")])
    expect(result.movedAside).toEqual([])
    expectInstalled(target)
    expect(readdirSync(target).sort()).toEqual(["manifests", "static-pod-resources"])
    const listing = await Effect.runPromise(listTarball(archive))
    expect(result.entries).toEqual(listing.entries)
    expect(result.sha256).toBe(listing.sha256)
  })

  it("refuses to replace an existing revision directory and changes nothing", async () => {
    const dir = tempDir("exists")
    const archive = await archiveOf(dir)
    const target = join(dir, "target")
    mkdirSync(join(target, "static-pod-resources/kube-scheduler-pod-5"), { recursive: true })
    writeFileSync(join(target, "static-pod-resources/kube-scheduler-pod-5/old"), "old")
    const before = snapshotTree(dir)
    const error = await Effect.runPromise(Effect.flip(extractTarball({ archive, target, layout })))
    expect(error).toMatchObject({ _tag: "TarballDestinationExists", destinations: [join(target, "static-pod-resources/kube-scheduler-pod-5")] })
    expect(error.message).toContain("nothing was changed")
    expect(snapshotTree(dir)).toEqual(before)
  })

  it("moves an existing revision directory aside (kept intact) when asked", async () => {
    const dir = tempDir("aside")
    const archive = await archiveOf(dir)
    const target = join(dir, "target")
    mkdirSync(join(target, "static-pod-resources/etcd-pod-3"), { recursive: true })
    writeFileSync(join(target, "static-pod-resources/etcd-pod-3/etcd-pod.yaml"), "previous\n")
    const aside = join(target, "static-pod-resources-before-restore")
    const result = await Effect.runPromise(extractTarball({ archive, target, layout, moveExistingTo: aside }))
    expect(result.movedAside).toEqual([{ from: join(target, "static-pod-resources/etcd-pod-3"), to: join(aside, "static-pod-resources/etcd-pod-3") }])
    expect(readFileSync(join(aside, "static-pod-resources/etcd-pod-3/etcd-pod.yaml"), "utf8")).toBe("previous\n")
    expectInstalled(target)
  })

  it("refuses when the move-aside place is already taken, changing nothing", async () => {
    const dir = tempDir("aside-taken")
    const archive = await archiveOf(dir)
    const target = join(dir, "target")
    const aside = join(dir, "aside")
    mkdirSync(join(target, "static-pod-resources/etcd-pod-3"), { recursive: true })
    mkdirSync(join(aside, "static-pod-resources/etcd-pod-3"), { recursive: true })
    const before = snapshotTree(dir)
    const error = await Effect.runPromise(Effect.flip(extractTarball({ archive, target, layout, moveExistingTo: aside })))
    expect(error).toMatchObject({ _tag: "TarballDestinationExists", destinations: [join(aside, "static-pod-resources/etcd-pod-3")] })
    expect(snapshotTree(dir)).toEqual(before)
  })

  it("undoes the renames already done when a later one fails", async () => {
    const dir = tempDir("rollback")
    const archive = await archiveOf(dir)
    const target = join(dir, "target")
    // kube-scheduler-pod-5 exists and must go aside onto another file system: rename fails (EXDEV)
    // after etcd-pod-3 was already installed.
    mkdirSync(join(target, "static-pod-resources/kube-scheduler-pod-5"), { recursive: true })
    const aside = tempDir("aside", "/dev/shm")
    expect(statSync(aside).dev).not.toBe(statSync(target).dev)
    const before = snapshotTree(dir)
    const error = await Effect.runPromise(Effect.flip(extractTarball({ archive, target, layout, moveExistingTo: aside })))
    expect(error).toMatchObject({ _tag: "TarballIoFailed", operation: "rename", code: "EXDEV" })
    expect(snapshotTree(dir)).toEqual(before)
    expect(readdirSync(aside)).toEqual([])
  })

  it("a file it cannot create is a failure naming that file, not the archive", async () => {
    const dir = tempDir("create-fails")
    const archive = await archiveOf(dir)
    // Deep enough that the long token's staged path (and only it) passes PATH_MAX: its open fails, the directories do not.
    let target = dir
    while (target.length < 3900) target = join(target, "d".repeat(Math.min(200, 3900 - target.length)))
    mkdirSync(target, { recursive: true })
    const error = await Effect.runPromise(Effect.flip(extractTarball({ archive, target, layout })))
    expect(error).toMatchObject({ _tag: "TarballIoFailed", operation: "create", code: "ENAMETOOLONG" })
    const failedPath = "path" in error ? String(error.path) : ""
    expect(failedPath.startsWith(`${target}/`)).toBe(true)
    expect(failedPath.endsWith("t".repeat(120))).toBe(true)
    expect(error.message).not.toContain(archive)
    expect(readdirSync(target)).toEqual([])
  })

  it("a missing archive is an I/O failure naming it", async () => {
    const dir = tempDir("missing")
    const error = await Effect.runPromise(Effect.flip(listTarball(join(dir, "nope.tar.gz"))))
    expect(error).toMatchObject({ _tag: "TarballIoFailed", code: "ENOENT", path: join(dir, "nope.tar.gz") })
  })

  it("refuses a target that is not a directory", async () => {
    const dir = tempDir("no-target")
    const archive = await archiveOf(dir)
    const error = await Effect.runPromise(Effect.flip(extractTarball({ archive, target: join(dir, "missing"), layout })))
    expect(error).toMatchObject({ _tag: "TarballDestinationExists" })
    expect(existsSync(join(dir, "missing"))).toBe(false)
  })

  it.each([["gnu"], ["posix"], ["ustar"]])("reads archives made by GNU tar (--format=%s), long names included", async (format) => {
    const dir = tempDir(`gnu-${format}`)
    const source = join(dir, "src")
    const long = `static-pod-resources/kube-apiserver-pod-9/configmaps/${"c".repeat(60)}/${"k".repeat(60)}`
    // Plain ustar cannot hold a 120-byte file name: it gets the splittable long path only.
    const base = Object.fromEntries(Object.entries(files).filter(([path]) => format !== "ustar" || !path.includes("t".repeat(120))))
    const tree: Tree = { ...base, [long]: { content: "long\n", mode: 0o600 } }
    for (const [path, { content, mode }] of Object.entries(tree)) {
      mkdirSync(dirname(join(source, path)), { recursive: true })
      writeFileSync(join(source, path), content)
      chmodSync(join(source, path), mode)
    }
    execFileSync("find", [source, "-type", "d", "-exec", "chmod", "700", "{}", "+"])
    const archive = join(dir, "gnu.tar.gz")
    const revisionDirectories = [...new Set(Object.keys(tree).map((path) => path.split("/").slice(0, 2).join("/")))]
    execFileSync("tar", [`--format=${format}`, "-czf", archive, "-C", source, ...revisionDirectories])
    const target = join(dir, "target")
    mkdirSync(target)
    const result = await Effect.runPromise(extractTarball({ archive, target, layout }))
    expect(result.installed).toEqual(revisionDirectories.sort().map((unit) => join(target, unit)))
    expectInstalled(target, tree)
  })

  it("removes the staging directory when interrupted mid-extraction", async () => {
    const dir = tempDir("interrupt")
    const archive = await archiveOf(dir, { "static-pod-resources/etcd-pod-1/big": { content: Buffer.alloc(64 * 1024 * 1024), mode: 0o600 } })
    const target = join(dir, "target")
    mkdirSync(target)
    const exit = await Effect.runPromise(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(extractTarball({ archive, target, layout }))
        for (let i = 0; i < 500 && readdirSync(target).length === 0; i++) yield* Effect.sleep("2 millis")
        expect(readdirSync(target)[0]).toMatch(/^\.cluster-backup-extract-/)
        return yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      }),
    )
    expect(Exit.hasInterrupts(exit)).toBe(true)
    expect(readdirSync(target)).toEqual([])
  })
})
