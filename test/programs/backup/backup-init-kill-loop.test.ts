/**
 * `cluster-backup backup-init` killed with SIGKILL at random points of its work against a real
 * etcd 3.5 (direct and buffered writes in turn), then run to its end: the directory holds exactly
 * one snapshot, the record's, with the right sha256; no part file, no unfinished write, no lock.
 * The seed is fixed (KILL_LOOP_SEED replays another); the kill points are in the failure message.
 */
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { SnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { backupInitArgs, etcd3Client, seedKeys, snapshotStatus, TestEtcd } from "../../support/etcd-fixture.ts"
import { filesUnder, runAndKill, seededRandom } from "../../support/kill-loop.ts"
import { runCli } from "../../support/run-cli.ts"

const seed = Number(process.env.KILL_LOOP_SEED ?? 13)
const kills = 10

layer(TestEtcd.layer(), { excludeTestServices: true })("backup-init under SIGKILL", (it) => {
  it.effect(
    `killed ${kills} times at random points, then run to its end: one checked snapshot, nothing else left (seed ${seed})`,
    () =>
      Effect.gen(function* () {
        const { member, tls, workDir } = yield* TestEtcd
        const client = yield* etcd3Client(member.connection)
        yield* seedKeys(client, 40, 100 * 1024) // ~4 MB
        const args = (backupDir: string, directIo: boolean) => [...backupInitArgs(backupDir, member.clientUrl, tls), ...(directIo ? [] : ["--no-direct-io"])]
        const lockOf = (backupDir: string) => join(backupDir, ".cluster-backup", "run.lock")

        // A whole run first, to spread the kill points over the time a run's work takes here.
        const warmDir = join(workDir, "kill-loop-warm")
        const warm = yield* Effect.promise(() => runAndKill(args(warmDir, true), lockOf(warmDir), 120_000))
        assert.isTrue(warm.finished && warm.code === 0, warm.stderr)
        const span = Math.max(50, warm.afterLockMs)

        const random = seededRandom(seed)
        const backupDir = join(workDir, "kill-loop")
        const points: Array<string> = []
        for (let i = 0; i < kills; i++) {
          const delay = Math.round(random() * span * 1.1)
          const run = yield* Effect.promise(() => runAndKill(args(backupDir, i % 2 === 0), lockOf(backupDir), delay))
          points.push(`${delay} ms${run.finished ? ` (finished, exit ${run.code})` : ""}`)
          if (run.finished) assert.strictEqual(run.code, 0, `run ${i} finished but failed: ${run.stderr}`)
        }
        const context = `kill points after the lock (span ${span} ms): ${points.join(", ")}`

        const final = yield* Effect.promise(() => runCli(args(backupDir, true)))
        assert.strictEqual(final.status, 0, `${context}\n${final.stderr}`)
        const record = Schema.decodeUnknownSync(SnapshotRecord)(JSON.parse(final.stdout))
        assert.deepStrictEqual(readdirSync(backupDir).sort(), [".cluster-backup", record.snapshotFile], `${context}\n${final.stderr}`)
        assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"], context)
        assert.deepStrictEqual(
          [...filesUnder(backupDir).keys()].filter((p) => /\.part$|\.tmp-|run\.lock/.test(p)),
          [],
          context,
        )
        const file = join(backupDir, record.snapshotFile)
        const bytes = readFileSync(file)
        assert.strictEqual(statSync(file).size, record.size)
        const digest = createHash("sha256")
          .update(bytes.subarray(0, bytes.length - 32))
          .digest()
        assert.strictEqual(digest.toString("hex"), record.sha256)
        assert.isTrue(digest.equals(bytes.subarray(bytes.length - 32)), "the trailer is the sha256 of the database")
        const status = yield* snapshotStatus(file)
        assert.isAbove(status.totalKey, 40)
      }),
    240_000,
  )
})
