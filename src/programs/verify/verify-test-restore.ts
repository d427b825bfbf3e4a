/**
 * `verify --test-restore`: proves a snapshot restores, by doing it. The snapshot is restored with
 * `etcdutl snapshot restore` into a throwaway data directory, an etcd member is started on it on
 * free loopback ports, and the member is asked how many keys it serves, at which revision, and
 * what the four operator CRs say. Everything it made (the member, its data directory and log) is
 * removed when it returns, also on failure or interruption.
 *
 * The member is read through etcd's JSON gateway (`/v3/kv/range`) with a count-only range and
 * single-key reads: the answer stays a few hundred bytes whatever the size of the snapshot. Asked
 * to, it also counts the keys per resource prefix (keys only, paged) and samples the encrypted
 * values (`bundle-sample.ts`, the same sampling as at backup time, a few values per page) at the
 * revision the manifest recorded them at.
 */
import { request } from "node:http"
import { hostname } from "node:os"
import { join } from "node:path"
import { Effect, FileSystem, Option, Schema } from "effect"
import { formatBytes } from "../../domain/byte-format.ts"
import { defaultOperands, operandList, type OperandName, type OperandTable } from "../../domain/operands.ts"
import { walAllowanceBytes } from "../../domain/host-layout.ts"
import { describeVolumeLimit } from "../../domain/volume-size-limits.ts"
import { makeDirectories } from "../../services/atomic-files.ts"
import { DiskSpace } from "../../services/disk-space.ts"
import { Etcdutl } from "../../services/etcdutl.ts"
import { describeFileSystemFailure } from "../../services/file-system-error.ts"
import { startLocalEtcd } from "../../services/local-etcd.ts"
import { ownerLiveness, startTicksOf } from "../../services/run-lock.ts"
import { defaultEtcdPrefix } from "../../domain/etcd-prefix.ts"
import { countKeysByPrefix, type KeyCounts } from "../../domain/key-counts.ts"
import { sampleEncryptedValues } from "../../domain/bundle-decryption.ts"
import type { StoredValue } from "../../domain/encrypted-value.ts"
import { sampleStoredValues } from "../backup/bundle-sample.ts"
import { etcdOperatorRevisionOf, operatorCrKeyUnder, type EtcdOperatorRevision } from "../backup/etcd-operator-revisions.ts"

export class TestRestoreFailed extends Schema.TaggedError<TestRestoreFailed>()("TestRestoreFailed", {
  stage: Schema.Literals(["scratch", "restore", "start", "read"]),
  message: Schema.String,
}) {}

export interface TestRestoreOptions {
  readonly snapshot: string
  /** Where the throwaway data directory is made (it needs about the snapshot's size). */
  readonly scratchDir: string
  /** The `etcd` binary (default: `.tools/etcd/bin/etcd`, else PATH). */
  readonly etcdBinary?: string | undefined
  readonly operands?: OperandTable
  /** The etcd key prefix the operator CRs are stored under (default `/kubernetes.io`). */
  readonly etcdPrefix?: string | undefined
  /** Count the keys per resource prefix under `etcdPrefix` at this revision (the one the manifest's counts were read at). */
  readonly keyCountsAt?: number | undefined
  /** Also sample the encrypted values under `etcdPrefix` at `keyCountsAt`. */
  readonly sampleEncrypted?: boolean | undefined
  /**
   * Tests only: runs once the restored member serves, before its keys are counted and sampled,
   * and returns the revision they are then read at (any change to the member makes a new one).
   */
  readonly afterStart?: ((member: { readonly clientUrl: string }) => Effect.Effect<number, unknown>) | undefined
}

export interface TestRestoreResult {
  /** Store revision the restored member serves. */
  readonly revision: number
  /** Keys it serves (current keys, not history). */
  readonly keys: number
  readonly operatorRevisions: Readonly<Record<OperandName, EtcdOperatorRevision>>
  /** Keys per resource prefix at `keyCountsAt`, when asked. */
  readonly keyCounts?: KeyCounts | undefined
  /** The encrypted-value sample at `keyCountsAt`, when asked. */
  readonly sample?: ReadonlyArray<StoredValue> | undefined
}

