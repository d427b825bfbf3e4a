import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { startLocalEtcd, whyNotExecutable } from "../../src/services/local-etcd.ts"
import { etcd3Client, etcdctlSnapshotSave, restoreSnapshot, startTlsEtcd } from "../support/etcd-fixture.ts"
import { scopedTempDir } from "../support/temp-dir.ts"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("startLocalEtcd", () => {
  it.live("serves TLS with client-certificate auth and is stopped when its scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { member } = yield* startTlsEtcd("tls").pipe(Scope.provide(scope))
      assert.match(member.clientUrl, /^https:\/\/127\.0\.0\.1:\d+$/)
      const value = yield* Effect.scoped(
        Effect.gen(function* () {
          const client = yield* etcd3Client(member.connection)
          yield* Effect.promise(() => client.put("k").value("v"))
          return yield* Effect.promise(() => client.get("k").string())
        }),
      )
      assert.strictEqual(value, "v")
      // Without a client certificate the member refuses the connection.
      const refused = yield* Effect.promise(() =>
        fetch(`${member.clientUrl}/health`).then(
          () => false,
          () => true,
        ),
      )
      assert.isTrue(refused)
      assert.isTrue(alive(member.pid))
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(alive(member.pid))
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.live("stops the member when the test using it fails", () =>
    Effect.gen(function* () {
      let pid = 0
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            const { member } = yield* startTlsEtcd("fail")
            pid = member.pid
            return yield* Effect.fail("test failed")
          }),
        ),
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(alive(pid))
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.live("serves a data directory restored by etcdutl, with its keys", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* scopedTempDir("restore")
        const source = yield* startLocalEtcd({ dataDir: join(dir, "source"), unsafeNoFsync: true })
        const client = yield* etcd3Client(source.connection)
        yield* Effect.promise(() => client.put("/restored/key").value("kept"))
        const snapshotFile = join(dir, "snap.db")
        yield* etcdctlSnapshotSave(source.connection, snapshotFile)
        yield* source.kill()
        const restoredDir = join(dir, "restored")
        yield* restoreSnapshot(snapshotFile, restoredDir, "restored", "http://127.0.0.1:2380")
        const restored = yield* startLocalEtcd({ dataDir: restoredDir, name: "restored" })
        const restoredClient = yield* etcd3Client(restored.connection)
        assert.strictEqual(yield* Effect.promise(() => restoredClient.get("/restored/key").string()), "kept")
      }),
    ).pipe(Effect.provide(NodeServices.layer)),
  )

  it.live("a member restored from a snapshot taken under etcd's NOSPACE alarm fails at once, naming the alarm and how to clear it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* scopedTempDir("nospace")
        const source = yield* startLocalEtcd({ dataDir: join(dir, "source"), unsafeNoFsync: true, quotaBackendBytes: 2_000_000 })
        const client = yield* etcd3Client(source.connection)
        const value = "x".repeat(100_000)
        // Writes until etcd raises the alarm and refuses them (at ~2 MB).
        yield* Effect.promise(async () => {
          for (let i = 0; i < 100; i++)
            if (
              !(await client
                .put(`/k/${i}`)
                .value(value)
                .then(
                  () => true,
                  () => false,
                ))
            )
              return
          throw new Error("etcd never refused a write over its quota")
        })
        const snapshotFile = join(dir, "snap.db")
        yield* etcdctlSnapshotSave(source.connection, snapshotFile)
        yield* source.kill()
        const restoredDir = join(dir, "restored")
        yield* restoreSnapshot(snapshotFile, restoredDir, "restored", "http://127.0.0.1:2380")
        const error = yield* Effect.flip(startLocalEtcd({ dataDir: restoredDir, name: "restored", quotaBackendBytes: 8 * 1024 ** 3 }))
        assert.match(error.message, /reports itself unhealthy: ALARM NOSPACE/)
        assert.match(error.message, /refuses every write until the alarm is disarmed/)
        assert.match(error.message, /etcdctl alarm disarm/)
      }),
    ).pipe(Effect.provide(NodeServices.layer)),
  )

  it.live("a member that cannot start fails with etcd's own reason", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* scopedTempDir("bad")
        const error = yield* Effect.flip(startLocalEtcd({ dataDir: join(dir, "data"), extraArgs: ["--no-such-flag"] }))
        assert.strictEqual(error._tag, "LocalEtcdFailed")
        assert.match(error.message, /exited before serving/)
        assert.match(error.message, /no-such-flag/)
      }),
    ).pipe(Effect.provide(NodeServices.layer)),
  )

  it.live("an etcd binary that cannot be run (missing, not executable, a directory) fails before the start, naming it and why", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* scopedTempDir("no-etcd")
        const notExecutable = join(dir, "etcd-text")
        writeFileSync(notExecutable, "not a program\n", { mode: 0o644 })
        for (const [binary, why] of [
          [join(dir, "missing"), "ENOENT: no such file"],
          [notExecutable, "EACCES"],
          [dir, "EISDIR"],
        ] as const) {
          const error = yield* Effect.flip(startLocalEtcd({ dataDir: join(dir, "data"), etcdBinary: binary }))
          assert.strictEqual(error._tag, "LocalEtcdFailed")
          assert.strictEqual(error.message, `cannot run ${binary} (${why}): install etcd (3.5 or newer) or name it explicitly`)
        }
      }),
    ).pipe(Effect.provide(NodeServices.layer)),
  )

  it("a bare name is looked up on PATH", async () => {
    const dir = mkdtempSync(join(tmpdir(), "which-"))
    writeFileSync(join(dir, "tool"), "#!/bin/sh\n", { mode: 0o755 })
    const path = process.env.PATH
    try {
      process.env.PATH = `/nonexistent:${dir}`
      assert.isUndefined(await whyNotExecutable("tool"))
      assert.strictEqual(await whyNotExecutable("no-such-tool"), "ENOENT")
    } finally {
      process.env.PATH = path
    }
  })
})
