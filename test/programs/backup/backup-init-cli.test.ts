/**
 * `cluster-backup backup-init` as the backup pod runs it: flags, exit codes, what it prints,
 * and a SIGTERM in the middle of the stream (etcd is held with SIGSTOP so the stream is known to
 * be in progress), against a real etcd 3.5 over TLS.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { expect, it as plain } from "vitest"
import { Effect, Result, Schema } from "effect"
import { connectionFromFlags } from "../../../src/cli/backup-init-command.ts"
import { volumeSizeLimitsEnv } from "../../../src/domain/volume-size-limits.ts"
import { SnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { freeLoopbackPort } from "../../../src/services/local-etcd.ts"
import { backupInitArgs, etcd3Client, seedKeys, TestEtcd } from "../../support/etcd-fixture.ts"
import { type CliOptions, runCli } from "../../support/run-cli.ts"

const cli = (args: ReadonlyArray<string>, options?: CliOptions) => Effect.promise(() => runCli(args, options))
const backupFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n !== ".cluster-backup") : [])

describe("--etcd-* flags", () => {
  const base = { cert: "/c", key: "/k", cacert: "/ca" }
  plain("https endpoints use the client certificate; http ones none; mixing or garbage is refused", () => {
    expect(connectionFromFlags({ ...base, endpoints: "https://a:2379, https://b:2379/" })).toEqual(
      Result.succeed({ endpoints: ["https://a:2379", "https://b:2379"], tls: { cert: "/c", key: "/k", cacert: "/ca" } }),
    )
    expect(connectionFromFlags({ ...base, endpoints: "http://127.0.0.1:2379" })).toEqual(Result.succeed({ endpoints: ["http://127.0.0.1:2379"] }))
    const mixed = connectionFromFlags({ ...base, endpoints: "https://a:2379,http://b:2379" })
    expect(Result.isFailure(mixed) && mixed.failure.message).toBe("--etcd-endpoints: expected URLs of one scheme, https:// or http://, not both")
    const bad = connectionFromFlags({ ...base, endpoints: "etcd:2379" })
    expect(Result.isFailure(bad) && bad.failure.message).toBe(
      '--etcd-endpoints: expected URLs like https://host:2379 (scheme, host and port): "etcd:2379" is not one',
    )
    const port = connectionFromFlags({ ...base, endpoints: "https://127.0.0.1:99999" })
    expect(Result.isFailure(port) && port.failure.message).toBe(
      '--etcd-endpoints: expected URLs with a port from 1 to 65535: "https://127.0.0.1:99999" has 99999',
    )
    expect(connectionFromFlags({ ...base, endpoints: "HTTPS://[::1]:2379" })).toEqual(
      Result.succeed({ endpoints: ["HTTPS://[::1]:2379"], tls: { cert: "/c", key: "/k", cacert: "/ca" } }),
    )
    expect(Result.isFailure(connectionFromFlags({ ...base, endpoints: " , " }))).toBe(true)
  })
})

layer(TestEtcd.layer(), { excludeTestServices: true })("cluster-backup backup-init", (it) => {
  it.effect("exits 0, prints the record it wrote, and leaves the snapshot (direct I/O or, with --no-direct-io, buffered)", () =>
    Effect.gen(function* () {
      const etcd = yield* TestEtcd
      for (const io of [[], ["--no-direct-io"]]) {
        const backupDir = join(etcd.workDir, `cli-ok${io.join("")}`)
        const run = yield* cli([...backupInitArgs(backupDir, etcd.member.clientUrl, etcd.tls), ...io])
        assert.strictEqual(run.status, 0, run.stderr)
        const record = Schema.decodeUnknownSync(SnapshotRecord)(JSON.parse(run.stdout))
        assert.deepStrictEqual(backupFiles(backupDir), [record.snapshotFile])
        assert.strictEqual(statSync(join(backupDir, record.snapshotFile)).size, record.size)
        assert.strictEqual(
          createHash("sha256")
            .update(readFileSync(join(backupDir, record.snapshotFile)).subarray(0, record.size - 32))
            .digest("hex"),
          record.sha256,
        )
        assert.include(run.stderr, `snapshot ${record.snapshotFile} complete`)
      }
    }),
  )

  it.effect("in a pod, refuses a snapshot its backup volume's size limit cannot hold before writing anything, naming the limit", () =>
    Effect.gen(function* () {
      const etcd = yield* TestEtcd
      const backupDir = join(etcd.workDir, "cli-volume-limit")
      mkdirSync(backupDir, { recursive: true })
      // What the volume already holds counts against its limit: the kubelet measures the whole emptyDir.
      writeFileSync(join(backupDir, "earlier"), Buffer.alloc(256 * 1024, 1))
      const limit = 264 * 1024
      const run = yield* cli(backupInitArgs(backupDir, etcd.member.clientUrl, etcd.tls), {
        env: { [volumeSizeLimitsEnv]: JSON.stringify({ [backupDir]: limit }) },
      })
      assert.notStrictEqual(run.status, 0)
      assert.include(run.stderr, "[InsufficientDiskSpace]")
      assert.match(run.stderr, /only \d+ bytes are available; the pod's size limit of .*cli-volume-limit is 264\.0 KiB and 26\d\.\d KiB of it is in use/)
      assert.include(run.stderr, "a larger --backup-volume-size")
      assert.deepStrictEqual(backupFiles(backupDir), ["earlier"])

      const roomy = yield* cli(backupInitArgs(backupDir, etcd.member.clientUrl, etcd.tls), {
        env: { [volumeSizeLimitsEnv]: JSON.stringify({ [backupDir]: 1024 ** 3 }) },
      })
      assert.strictEqual(roomy.status, 0, roomy.stderr)
    }),
  )

  it.effect("a malformed size-limit variable stops backup-init with what is wrong, before anything is written", () =>
    Effect.gen(function* () {
      const etcd = yield* TestEtcd
      const backupDir = join(etcd.workDir, "cli-volume-limit-bad")
      mkdirSync(backupDir, { recursive: true })
      const run = yield* cli(backupInitArgs(backupDir, etcd.member.clientUrl, etcd.tls), { env: { [volumeSizeLimitsEnv]: "20Gi" } })
      assert.notStrictEqual(run.status, 0)
      assert.include(run.stderr, `${volumeSizeLimitsEnv} is not a JSON object of absolute mount paths to byte counts`)
      assert.deepStrictEqual(backupFiles(backupDir), [])
    }),
  )

  it.effect("exits non-zero with the error's message and tag when etcd cannot be reached", () =>
    Effect.gen(function* () {
      const etcd = yield* TestEtcd
      const endpoint = `https://127.0.0.1:${yield* freeLoopbackPort}`
      const backupDir = join(etcd.workDir, "cli-down")
      const run = yield* cli(backupInitArgs(backupDir, endpoint, etcd.tls))
      assert.notStrictEqual(run.status, 0)
      assert.include(run.stderr, `error: cannot reach etcd at ${endpoint}`)
      assert.include(run.stderr, "[EtcdUnreachable]")
      assert.strictEqual(run.stdout, "")
      assert.deepStrictEqual(backupFiles(backupDir), [])
    }),
  )

  it.effect("exits 2 on bad --etcd-endpoints before touching anything", () =>
    Effect.gen(function* () {
      const { workDir } = yield* TestEtcd
      const backupDir = join(workDir, "cli-flags")
      const run = yield* cli(["backup-init", "--backup-dir", backupDir, "--etcd-endpoints", "https://a:1,http://b:2"])
      assert.strictEqual(run.status, 2)
      assert.include(
        run.stderr,
        'Invalid value for flag --etcd-endpoints: "https://a:1,http://b:2". Expected: URLs of one scheme, https:// or http://, not both',
      )
      assert.isFalse(existsSync(backupDir))
    }),
  )

  it.effect("SIGTERM in the middle of the stream exits non-zero, removes the part file and releases the lock", () =>
    Effect.gen(function* () {
      const etcd = yield* TestEtcd
      const client = yield* etcd3Client(etcd.member.connection)
      // 60 MB: far more than what is in flight when etcd is stopped.
      yield* seedKeys(client, 600, 100 * 1024, 100_000)
      const backupDir = join(etcd.workDir, "cli-term")
      const part = () => backupFiles(backupDir).find((n) => n.endsWith(".db.part"))
      try {
        const run = yield* cli(backupInitArgs(backupDir, etcd.member.clientUrl, etcd.tls), {
          during: async (child) => {
            for (let i = 0; i < 2000 && (part() === undefined || statSync(join(backupDir, part()!)).size === 0); i++) await new Promise((r) => setTimeout(r, 5))
            process.kill(etcd.member.pid, "SIGSTOP")
            assert.isDefined(part(), "the part file should exist while streaming")
            await new Promise((r) => setTimeout(r, 200))
            assert.isFalse(child.ended(), "backup-init should still be waiting for etcd")
            child.kill("SIGTERM")
          },
        })
        assert.notStrictEqual(run.status, 0, run.stderr)
        assert.deepStrictEqual(backupFiles(backupDir), [])
        // No record, and the lock released.
        assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), [])
      } finally {
        process.kill(etcd.member.pid, "SIGCONT")
      }
    }),
  )
})