const memberName = "cluster-backup-test-restore"
/** Large enough that a restored production database does not start with a NOSPACE alarm. */
const quotaBackendBytes = 8 * 1024 * 1024 * 1024

const RangeResponse = Schema.Struct({
  header: Schema.Struct({ revision: Schema.optionalKey(Schema.String) }),
  count: Schema.optionalKey(Schema.String),
  more: Schema.optionalKey(Schema.Boolean),
  kvs: Schema.optionalKey(Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.optionalKey(Schema.String) }))),
})
const decodeRange = Schema.decodeUnknownResult(Schema.fromJsonString(RangeResponse))

const readFailed = (message: string) => new TestRestoreFailed({ stage: "read", message })

/** One `/v3/kv/range` call of the gateway: `key`/`rangeEnd` as raw strings. */
const range = (clientUrl: string, body: Readonly<Record<string, unknown>>) =>
  Effect.callback<typeof RangeResponse.Type, TestRestoreFailed>((resume) => {
    const req = request(`${clientUrl}/v3/kv/range`, { method: "POST", timeout: 30_000, headers: { "content-type": "application/json" } }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        text += chunk
        if (text.length > 16 * 1024 * 1024) res.destroy(new Error("answer larger than 16 MiB"))
      })
      res.on("error", (e) => resume(Effect.fail(readFailed(`reading from the restored member failed: ${e.message}`))))
      res.on("end", () => {
        if (res.statusCode !== 200) return resume(Effect.fail(readFailed(`the restored member answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`)))
        const decoded = decodeRange(text)
        resume(
          decoded._tag === "Success"
            ? Effect.succeed(decoded.success)
            : Effect.fail(readFailed(`the restored member's answer is not a range response: ${text.slice(0, 200)}`)),
        )
      })
    })
    req.on("error", (e) => resume(Effect.fail(readFailed(`cannot reach the restored member at ${clientUrl}: ${e.message}`))))
    req.on("timeout", () => req.destroy(new Error("no answer within 30 s")))
    req.end(JSON.stringify(body))
    return Effect.sync(() => req.destroy())
  })

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/** Keys-only pages: a few hundred KiB of JSON each, under the 16 MiB answer bound. */
const keysPage = 5000
/** Value pages: a value may be 1.5 MiB, base64 in the answer. */
const valuesPage = 8

const keyText = (kv: { readonly key: string }) => Buffer.from(kv.key, "base64").toString("utf8")
const valueBytes = (kv: { readonly value?: string }) => new Uint8Array(Buffer.from(kv.value ?? "", "base64"))

/** The key-value pairs under `prefix` at `revision`, page by page, each page handed to `onPage` (an answer stays small). */
const rangePages = (clientUrl: string, prefix: string, revision: number, keysOnly: boolean, onPage: (kvs: ReadonlyArray<RangeKv>) => void) =>
  Effect.gen(function* () {
    const end = b64(`${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`)
    let from = b64(prefix)
    for (;;) {
      const limit = String(keysOnly ? keysPage : valuesPage)
      const page = yield* range(clientUrl, { key: from, range_end: end, keys_only: keysOnly, revision: String(revision), limit })
      const kvs = page.kvs ?? []
      onPage(kvs)
      if (page.more !== true || kvs.length === 0) return
      // The next page starts right after the last key's bytes: a key that is not UTF-8 has no text that names it.
      from = Buffer.concat([Buffer.from(kvs.at(-1)!.key, "base64"), Buffer.alloc(1)]).toString("base64")
    }
  })

type RangeKv = NonNullable<typeof RangeResponse.Type.kvs>[number]

/** Every key under `prefix` at `revision`, in key order, reading keys only. */
const keysUnder = (clientUrl: string, prefix: string, revision: number) =>
  Effect.gen(function* () {
    const keys: Array<string> = []
    yield* rangePages(clientUrl, prefix, revision, true, (kvs) => keys.push(...kvs.map(keyText)))
    return keys as ReadonlyArray<string>
  })

