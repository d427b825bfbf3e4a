import { execFileSync, spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, readFileSync, truncateSync, copyFileSync, writeFileSync, existsSync, rmSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { revisionBump } from "../../src/domain/revision-bump.ts"
import { Etcdutl, type SnapshotRestoreRequest } from "../../src/services/etcdutl.ts"
import { startLocalEtcd } from "../../src/services/local-etcd.ts"
import { etcdTool } from "../support/tools.ts"
import { tempDir } from "../support/temp-dir.ts"

const work = tempDir("etcdutl")
let snapshot: string
let snapshotRevision: number

const etcdctl = (endpoint: string, ...args: Array<string>) =>
  execFileSync(etcdTool("etcdctl"), ["--endpoints", endpoint, ...args], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } })

/** Runs an effect needing a scope and the Node platform, keeping the scope open until `close`. */
const withMember = async <A>(dataDir: string, name: string, use: (clientUrl: string) => A): Promise<A> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const member = await Effect.runPromise(
      startLocalEtcd({ dataDir, name, unsafeNoFsync: true }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer)),
    )
    return use(member.clientUrl)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

beforeAll(async () => {
  snapshot = join(work, "snapshot.db")
  snapshotRevision = await withMember(join(work, "source"), "source", (url) => {
    for (let i = 0; i < 20; i++) etcdctl(url, "put", `/registry/test/${i}`, `value-${i}`)
    execFileSync(etcdTool("etcdctl"), ["--endpoints", url, "snapshot", "save", snapshot], { env: { ...process.env, ETCDCTL_API: "3" }, stdio: "ignore" })
    return JSON.parse(etcdctl(url, "get", "/registry/test/0", "-w", "json")).header.revision as number
  })
})

const live = <A, E>(effect: Effect.Effect<A, E, Etcdutl>, layer = Etcdutl.live()) => Effect.runPromise(effect.pipe(Effect.provide(layer)))
const flip = <A, E>(effect: Effect.Effect<A, E, Etcdutl>, layer = Etcdutl.live()) => Effect.runPromise(Effect.flip(effect).pipe(Effect.provide(layer)))

const request = (dataDir: string, overrides: Partial<SnapshotRestoreRequest> = {}): SnapshotRestoreRequest => ({
  snapshot,
  memberName: "master-0",
  peerUrl: "https://127.0.0.1:2380",
  clusterToken: "openshift-etcd-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
  dataDir,
  bump: revisionBump('{"maxRaftIndex":1000}', { noBump: false }),
  ...overrides,
})

describe("Etcdutl (real etcdutl 3.5)", () => {
  it("capabilities: version 3.5 with --bump-revision and --mark-compacted", async () => {
    const caps = await live(Etcdutl.use((e) => e.capabilities))
    expect(caps).toMatchObject({ version: "3.5.16", bumpRevision: true, markCompacted: true })
    expect(caps.command).toBe(etcdTool("etcdutl"))
  })

  it("snapshotStatus decodes hash, revision, key count and size of a real snapshot", async () => {
    const status = await live(Etcdutl.use((e) => e.snapshotStatus(snapshot)))
    expect(status.revision).toBe(snapshotRevision)
    expect(status.totalKey).toBeGreaterThanOrEqual(20)
    expect(status.totalSize).toBeGreaterThan(0)
    expect(Number.isInteger(status.hash)).toBe(true)
  })

  it("snapshotStatus: a missing file and a file that is no database are typed failures with etcdutl's words", async () => {
    const missing = await flip(Etcdutl.use((e) => e.snapshotStatus(join(work, "nope.db"))))
    expect(missing).toMatchObject({ _tag: "EtcdutlFailed", operation: "snapshot status", reason: "missing-file", exitCode: 1 })
    expect(missing.stderr).toContain("no such file or directory")
    const garbage = join(work, "garbage.db")
    writeFileSync(garbage, "this is not a bolt database".repeat(200))
    const corrupt = await flip(Etcdutl.use((e) => e.snapshotStatus(garbage)))
    expect(corrupt).toMatchObject({ reason: "corrupt-snapshot", file: garbage })
    expect(corrupt.message).toContain("use another backup")
  })

  it("snapshotRestore bumps the revision and marks it compacted: the restored member serves above the old revisions", async () => {
    const dataDir = join(work, "restored")
    await live(Etcdutl.use((e) => e.snapshotRestore(request(dataDir))))
    expect(existsSync(join(dataDir, "member", "snap", "db"))).toBe(true)
    await withMember(dataDir, "master-0", (url) => {
      expect(etcdctl(url, "get", "/registry/test/7", "--print-value-only").trim()).toBe("value-7")
      const revision = JSON.parse(etcdctl(url, "get", "/registry/test/7", "-w", "json")).header.revision as number
      expect(revision).toBeGreaterThanOrEqual(snapshotRevision + 1200)
      const old = spawnSync(etcdTool("etcdctl"), ["--endpoints", url, "get", "/registry/test/7", "--rev", String(snapshotRevision)], { encoding: "utf8" })
      expect(old.status).not.toBe(0)
      expect(old.stderr).toContain("compacted")
    })
  })

  it("snapshotRestore refuses a snapshot whose integrity hash is missing", async () => {
    const cut = join(work, "cut.db")
    copyFileSync(snapshot, cut)
    truncateSync(cut, readFileSync(snapshot).length - 32)
    const error = await flip(Etcdutl.use((e) => e.snapshotRestore(request(join(work, "cut-restore"), { snapshot: cut }))))
    expect(error).toMatchObject({ _tag: "EtcdutlFailed", operation: "snapshot restore", reason: "hash-mismatch", file: cut })
    expect(error.message).toContain("--skip-hash-check=false")
  })

  it("snapshotRestore refuses a data directory that is not empty", async () => {
    const dataDir = join(work, "occupied")
    mkdirSync(dataDir)
    writeFileSync(join(dataDir, "precious"), "x")
    const error = await flip(Etcdutl.use((e) => e.snapshotRestore(request(dataDir))))
    expect(error).toMatchObject({ reason: "data-dir-exists", operation: "snapshot restore" })
    expect(readFileSync(join(dataDir, "precious"), "utf8")).toBe("x")
  })

  it("a binary that does not exist is a typed failure", async () => {
    const error = await flip(
      Etcdutl.use((e) => e.capabilities),
      Etcdutl.live({ binary: join(work, "no-etcdutl") }),
    )
    expect(error).toMatchObject({ _tag: "EtcdutlFailed", reason: "binary-missing" })
  })
})

