import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Effect, Exit, Fiber, Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { listTarball, writeTarball, type ArchiveEntry } from "../../../src/services/tarball/tarball.ts"
import { snapshotTree } from "../../support/hostile-tarballs.ts"
import { tempDir } from "../../support/temp-dir.ts"

interface TreeFile {
  readonly path: string
  readonly content: Buffer
  readonly mode: number
}

const writeTree = (root: string, files: ReadonlyArray<TreeFile>) => {
  for (const file of files) {
    mkdirSync(dirname(join(root, file.path)), { recursive: true })
    writeFileSync(join(root, file.path), file.content)
    chmodSync(join(root, file.path), file.mode)
  }
}

const mtime = new Date("2021-06-25T19:00:35Z")
const pod = "static-pod-resources/kube-apiserver-pod-7"

const sampleTree: ReadonlyArray<TreeFile> = [
  { path: `${pod}/kube-apiserver-pod.yaml`, content: Buffer.from("apiVersion: v1\nkind: Pod\n"), mode: 0o644 },
  { path: `${pod}/configmaps/config/config.yaml`, content: Buffer.from("{}\n"), mode: 0o600 },
  { path: `${pod}/configmaps/kube-apiserver-audit-policies/policy.sh`, content: Buffer.from("#!/bin/sh\n"), mode: 0o755 },
  { path: `${pod}/secrets/localhost-recovery-client-token/token.sh`, content: Buffer.from("#!/bin/sh\n"), mode: 0o700 },
  { path: `${pod}/secrets/localhost-recovery-serving-certkey/${"long-key-name.".repeat(8)}key`, content: randomBytes(3000), mode: 0o600 },
  { path: "static-pod-resources/etcd-pod-3/etcd-pod.yaml", content: Buffer.alloc(0), mode: 0o600 },
]

const write = (source: string, destination: string) => Effect.runPromise(writeTarball({ source, destination, mtime }))

/** GNU tar's verbose listing: [permissions, owner/group, size, path]. */
const gnuList = (archive: string) =>
  execFileSync("tar", ["-tzvf", archive], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => {
      const m = /^(\S+) (\S+)\s+(\d+) \S+ \S+ (.*)$/.exec(line)
      if (m === null) throw new Error(`unexpected tar -tv line: ${line}`)
      return { permissions: m[1], owner: m[2], size: Number(m[3]), path: m[4] }
    })

const permissionsOf = (entry: ArchiveEntry) =>
  entry.kind === "directory"
    ? "drwx------"
    : new Map([
        [0o600, "-rw-------"],
        [0o700, "-rwx------"],
        [0o755, "-rwxr-xr-x"],
      ]).get(entry.mode)

