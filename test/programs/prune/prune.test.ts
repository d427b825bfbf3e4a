/**
 * prune's leftover rule, with the Clock as "now" (TestClock): what no manifest vouches for is kept
 * while anything in it is younger than the grace period, unless a stale lock proves a dead run of
 * this project left it. Files are on a real disk with chosen modification times.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { prune, type PruneOptions } from "../../../src/programs/prune/prune.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { signManifest, type TrustedKey } from "../../../src/services/crypto/manifest-signature.ts"
import { signingKeyPair } from "../../support/signing-keys.ts"
import { setTreeMtime, writeFakeBackup } from "../../support/fake-backups.ts"

const copiedAt = Date.parse("2026-03-01T00:00:00Z")
const minute = 60_000
const day = 86_400_000

/**
 * Two verified backups in subdirectories and, copied without the lock at `copiedAt`: `copy/` (an
 * `oc cp` cut short: a snapshot and half a tarball, no manifest yet) and `upload/` (a directory
 * store's upload: a snapshot and the tarball's `.part`).
 */
const fixture = () => {
  const dir = mkdtempSync(join(tmpdir(), "prune-grace-"))
  writeFakeBackup(join(dir, "b1"), "2026-02-01_000000")
  writeFakeBackup(join(dir, "b2"), "2026-02-02_000000")
  setTreeMtime(dir, copiedAt - 30 * day)
  mkdirSync(join(dir, "copy"))
  writeFileSync(join(dir, "copy", "snapshot_2026-01-15_000000.db"), "s".repeat(100))
  writeFileSync(join(dir, "copy", "static_kuberesources_2026-01-15_000000.tar.gz"), "half a tarball")
  setTreeMtime(join(dir, "copy"), copiedAt)
  mkdirSync(join(dir, "upload"))
  writeFileSync(join(dir, "upload", "snapshot_2026-01-16_000000.db"), "s".repeat(100))
  writeFileSync(join(dir, "upload", "static_kuberesources_2026-01-16_000000.tar.gz.part"), "half an upload")
  setTreeMtime(join(dir, "upload"), copiedAt)
  return dir
}

const run = (dir: string, graceMs = day) => {
  const options: PruneOptions = { dir, dryRun: false, policy: { keepLast: 1 }, leftoverGrace: { ms: graceMs, text: graceMs === day ? "24h" : `${graceMs}ms` } }
  return prune(options).pipe(Effect.provide(Layer.mergeAll(NodeServices.layer, DurableFiles.live)))
}
const ls = (where: string) => readdirSync(where).sort()

