import { linkSync, lstatSync, mkdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { allocatedBytes, bytesToCopy, contentBytes, type TreeEntry } from "../../src/domain/tree-measure.ts"
import { nodeTreeReader, type TreeReader, treeSize } from "../../src/services/tree-size.ts"
import { tempDir } from "../support/temp-dir.ts"

const reader = nodeTreeReader((path, e) => ({ path, code: (e as NodeJS.ErrnoException).code }))
const blocksOf = (...paths: ReadonlyArray<string>) => paths.reduce((sum, p) => sum + statSync(p).blocks * 512, 0)

/** A tree with a file, a hard link to it in a subdirectory, a sparse file and a symbolic link to a file outside. */
const makeTree = () => {
  const root = tempDir("tree-size")
  const tree = join(root, "tree")
  mkdirSync(join(tree, "sub"), { recursive: true })
  writeFileSync(join(tree, "data"), Buffer.alloc(100_000, 1))
  linkSync(join(tree, "data"), join(tree, "sub", "linked"))
  writeFileSync(join(tree, "sparse"), "")
  truncateSync(join(tree, "sparse"), 10 * 1024 * 1024)
  writeFileSync(join(root, "outside"), Buffer.alloc(1024 * 1024, 2))
  symlinkSync(join(root, "outside"), join(tree, "sub", "link"))
  return { root, tree }
}

describe("treeSize on a real tree", () => {
  it("allocated blocks, a hard-linked file once, a symbolic link not followed", async () => {
    const { tree } = makeTree()
    const got = await Effect.runPromise(treeSize(tree, reader, allocatedBytes, { hardLinks: "once" }))
    expect(got).toBe(blocksOf(tree, join(tree, "sub"), join(tree, "data"), join(tree, "sparse")) + lstatSync(join(tree, "sub", "link")).blocks * 512)
  })

  it("what a copy writes: each hard link's name, the sparse file's holes, nothing of the link's target", async () => {
    const { tree } = makeTree()
    const got = await Effect.runPromise(treeSize(tree, reader, bytesToCopy, { hardLinks: "each" }))
    const data = Math.max(statSync(join(tree, "data")).blocks * 512, 102_400)
    // A link's target longer than its inode holds (60 bytes on ext4) takes a block of its own.
    const link = lstatSync(join(tree, "sub", "link")).blocks * 512
    expect(got).toBe(blocksOf(tree, join(tree, "sub")) + 2 * data + 10 * 1024 * 1024 + link)
  })

  it("content: the files' lengths", async () => {
    const { tree } = makeTree()
    expect(await Effect.runPromise(treeSize(tree, reader, contentBytes, { hardLinks: "each" }))).toBe(2 * 100_000 + 10 * 1024 * 1024)
    expect(await Effect.runPromise(treeSize(tree, reader, contentBytes, { hardLinks: "once" }))).toBe(100_000 + 10 * 1024 * 1024)
  })

  it("a root that does not exist is 0; a file root is itself", async () => {
    const { root, tree } = makeTree()
    expect(await Effect.runPromise(treeSize(join(root, "missing"), reader, allocatedBytes, { hardLinks: "once" }))).toBe(0)
    expect(await Effect.runPromise(treeSize(join(tree, "data"), reader, contentBytes, { hardLinks: "once" }))).toBe(100_000)
  })

  it("an entry removed while the tree is walked is not counted; another failure is the reader's error", async () => {
    const entries = new Map<string, TreeEntry>([
      ["/t", { kind: "Directory", size: 0, blocks: 8, identity: "1:1" }],
      ["/t/a", { kind: "File", size: 10, blocks: 8, identity: "1:2" }],
    ])
    const listed: TreeReader<string, never> = {
      lstat: (p) => Effect.succeed(entries.get(p)),
      readDirectory: () => Effect.succeed(["a", "gone"]),
    }
    expect(await Effect.runPromise(treeSize("/t", listed, allocatedBytes, { hardLinks: "once" }))).toBe(8192)
    const failing: TreeReader<string, never> = { ...listed, readDirectory: (p) => Effect.fail(`EACCES ${p}`) }
    expect(await Effect.runPromiseExit(treeSize("/t", failing, allocatedBytes, { hardLinks: "once" }))).toEqual(Exit.fail("EACCES /t"))
  })

  it("nodeTreeReader gives a failure other than a missing path to its mapper", async () => {
    const { tree } = makeTree()
    const exit = await Effect.runPromiseExit(treeSize(join(tree, "data", "under-a-file"), reader, allocatedBytes, { hardLinks: "once" }))
    expect(exit).toEqual(Exit.fail({ path: join(tree, "data", "under-a-file"), code: "ENOTDIR" }))
  })
})