/** The encrypted-value sample under `etcdPrefix` at `revision`, keeping only each page's sample of a prefix's values. */
const sampleAt = (clientUrl: string, keys: ReadonlyArray<string>, etcdPrefix: string, revision: number) =>
  sampleStoredValues(keys, etcdPrefix, {
    value: (key) =>
      range(clientUrl, { key: b64(key), revision: String(revision) }).pipe(
        Effect.map((found) => (found.kvs?.[0] === undefined ? undefined : valueBytes(found.kvs[0]))),
      ),
    prefixValues: (prefix) =>
      Effect.gen(function* () {
        let kept: ReadonlyArray<StoredValue> = []
        yield* rangePages(clientUrl, prefix, revision, false, (kvs) => {
          kept = sampleEncryptedValues([...kept, ...kvs.map((kv) => ({ key: keyText(kv), value: valueBytes(kv) }))], prefix)
        })
        return kept
      }),
  })

const scratchPrefix = "cluster-backup-test-restore-"
const ownedScratch = /^cluster-backup-test-restore-p(\d+)t(\d+)-/

/**
 * Removes the scratch directories of test restores whose process is gone (killed with SIGKILL, so
 * its finalizers never ran; its etcd died with it): their names carry the owner's pid and start
 * time. Others' directories, and ones whose owner may still run, are left alone.
 */
const sweepScratch = (scratchDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(scratchDir).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
    for (const name of names) {
      const owner = ownedScratch.exec(name)
      if (owner === null) continue
      const liveness = yield* Effect.promise(() =>
        ownerLiveness({ pid: Number(owner[1]), startTicks: owner[2]!, host: hostname(), command: "verify", startedAt: "" }),
      )
      if (liveness !== "gone") continue
      yield* fs.remove(join(scratchDir, name), { recursive: true, force: true }).pipe(
        Effect.andThen(Effect.logInfo(`removed ${join(scratchDir, name)}: the scratch data of a test restore whose process is gone`)),
        Effect.catch((e) =>
          Effect.logWarning(`${describeFileSystemFailure("remove", join(scratchDir, name), e).message} (a killed test restore's scratch data)`),
        ),
      )
    }
  })

const noRoom = (scratchDir: string, why: string) =>
  new TestRestoreFailed({
    stage: "scratch",
    message: `${scratchDir} has no room for the test restore (${why}): it needs about the snapshot's size plus 64 MiB for etcd's write-ahead log; give --scratch-dir on a volume with that much free`,
  })

/**
 * Refuses a scratch directory without room for the restored member before anything is written there: etcdutl would
 * otherwise fill its file system (often the host's root, where a control plane's etcd writes too) until it failed.
 */
const checkScratchRoom = (scratchDir: string, snapshot: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const size = Number((yield* fs.stat(snapshot).pipe(Effect.mapError((e) => new TestRestoreFailed({ stage: "restore", message: e.message })))).size)
    // The caller's DiskSpace when it has one (tests), else the file system's: verify's callers need not provide it.
    const given = yield* Effect.serviceOption(DiskSpace)
    const usage = yield* (
      Option.isSome(given) ? given.value.usage(scratchDir) : DiskSpace.use((d) => d.usage(scratchDir)).pipe(Effect.provide(DiskSpace.live))
    ).pipe(Effect.mapError((e) => new TestRestoreFailed({ stage: "scratch", message: e.message })))
    const needed = size + walAllowanceBytes
    if (usage.availableBytes < needed) {
      const limit = usage.volumeLimit === undefined ? "" : `; ${describeVolumeLimit(usage.volumeLimit)}`
      return yield* noRoom(scratchDir, `${formatBytes(usage.availableBytes)} free, ${formatBytes(needed)} needed${limit}`)
    }
    return size
  })

/**
 * How long the restored member may take to serve: etcd rebuilds its index from every revision in the database when it
 * starts (~2 s for 400 MB here), so a fixed bound would fail a sound backup of a large database on a slow host.
 */
export const startTimeoutFor = (snapshotBytes: number): number => 20_000 + Math.ceil((20_000 * snapshotBytes) / 1024 ** 3)