describe("prune: copies in progress and a dead run's leftovers", () => {
  it.effect("keeps a copy modified 3 min ago and says why; removes it once the Clock is 2 days later", () =>
    Effect.gen(function* () {
      const dir = fixture()
      try {
        yield* TestClock.setTime(copiedAt + 3 * minute)
        const young = yield* run(dir)
        assert.deepStrictEqual(ls(dir), [".cluster-backup", "b2", "copy", "upload"])
        assert.deepStrictEqual(ls(join(dir, "copy")), ["snapshot_2026-01-15_000000.db", "static_kuberesources_2026-01-15_000000.tar.gz"])
        assert.deepStrictEqual(ls(join(dir, "upload")), ["snapshot_2026-01-16_000000.db", "static_kuberesources_2026-01-16_000000.tar.gz.part"])
        const why = "kept: modified 3 min ago, may be a copy in progress; prune removes it after 24h or with --leftover-grace 0"
        assert.isTrue(
          young.keep.some((k) => k.unit.id === "copy/" && k.reason.startsWith(why)),
          JSON.stringify(young.keep),
        )
        assert.deepStrictEqual(
          young.leftovers.filter((l) => l.path.startsWith("upload/")).map((l) => [l.path, l.removed, l.reason]),
          [
            ["upload/", false, why],
            ["upload/static_kuberesources_2026-01-16_000000.tar.gz.part", false, why],
          ],
        )
        assert.deepStrictEqual(
          young.remove.map((r) => r.unit.id),
          ["b1/"],
        )

        yield* TestClock.setTime(copiedAt + 2 * day)
        const old = yield* run(dir)
        assert.deepStrictEqual(ls(dir), [".cluster-backup", "b2"])
        assert.deepStrictEqual(
          old.remove.map((r) => r.unit.id),
          ["copy/"],
        )
        assert.isTrue(old.leftovers.every((l) => l.removed))
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )

  it.effect("a grace of 0 removes a copy modified now", () =>
    Effect.gen(function* () {
      const dir = fixture()
      try {
        yield* TestClock.setTime(copiedAt)
        yield* run(dir, 0)
        assert.deepStrictEqual(ls(dir), [".cluster-backup", "b2"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )

  it.effect("a file the system refuses to remove (EPERM: immutable) fails the prune with that errno and what to do, not Node's ENOTDIR", () =>
    Effect.gen(function* () {
      const dir = fixture()
      const pinned = join(dir, "b1", "snapshot_2026-02-01_000000.db")
      // Root may remove any file but an immutable one: the refusal a sticky directory gives another user.
      execFileSync("chattr", ["+i", pinned])
      try {
        yield* TestClock.setTime(copiedAt + 1000)
        const error = yield* Effect.flip(run(dir))
        assert.strictEqual(error._tag, "PruneFailed")
        assert.include(error.message, pinned)
        assert.include(error.message, "EPERM")
        assert.include(error.message, "not permitted")
        assert.notInclude(error.message, "ENOTDIR")
        assert.isTrue(existsSync(pinned))
      } finally {
        execFileSync("chattr", ["-i", pinned])
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )

  it.effect("removes at once, whatever their age, the remains and leftovers of a run whose stale lock names a gone process", () =>
    Effect.gen(function* () {
      const dir = fixture()
      try {
        const gone = spawnSync(process.execPath, ["-e", "0"]).pid!
        for (const sub of ["copy", "upload"]) {
          mkdirSync(join(dir, sub, ".cluster-backup"))
          writeFileSync(
            join(dir, sub, ".cluster-backup", "run.lock"),
            JSON.stringify({ pid: gone, startTicks: null, host: hostname(), command: "backup-create", startedAt: "2026-03-01T00:00:00.000Z" }),
          )
          setTreeMtime(join(dir, sub), copiedAt)
        }
        yield* TestClock.setTime(copiedAt + 1000)
        const result = yield* run(dir)
        assert.deepStrictEqual(ls(dir), [".cluster-backup", "b2"])
        assert.deepStrictEqual(result.remove.map((r) => r.unit.id).sort(), ["b1/", "copy/"])
        assert.isFalse(existsSync(join(dir, "upload")))
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )

  it.effect(
    "removes the lock and lock temporaries a gone process left in a kept backup (a prune killed after its removals there), and keeps a live run's",
    () =>
      Effect.gen(function* () {
        const dir = fixture()
        try {
          const gone = spawnSync(process.execPath, ["-e", "0"]).pid!
          const lock = (owner: { pid: number; startTicks: string | null }) =>
            JSON.stringify({ ...owner, host: hostname(), command: "prune", startedAt: "2026-03-01T00:00:00.000Z" })
          writeFileSync(join(dir, "b2", ".cluster-backup", "run.lock"), lock({ pid: gone, startTicks: null }))
          yield* TestClock.setTime(copiedAt + 3 * minute)
          yield* run(dir)
          assert.strictEqual(ls(join(dir, "b2")).filter((f) => !f.startsWith(".")).length, 3)
          assert.deepStrictEqual(ls(join(dir, "b2", ".cluster-backup")), ["snapshot.json"])
          // A run killed while taking the lock left its temporary file (the name has its PID); a live run's stays.
          writeFileSync(join(dir, "b2", ".cluster-backup", `run.lock.new-${gone}-0a1b2c3d`), lock({ pid: gone, startTicks: null }))
          writeFileSync(join(dir, "b2", ".cluster-backup", `run.lock.stale-${process.pid}-0a1b2c3d`), lock({ pid: process.pid, startTicks: null }))
          yield* run(dir)
          assert.deepStrictEqual(ls(join(dir, "b2", ".cluster-backup")), [`run.lock.stale-${process.pid}-0a1b2c3d`, "snapshot.json"])
          rmSync(join(dir, "b2", ".cluster-backup", `run.lock.stale-${process.pid}-0a1b2c3d`))
          // This process is alive: its lock stays, and the backup with it.
          writeFileSync(join(dir, "b2", ".cluster-backup", "run.lock"), lock({ pid: process.pid, startTicks: null }))
          yield* run(dir)
          assert.deepStrictEqual(ls(join(dir, "b2", ".cluster-backup")), ["run.lock", "snapshot.json"])
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }),
  )

  it.effect("finishes the emptying of a subdirectory an interrupted prune had begun (its record named it), and leaves a user's empty directory", () =>
    Effect.gen(function* () {
      const dir = fixture()
      try {
        mkdirSync(join(dir, "emptied"))
        mkdirSync(join(dir, "users-empty-dir"))
        mkdirSync(join(dir, ".cluster-backup"))
        writeFileSync(join(dir, ".cluster-backup", "prune-removing.json"), JSON.stringify({ subdirectory: "emptied" }))
        yield* TestClock.setTime(copiedAt + 3 * minute)
        yield* run(dir)
        assert.deepStrictEqual(ls(dir), [".cluster-backup", "b2", "copy", "upload", "users-empty-dir"])
        assert.deepStrictEqual(ls(join(dir, ".cluster-backup")), [])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )

  it.effect("a copy in progress takes no slot of the count rules: the only complete unverified backup beside it is kept, not removed in its favour", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "prune-grace-"))
      try {
        // OpenShift's own backup copied whole (`oc cp`) a month ago, and a newer one being copied now (half its tarball).
        writeFakeBackup(join(dir, "old"), "2026-02-01_000000", { manifest: false })
        setTreeMtime(dir, copiedAt - 30 * day)
        mkdirSync(join(dir, "copy"))
        writeFileSync(join(dir, "copy", "snapshot_2026-02-15_000000.db"), "s".repeat(100))
        writeFileSync(join(dir, "copy", "static_kuberesources_2026-02-15_000000.tar.gz"), "half a tarball")
        setTreeMtime(join(dir, "copy"), copiedAt)
        yield* TestClock.setTime(copiedAt + 3 * minute)
        const result = yield* run(dir)
        assert.deepStrictEqual(ls(dir), [".cluster-backup", "copy", "old"])
        assert.deepStrictEqual(result.remove, [])
        assert.deepStrictEqual(result.keep.map((k) => k.unit.id).sort(), ["copy/", "old/"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )
})

describe("prune --trusted-key of a directory of backups", () => {
  const ours = signingKeyPair()
  const stranger = signingKeyPair()
  const sign = (dir: string, key: typeof ours.signing) =>
    writeFileSync(join(dir, signatureFileName), signManifest(readFileSync(join(dir, "backup-manifest.json")), key))
  /** The real backup, and two newer ones planted beside it: one unsigned, one signed by another key. */
  const planted = () => {
    const dir = mkdtempSync(join(tmpdir(), "prune-trusted-"))
    writeFakeBackup(join(dir, "real"), "2026-02-01_000000")
    sign(join(dir, "real"), ours.signing)
    writeFakeBackup(join(dir, "unsigned"), "2026-02-02_000000")
    writeFakeBackup(join(dir, "stranger"), "2026-02-03_000000")
    sign(join(dir, "stranger"), stranger.signing)
    setTreeMtime(dir, copiedAt - 30 * day)
    return dir
  }
  const runWith = (dir: string, trustedKeys: ReadonlyArray<TrustedKey>) => {
    const lines: Array<string> = []
    const logger = Logger.make(({ message, logLevel }) => void lines.push(`${logLevel} ${String(message)}`))
    return prune({ dir, dryRun: false, policy: { keepLast: 1 }, leftoverGrace: { ms: day, text: "24h" }, trustedKeys }).pipe(
      Effect.provide(Layer.mergeAll(NodeServices.layer, DurableFiles.live)),
      Effect.provide(Logger.layer([logger])),
      Effect.map((decision) => ({ decision, lines })),
    )
  }

  it.effect(
    "without keys the newest planted backup is kept and the real one goes; with the key the real one is kept and the planted go, each named with why",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(copiedAt)
        const without = planted()
        const withKey = planted()
        try {
          yield* runWith(without, [])
          assert.deepStrictEqual(ls(without), [".cluster-backup", "stranger"])
          const { decision, lines } = yield* runWith(withKey, [ours.trusted])
          assert.deepStrictEqual(ls(withKey), [".cluster-backup", "real"])
          assert.deepStrictEqual(
            decision.keep.map((k) => [k.unit.id, k.unit.verified]),
            [["real/", true]],
          )
          assert.deepStrictEqual(
            decision.remove.map((r) => r.unit.id),
            ["stranger/", "unsigned/"],
          )
          assert.match(
            decision.remove[0]!.reason,
            new RegExp(`\\[untrusted: its manifest is signed by key ${stranger.trusted.keyId}, which is not a trusted key\\]$`),
          )
          assert.match(decision.remove[1]!.reason, /\[untrusted: its manifest is not signed\]$/)
          assert.include(lines.join("\n"), "Warn backup unsigned/ is not trusted: its manifest is not signed")
          assert.include(decision.keep[0]!.reason, "trusted")
        } finally {
          rmSync(without, { recursive: true, force: true })
          rmSync(withKey, { recursive: true, force: true })
        }
      }),
  )

  it.effect("an untrusted backup modified 3 min ago may be a copy whose signature is still to come: kept, taking no slot", () =>
    Effect.gen(function* () {
      const dir = planted()
      try {
        setTreeMtime(join(dir, "unsigned"), copiedAt)
        yield* TestClock.setTime(copiedAt + 3 * minute)
        const { decision } = yield* runWith(dir, [ours.trusted])
        assert.deepStrictEqual(ls(dir), [".cluster-backup", "real", "unsigned"])
        assert.deepStrictEqual(
          decision.remove.map((r) => r.unit.id),
          ["stranger/"],
        )
        assert.isTrue(
          decision.keep.some((k) => k.unit.id === "unsigned/" && k.reason.includes("may be a copy in progress")),
          JSON.stringify(decision.keep),
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )
})