describe("writeTarball", () => {
  it("lists in GNU tar exactly as intended: relative paths in byte order, fixed modes, root owner", async () => {
    const source = tempDir("src")
    writeTree(source, sampleTree)
    const archive = join(tempDir("out"), "static_kuberesources_2021-06-25_190035.tar.gz")
    const written = await write(source, archive)

    const listed = gnuList(archive)
    expect(listed.map((l) => l.path.replace(/\/$/, ""))).toEqual(written.entries.map((e) => e.path))
    expect(listed.map((l) => l.path)).toEqual([
      "static-pod-resources/etcd-pod-3/",
      "static-pod-resources/etcd-pod-3/etcd-pod.yaml",
      `${pod}/`,
      `${pod}/configmaps/`,
      `${pod}/configmaps/config/`,
      `${pod}/configmaps/config/config.yaml`,
      `${pod}/configmaps/kube-apiserver-audit-policies/`,
      `${pod}/configmaps/kube-apiserver-audit-policies/policy.sh`,
      `${pod}/kube-apiserver-pod.yaml`,
      `${pod}/secrets/`,
      `${pod}/secrets/localhost-recovery-client-token/`,
      `${pod}/secrets/localhost-recovery-client-token/token.sh`,
      `${pod}/secrets/localhost-recovery-serving-certkey/`,
      `${pod}/secrets/localhost-recovery-serving-certkey/${"long-key-name.".repeat(8)}key`,
    ])
    const modes = Object.fromEntries(listed.map((l) => [l.path, l.permissions]))
    expect(modes[`${pod}/kube-apiserver-pod.yaml`]).toBe("-rw-------") // 0644 on disk: not executable, so 0600
    expect(modes[`${pod}/configmaps/kube-apiserver-audit-policies/policy.sh`]).toBe("-rwxr-xr-x")
    expect(modes[`${pod}/secrets/localhost-recovery-client-token/token.sh`]).toBe("-rwx------")
    expect(modes[`${pod}/`]).toBe("drwx------")
    expect(new Set(listed.map((l) => l.owner))).toEqual(new Set(["root/root"]))
    const numeric = execFileSync("tar", ["--numeric-owner", "-tzvf", archive], { encoding: "utf8" })
    expect(
      numeric
        .split("\n")
        .filter((l) => l !== "")
        .every((l) => l.split(/\s+/)[1] === "0/0"),
    ).toBe(true)
    expect(execFileSync("tar", ["--full-time", "-tzvf", archive], { encoding: "utf8" })).toContain("2021-06-25 19:00:35")
  })

  it("GNU tar extracts byte-identical files", async () => {
    const source = tempDir("src")
    writeTree(source, sampleTree)
    const archive = join(tempDir("out"), "a.tar.gz")
    await write(source, archive)
    const extracted = tempDir("gnu")
    execFileSync("tar", ["-xzf", archive, "-C", extracted])
    for (const file of sampleTree) expect(readFileSync(join(extracted, file.path))).toEqual(file.content)
  })

  it("reports the archive's size and sha256 and each file's sha256, as the reader finds them", async () => {
    const source = tempDir("src")
    writeTree(source, sampleTree)
    const archive = join(tempDir("out"), "a.tar.gz")
    const written = await write(source, archive)
    const listed = await Effect.runPromise(listTarball(archive))
    expect(written.bytes).toBe(readFileSync(archive).length)
    expect(listed).toEqual({ archive, bytes: written.bytes, sha256: written.sha256, entries: written.entries })
    const sha = execFileSync("sha256sum", [archive], { encoding: "utf8" }).split(" ")[0]
    expect(written.sha256).toBe(sha)
  })

  it("same content gives the same bytes, whatever the on-disk mtimes and creation order", async () => {
    const a = tempDir("src")
    const b = tempDir("src")
    writeTree(a, sampleTree)
    writeTree(b, [...sampleTree].reverse())
    for (const file of sampleTree) utimesSync(join(b, file.path), new Date(0), new Date(0))
    const out = tempDir("out")
    const first = await write(a, join(out, "1.tar.gz"))
    const second = await write(b, join(out, "2.tar.gz"))
    expect(readFileSync(join(out, "1.tar.gz"))).toEqual(readFileSync(join(out, "2.tar.gz")))
    expect(first.sha256).toBe(second.sha256)
    // gzip header: no mtime (bytes 4..7 zero), OS byte fixed.
    expect([...readFileSync(join(out, "1.tar.gz")).subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
  })

  it("refuses a symbolic link in the staging directory and leaves no file behind", async () => {
    const source = tempDir("src")
    writeTree(source, sampleTree)
    symlinkSync("/etc/passwd", join(source, pod, "configmaps", "config", "passwd"))
    const out = tempDir("out")
    const error = await Effect.runPromise(Effect.flip(writeTarball({ source, destination: join(out, "a.tar.gz"), mtime })))
    expect(error).toMatchObject({ _tag: "TarballSourceRefused", reason: "not-regular-or-directory" })
    expect(readdirSync(out)).toEqual([])
  })

  it("refuses what the layout check refuses", async () => {
    const source = tempDir("src")
    writeTree(source, [...sampleTree, { path: "etc/passwd", content: Buffer.from("x"), mode: 0o600 }])
    const out = tempDir("out")
    const layout = (path: string) =>
      path.startsWith("static-pod-resources") ? Result.succeed(path) : Result.fail({ message: `${path} is outside static-pod-resources` })
    const error = await Effect.runPromise(Effect.flip(writeTarball({ source, destination: join(out, "a.tar.gz"), mtime, layout })))
    expect(error).toMatchObject({ _tag: "TarballSourceRefused", reason: "layout" })
    expect(error.message).toContain("etc is outside static-pod-resources")
    expect(readdirSync(out)).toEqual([])
  })

  it("never overwrites an existing archive", async () => {
    const source = tempDir("src")
    writeTree(source, sampleTree)
    const out = tempDir("out")
    writeFileSync(join(out, "a.tar.gz"), "precious")
    const flipped = await Effect.runPromise(Effect.flip(writeTarball({ source, destination: join(out, "a.tar.gz"), mtime })))
    expect(flipped).toMatchObject({ _tag: "TarballIoFailed", code: "EEXIST" })
    expect(readFileSync(join(out, "a.tar.gz"), "utf8")).toBe("precious")
    expect(readdirSync(out)).toEqual(["a.tar.gz"])
  })

  it("removes the .part file when interrupted mid-write", async () => {
    const source = tempDir("src")
    writeTree(source, [{ path: `${pod}/big`, content: randomBytes(48 * 1024 * 1024), mode: 0o600 }])
    const out = tempDir("out")
    const destination = join(out, "a.tar.gz")
    const exit = await Effect.runPromise(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(writeTarball({ source, destination, mtime }))
        // Interrupt once the .part file exists, i.e. in the middle of the write.
        for (let i = 0; i < 500 && !existsSync(`${destination}.part`); i++) yield* Effect.sleep("2 millis")
        expect(existsSync(`${destination}.part`)).toBe(true)
        return yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      }),
    )
    expect(Exit.hasInterrupts(exit)).toBe(true)
    expect(readdirSync(out)).toEqual([])
  })

  it("property: random trees round-trip through GNU tar and our reader, deterministically", async () => {
    const segment = fc.stringMatching(/^[-._a-zA-Z0-9]{1,60}$/).filter((s) => s !== "." && s !== "..")
    const tree = fc
      .uniqueArray(
        fc.record({
          dirs: fc.array(segment, { minLength: 0, maxLength: 3 }),
          name: segment,
          content: fc.uint8Array({ maxLength: 1500 }),
          exec: fc.constantFrom(0o600, 0o644, 0o700, 0o755, 0o775),
        }),
        { minLength: 1, maxLength: 12, selector: (f) => [...f.dirs, f.name].join("/") },
      )
      .map((files) => {
        // A file must not sit where another file's directory is.
        const paths = files.map((f) => `${pod}/${[...f.dirs, f.name].join("/")}`)
        return files
          .map((f, i) => ({ path: paths[i] as string, content: Buffer.from(f.content), mode: f.exec }))
          .filter((f) => !paths.some((p) => p.startsWith(`${f.path}/`)))
      })
    await fc.assert(
      fc.asyncProperty(tree, async (files) => {
        const source = tempDir("prop")
        writeTree(source, files)
        const out = tempDir("prop-out")
        const written = await write(source, join(out, "1.tar.gz"))
        await write(source, join(out, "2.tar.gz"))
        expect(readFileSync(join(out, "1.tar.gz"))).toEqual(readFileSync(join(out, "2.tar.gz")))

        const listed = gnuList(join(out, "1.tar.gz"))
        expect(listed.map((l) => l.path.replace(/\/$/, ""))).toEqual(written.entries.map((e) => e.path))
        expect(listed.map((l) => l.permissions)).toEqual(written.entries.map(permissionsOf))
        const sorted = [...written.entries.map((e) => e.path)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        expect(written.entries.map((e) => e.path)).toEqual(sorted)

        const extracted = tempDir("prop-gnu")
        const run = spawnSync("tar", ["-xzf", join(out, "1.tar.gz"), "-C", extracted])
        expect(run.status).toBe(0)
        for (const file of files) expect(readFileSync(join(extracted, file.path))).toEqual(file.content)
        expect(snapshotTree(extracted).filter((l) => l.startsWith("f")).length).toBe(files.length)

        expect((await Effect.runPromise(listTarball(join(out, "1.tar.gz")))).entries).toEqual(written.entries)
        rmSync(source, { recursive: true })
        rmSync(out, { recursive: true })
        rmSync(extracted, { recursive: true })
      }),
      { numRuns: 25 },
    )
  })
})