describe("Etcdutl with an etcd 3.4-style tool", () => {
  let fake: string
  beforeAll(() => {
    const dir = join(work, "fake")
    mkdirSync(dir, { recursive: true })
    fake = join(dir, "etcdutl")
    writeFileSync(
      fake,
      [
        "#!/bin/sh",
        'case "$1 $2 $3" in',
        '  "version  ") echo "etcdutl version: 3.4.27"; echo "API version: 3.4" ;;',
        '  "snapshot restore --help") echo "Usage: snapshot restore <filename> [options]"; echo "      --data-dir string"; echo "      --name string"; echo "      --skip-hash-check" ;;',
        `  "snapshot restore "*) echo "$@" > "${dir}/restore-args" ;;`,
        '  *) echo "unexpected: $*" >&2; exit 2 ;;',
        "esac",
      ].join("\n"),
    )
    chmodSync(fake, 0o755)
  })

  it("capabilities report the missing flags", async () => {
    expect(
      await live(
        Etcdutl.use((e) => e.capabilities),
        Etcdutl.live({ binary: fake }),
      ),
    ).toEqual({
      command: fake,
      version: "3.4.27",
      bumpRevision: false,
      markCompacted: false,
    })
  })

  it("snapshotRestore with a bump is refused before anything runs", async () => {
    // Another test's run leaves its arguments there.
    rmSync(join(work, "fake", "restore-args"), { force: true })
    const error = await flip(
      Etcdutl.use((e) => e.snapshotRestore(request(join(work, "never")))),
      Etcdutl.live({ binary: fake }),
    )
    expect(error).toMatchObject({ _tag: "EtcdutlUnsupported", version: "3.4.27", missing: ["--bump-revision", "--mark-compacted"] })
    expect(error.message).toContain("etcd 3.5 or newer")
    expect(existsSync(join(work, "fake", "restore-args"))).toBe(false)
  })

  it("snapshotRestore with --no-bump runs without --bump-revision and --mark-compacted", async () => {
    await live(
      Etcdutl.use((e) => e.snapshotRestore(request(join(work, "nobump"), { bump: { _tag: "Disabled" } }))),
      Etcdutl.live({ binary: fake }),
    )
    const args = readFileSync(join(work, "fake", "restore-args"), "utf8")
    expect(args).toContain("--data-dir")
    expect(args).toContain("--skip-hash-check=false")
    expect(args).not.toContain("--bump-revision")
    expect(args).not.toContain("--mark-compacted")
  })
})

describe("Etcdutl.inMemory", () => {
  it("answers from its table and records restores", async () => {
    const restores: Array<SnapshotRestoreRequest> = []
    const layer = Etcdutl.inMemory({ statuses: { "/b/s.db": { hash: 1, revision: 2, totalKey: 3, totalSize: 4 } }, restores })
    expect(
      await live(
        Etcdutl.use((e) => e.snapshotStatus("/b/s.db")),
        layer,
      ),
    ).toEqual({ hash: 1, revision: 2, totalKey: 3, totalSize: 4 })
    expect(
      await flip(
        Etcdutl.use((e) => e.snapshotStatus("/b/other.db")),
        layer,
      ),
    ).toMatchObject({ reason: "missing-file" })
    await live(
      Etcdutl.use((e) => e.snapshotRestore(request("/d", { snapshot: "/b/s.db" }))),
      layer,
    )
    expect(restores.map((r) => r.dataDir)).toEqual(["/d"])
  })
})