/** Restores `snapshot` into a scratch member and reads it back; removes everything it made before returning. */
export const testRestore = Effect.fn("testRestore")(function* (options: TestRestoreOptions) {
  const fs = yield* FileSystem.FileSystem
  const etcdutl = yield* Etcdutl
  const table = options.operands ?? defaultOperands
  return yield* Effect.scoped(
    Effect.gen(function* () {
      // A --scratch-dir that is not there yet is made, as a work directory is, rather than failing the free-space read.
      yield* makeDirectories(options.scratchDir).pipe(Effect.mapError((e) => new TestRestoreFailed({ stage: "scratch", message: e.message })))
      yield* sweepScratch(options.scratchDir)
      const snapshotBytes = yield* checkScratchRoom(options.scratchDir, options.snapshot)
      const ticks = yield* Effect.promise(() => startTicksOf(process.pid))
      // Acquired first, released last: after the member has stopped. Its name says whose it is, for the sweep.
      const scratch = yield* fs
        .makeTempDirectoryScoped({ directory: options.scratchDir, prefix: ticks === undefined ? scratchPrefix : `${scratchPrefix}p${process.pid}t${ticks}-` })
        .pipe(
          Effect.mapError(
            (e) =>
              new TestRestoreFailed({ stage: "scratch", message: describeFileSystemFailure("make a scratch directory in", options.scratchDir, e).message }),
          ),
        )
      const dataDir = `${scratch}/data`
      yield* etcdutl
        .snapshotRestore({
          snapshot: options.snapshot,
          memberName,
          peerUrl: "http://127.0.0.1:2380",
          clusterToken: memberName,
          dataDir,
          bump: { _tag: "Disabled" },
        })
        .pipe(
          Effect.mapError((e) =>
            e._tag === "EtcdutlFailed" && e.reason === "no-space"
              ? noRoom(options.scratchDir, e.message)
              : new TestRestoreFailed({ stage: "restore", message: e.message }),
          ),
        )
      const member = yield* startLocalEtcd({
        dataDir,
        name: memberName,
        unsafeNoFsync: true,
        quotaBackendBytes,
        startTimeoutMs: startTimeoutFor(snapshotBytes),
        ...(options.etcdBinary === undefined ? {} : { etcdBinary: options.etcdBinary }),
      }).pipe(Effect.mapError((e) => new TestRestoreFailed({ stage: "start", message: e.message })))

      const all = yield* range(member.clientUrl, { key: b64("\u0000"), range_end: b64("\u0000"), count_only: true })
      const revision = Number(all.header.revision ?? "0")
      const keys = Number(all.count ?? "0")
      const operatorRevisions: Partial<Record<OperandName, EtcdOperatorRevision>> = {}
      for (const operand of operandList(table)) {
        const prefix = options.etcdPrefix ?? defaultEtcdPrefix
        const key = operatorCrKeyUnder(prefix)(operand)
        const found = yield* range(member.clientUrl, { key: b64(key), revision: String(revision) })
        const value = found.kvs?.[0]?.value
        operatorRevisions[operand.name] = etcdOperatorRevisionOf(key, found.kvs?.[0] === undefined ? undefined : Buffer.from(value ?? "", "base64"), prefix)
      }
      const etcdPrefix = options.etcdPrefix ?? defaultEtcdPrefix
      const changedAt =
        options.afterStart === undefined
          ? undefined
          : yield* options.afterStart({ clientUrl: member.clientUrl }).pipe(Effect.mapError((e) => readFailed(`the test hook failed: ${String(e)}`)))
      const bundleAt = changedAt ?? options.keyCountsAt
      const bundleKeys = bundleAt === undefined ? undefined : yield* keysUnder(member.clientUrl, `${etcdPrefix}/`, bundleAt)
      const keyCounts = bundleKeys === undefined ? undefined : countKeysByPrefix(bundleKeys, etcdPrefix)
      const sample =
        bundleKeys === undefined || bundleAt === undefined || options.sampleEncrypted !== true
          ? undefined
          : yield* sampleAt(member.clientUrl, bundleKeys, etcdPrefix, bundleAt)
      return {
        revision,
        keys,
        operatorRevisions: operatorRevisions as Record<OperandName, EtcdOperatorRevision>,
        keyCounts,
        sample,
      } satisfies TestRestoreResult
    }),
  )
})
