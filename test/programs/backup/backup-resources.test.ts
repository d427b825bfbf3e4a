/** backup-resources against the OpenShift fixtures in a simulated cluster: the staged tree, the record, every refusal. */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Result } from "effect"
import { operandList, type OperandName } from "../../../src/domain/operands.ts"
import { backupResources } from "../../../src/programs/backup/backup-resources.ts"
import { decodeResourcesRecord } from "../../../src/programs/backup/resources-record.ts"
import { Kube } from "../../../src/services/kube/kube.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { configMapType, secretType } from "../../../src/services/kube/resources.ts"
import { simulatedTransport } from "../../../src/simulation/simulated-transport.ts"
import type { SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { absentOptionals, captureLogs, installerFiles, loadedCluster, revisions, sha256, walk, type Loaded } from "./backup-resources-harness.ts"
import { scopedTempDir } from "../../support/temp-dir.ts"

const staged = (backupDir: string) => join(backupDir, ".cluster-backup", "staging")
const recordFile = (backupDir: string, operand: OperandName) => join(backupDir, ".cluster-backup", `resources-${operand}.json`)

const run = (backupDir: string, kube: Layer.Layer<Kube>, operand: OperandName, revision: number = revisions[operand]) =>
  Effect.exit(backupResources({ backupDir, operand, revision }).pipe(Effect.provide(Layer.merge(kube, NodeServices.layer))))

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "expected backup-resources to fail")
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(reason, "expected a typed failure")
  return (reason as { error: E & { _tag: string; message: string } }).error
}

/** Nothing under a final name: no staged directory of the operand, no record, nothing left in building/. */
/** backup-resources for `operand` on the simulated `cluster`, in a fresh backup directory: its typed failure, once nothing of the operand is staged. */
const refusal = (cluster: SimulatedCluster, operand: OperandName) =>
  Effect.gen(function* () {
    const backupDir = join(yield* scopedTempDir("res"), "backup")
    const error = failureOf(yield* run(backupDir, SimulatedKube.inMemory(cluster), operand))
    assertNothingStaged(backupDir, operand)
    return error
  })

const assertNothingStaged = (backupDir: string, operand: OperandName) => {
  const spr = join(staged(backupDir), "static-pod-resources")
  const own = existsSync(spr) ? [...walk(spr).keys()].filter((p) => p.startsWith(`${operandList().find((o) => o.name === operand)!.podConfigMap}-`)) : []
  assert.deepStrictEqual(own, [])
  assert.isFalse(existsSync(recordFile(backupDir, operand)))
  const building = join(backupDir, ".cluster-backup", "building")
  assert.deepStrictEqual(existsSync(building) ? [...walk(building).keys()] : [], [])
}

const replaceObject = (cluster: SimulatedCluster, type: typeof configMapType, obj: Record<string, unknown>) => {
  const done = cluster.replace(type, obj)
  if (Result.isFailure(done)) throw new Error(done.failure.message)
}
const removeObject = (cluster: SimulatedCluster, type: typeof configMapType, namespace: string, name: string) => {
  const done = cluster.remove(type, namespace, name)
  if (Result.isFailure(done)) throw new Error(done.failure.message)
}

describe("backup-resources (simulated cluster, OpenShift fixtures)", () => {
  it.effect("stages each operand's revision byte for byte with the installer's paths and modes, and records every file", () =>
    Effect.gen(function* () {
      const { cluster, fixture }: Loaded = loadedCluster()
      const backupDir = join(yield* scopedTempDir("res"), "backup")
      const kube = SimulatedKube.inMemory(cluster)
      for (const o of operandList()) {
        const exit = yield* run(backupDir, kube, o.name)
        assert.isTrue(Exit.isSuccess(exit), `backup-resources ${o.name}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
      }
      const tree = walk(staged(backupDir))
      for (const o of operandList()) {
        const expected = installerFiles(fixture, o.name, revisions[o.name])
        const podDir = `static-pod-resources/${o.podConfigMap}-${revisions[o.name]}`
        const files = [...tree].filter(([p, e]) => e.kind === "file" && p.startsWith(`${podDir}/`))
        assert.deepStrictEqual(files.map(([p]) => p).sort(), [...expected.keys()].sort(), `files of ${o.name}`)
        for (const [p, entry] of files) {
          assert.isTrue(entry.bytes!.equals(expected.get(p)!.bytes), `content of ${p}`)
          assert.strictEqual(entry.mode, expected.get(p)!.mode, `mode of ${p}`)
        }
        // The record says exactly what is on disk.
        const file = recordFile(backupDir, o.name)
        const record = decodeResourcesRecord(readFileSync(file, "utf8"), file)
        assert.isTrue(Result.isSuccess(record))
        if (Result.isFailure(record)) return
        assert.strictEqual(record.success.revision, revisions[o.name])
        assert.strictEqual(record.success.directory, podDir)
        assert.deepStrictEqual(
          record.success.files,
          files.map(([p, e]) => ({ path: p, size: e.bytes!.length, mode: e.mode, sha256: sha256(e.bytes!) })).sort((a, b) => (a.path < b.path ? -1 : 1)),
        )
        assert.deepStrictEqual(record.success.skippedOptional, absentOptionals(fixture, o.name, revisions[o.name]))
      }
      // Only the four revision directories, every directory 0700; a script is executable.
      assert.deepStrictEqual(
        [...tree.keys()].filter((p) => p.split("/").length === 2).sort(),
        operandList()
          .map((o) => `static-pod-resources/${o.podConfigMap}-${revisions[o.name]}`)
          .sort(),
      )
      for (const [p, e] of tree) if (e.kind === "directory") assert.strictEqual(e.mode, 0o700, `mode of ${p}/`)
      assert.strictEqual(tree.get("static-pod-resources/etcd-pod-3/configmaps/etcd-pod/etcd-prestart.sh")?.mode, 0o755)
      assert.isFalse(existsSync(join(backupDir, ".cluster-backup", "building")) && walk(join(backupDir, ".cluster-backup", "building")).size > 0)
    }),
  )

  it.effect("writes binaryData as bytes and a Secret's .sh key as 0700", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const ns = "openshift-etcd"
      const secret = cluster.get(secretType, ns, "etcd-all-certs-3")!
      const script = "#!/bin/sh\necho rotate\n"
      replaceObject(cluster, secretType, { ...secret, data: { ...(secret.data as object), "rotate.sh": Buffer.from(script).toString("base64") } })
      const binary = Buffer.from([0, 255, 1, 254, 10, 13, 0])
      const bundles = cluster.get(configMapType, ns, "etcd-all-bundles-3")!
      replaceObject(cluster, configMapType, { ...bundles, binaryData: { "raw.bin": binary.toString("base64") } })
      const backupDir = join(yield* scopedTempDir("res"), "backup")
      const exit = yield* run(backupDir, SimulatedKube.inMemory(cluster), "etcd")
      assert.isTrue(Exit.isSuccess(exit))
      const tree = walk(staged(backupDir))
      const scriptEntry = tree.get("static-pod-resources/etcd-pod-3/secrets/etcd-all-certs/rotate.sh")
      assert.strictEqual(scriptEntry?.mode, 0o700)
      assert.strictEqual(scriptEntry?.bytes?.toString("utf8"), script)
      assert.isTrue(tree.get("static-pod-resources/etcd-pod-3/configmaps/etcd-all-bundles/raw.bin")?.bytes?.equals(binary))
    }),
  )

  it.effect("fails naming revision-status-N when the revision does not exist or was pruned, and stages nothing", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster({ keepRevisions: 2 })
      const backupDir = join(yield* scopedTempDir("res"), "backup")
      for (const revision of [99, 1]) {
        const error = failureOf(yield* run(backupDir, SimulatedKube.inMemory(cluster), "kube-apiserver", revision))
        assert.strictEqual(error._tag, "RevisionNotFound")
        assert.include(error.message, `ConfigMap openshift-kube-apiserver/revision-status-${revision} was not found`)
        assert.include(error.message, `revision ${revision} of kube-apiserver does not exist`)
        assertNothingStaged(backupDir, "kube-apiserver")
      }
    }),
  )

  it.effect("refuses a revision the revision controller has not finished (revision-ready: false), and stages nothing", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const ns = "openshift-kube-apiserver"
      const name = `revision-status-${revisions["kube-apiserver"]}`
      const status = cluster.get(configMapType, ns, name)!
      const metadata = status.metadata as { annotations?: Record<string, string> }
      replaceObject(cluster, configMapType, {
        ...status,
        metadata: { ...metadata, annotations: { ...metadata.annotations, "operator.openshift.io/revision-ready": "false" } },
      })
      const error = yield* refusal(cluster, "kube-apiserver")
      assert.strictEqual(error._tag, "RevisionNotReady")
      assert.include(error.message, `ConfigMap ${ns}/${name} says operator.openshift.io/revision-ready: "false"`)
      // Without the annotation (an older revision controller) the revision is taken as it is.
      const { annotations: _, ...bare } = metadata
      replaceObject(cluster, configMapType, { ...status, metadata: bare })
      const backupDir = join(yield* scopedTempDir("res"), "backup")
      assert.isTrue(Exit.isSuccess(yield* run(backupDir, SimulatedKube.inMemory(cluster), "kube-apiserver")))
    }),
  )

  it.effect("refuses a staging area that is a symbolic link: no decoded Secret is written, or removed, where it points", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const root = yield* scopedTempDir("res")
      const backupDir = join(root, "backup")
      const outside = join(root, "outside")
      // What a link's target already holds, named like a staged tree: the failed run's cleanup must not take it.
      mkdirSync(join(outside, "static-pod-resources", `etcd-pod-${revisions.etcd}`), { recursive: true })
      writeFileSync(join(outside, "static-pod-resources", `etcd-pod-${revisions.etcd}`, "theirs"), "x")
      mkdirSync(join(backupDir, ".cluster-backup"), { recursive: true, mode: 0o700 })
      symlinkSync(outside, staged(backupDir))
      const error = failureOf(yield* run(backupDir, SimulatedKube.inMemory(cluster), "etcd"))
      assert.strictEqual(error._tag, "BackupFileError")
      assert.include(error.message, "is not a directory of its own (a symbolic link?)")
      assert.deepStrictEqual(
        [...walk(outside).keys()],
        ["static-pod-resources", `static-pod-resources/etcd-pod-${revisions.etcd}`, `static-pod-resources/etcd-pod-${revisions.etcd}/theirs`],
      )
      assert.isFalse(existsSync(recordFile(backupDir, "etcd")))
    }),
  )

  it.effect("fails with the names of all missing required resources in one error, and stages nothing", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const ns = "openshift-kube-apiserver"
      removeObject(cluster, configMapType, ns, "config-7")
      removeObject(cluster, configMapType, ns, "etcd-serving-ca-7")
      removeObject(cluster, secretType, ns, "etcd-client-7")
      const backupDir = join(yield* scopedTempDir("res"), "backup")
      const error = failureOf(yield* run(backupDir, SimulatedKube.inMemory(cluster), "kube-apiserver"))
      assert.strictEqual(error._tag, "RevisionResourcesMissing")
      assert.deepStrictEqual((error as unknown as { missing: ReadonlyArray<string> }).missing, [
        "configmap config-7",
        "configmap etcd-serving-ca-7",
        "secret etcd-client-7",
      ])
      assert.include(
        error.message,
        "required configmap config-7, configmap etcd-serving-ca-7 and secret etcd-client-7 are missing from namespace openshift-kube-apiserver",
      )
      assertNothingStaged(backupDir, "kube-apiserver")
    }),
  )

  it.effect("skips a missing optional resource and records it", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster({ optionalResources: "all" })
      removeObject(cluster, secretType, "openshift-kube-apiserver", "encryption-config-7")
      const backupDir = join(yield* scopedTempDir("res"), "backup")
      const exit = yield* run(backupDir, SimulatedKube.inMemory(cluster), "kube-apiserver")
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(exit.value.skippedOptional, [{ operand: "kube-apiserver", kind: "secret", name: "encryption-config" }])
      assert.isFalse(existsSync(join(staged(backupDir), "static-pod-resources/kube-apiserver-pod-7/secrets/encryption-config")))
      assert.isTrue(existsSync(join(staged(backupDir), "static-pod-resources/kube-apiserver-pod-7/secrets/webhook-authenticator")))
    }),
  )

  it.effect(
    "a rerun replaces an earlier attempt of the operand (any revision), leaves other operands' staged trees alone and sweeps every killed run's building/ tree",
    () =>
      Effect.gen(function* () {
        const { cluster, fixture } = loadedCluster()
        const backupDir = join(yield* scopedTempDir("res"), "backup")
        const spr = join(staged(backupDir), "static-pod-resources")
        mkdirSync(join(spr, "kube-scheduler-pod-6", "configmaps", "config"), { recursive: true })
        writeFileSync(join(spr, "kube-scheduler-pod-6", "configmaps", "config", "stale.yaml"), "stale")
        mkdirSync(join(spr, "kube-scheduler-pod-5"), { recursive: true })
        mkdirSync(join(spr, "etcd-pod-3"), { recursive: true })
        writeFileSync(join(spr, "etcd-pod-3", "keep"), "other operand")
        const building = join(backupDir, ".cluster-backup", "building")
        mkdirSync(join(building, "kube-scheduler-pod-6.x1y2z3"), { recursive: true })
        writeFileSync(join(building, "kube-scheduler-pod-6.x1y2z3", "half"), "interrupted")
        // A killed run of another operand left its decoded Secrets: no run of that operand may follow.
        mkdirSync(join(building, "etcd-pod-3.q1w2e3", "secrets", "etcd-all-certs"), { recursive: true })
        writeFileSync(join(building, "etcd-pod-3.q1w2e3", "secrets", "etcd-all-certs", "tls.key"), "decoded")

        const exit = yield* run(backupDir, SimulatedKube.inMemory(cluster), "kube-scheduler")
        assert.isTrue(Exit.isSuccess(exit))
        const tree = walk(spr)
        const scheduler = [...tree].filter(([p, e]) => p.startsWith("kube-scheduler-pod-") && e.kind === "file").map(([p]) => `static-pod-resources/${p}`)
        assert.deepStrictEqual(scheduler.sort(), [...installerFiles(fixture, "kube-scheduler", 6).keys()].sort())
        assert.isFalse(tree.has("kube-scheduler-pod-5"))
        assert.strictEqual(tree.get("etcd-pod-3/keep")?.bytes?.toString(), "other operand")
        assert.isFalse(existsSync(building))
      }),
  )

  it.live(
    "interrupted while reading the API, it leaves nothing of its operand (an earlier attempt's tree no record describes goes), other operands' trees stay, the lock is released",
    () =>
      Effect.gen(function* () {
        const { cluster } = loadedCluster()
        const backupDir = join(yield* scopedTempDir("res"), "backup")
        const spr = join(staged(backupDir), "static-pod-resources")
        mkdirSync(join(spr, "kube-scheduler-pod-5", "secrets", "kube-scheduler-client-cert-key"), { recursive: true })
        writeFileSync(join(spr, "kube-scheduler-pod-5", "secrets", "kube-scheduler-client-cert-key", "tls.key"), "decoded")
        mkdirSync(join(spr, "etcd-pod-3"), { recursive: true })
        writeFileSync(join(spr, "etcd-pod-3", "keep"), "other operand")
        // Secrets never arrive: the run waits in the middle until it is interrupted.
        const stalled = Layer.effect(
          Kube,
          Effect.gen(function* () {
            const kube = yield* Kube
            return { ...kube, secrets: { ...kube.secrets, get: () => Effect.never } }
          }),
        ).pipe(Layer.provide(SimulatedKube.inMemory(cluster)))
        const fiber = yield* Effect.forkChild(run(backupDir, stalled, "kube-scheduler"))
        const lock = join(backupDir, ".cluster-backup", "run.lock")
        for (let i = 0; i < 500 && !existsSync(lock); i++) yield* Effect.sleep(10)
        assert.isTrue(existsSync(lock), "the run should hold the lock")
        yield* Effect.sleep(50)
        yield* Fiber.interrupt(fiber)
        assertNothingStaged(backupDir, "kube-scheduler")
        assert.isFalse(existsSync(lock))
        assert.strictEqual(readFileSync(join(spr, "etcd-pod-3", "keep"), "utf8"), "other operand")
      }),
  )

  it.effect("refuses a data key Kubernetes would refuse, and stages nothing", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      // The simulated API accepts "..data" (a valid config-key pattern); Kubernetes does not.
      const cm = cluster.get(configMapType, "openshift-kube-scheduler", "config-6")!
      replaceObject(cluster, configMapType, { ...cm, data: { ...(cm.data as object), "..data": "x" } })
      const error = yield* refusal(cluster, "kube-scheduler")
      assert.strictEqual(error._tag, "RevisionContentRefused")
      assert.include(error.message, 'configmap openshift-kube-scheduler/config-6 cannot be backed up: data key "..data"')
    }),
  )

  it.effect("refuses a key that would escape the layout even if an API server sent it", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const inner = simulatedTransport(cluster)
      const hostile = Kube.fromTransport({
        ...inner,
        request: (request) =>
          Effect.map(inner.request(request), (body) =>
            request.name === "localhost-recovery-client-token-6"
              ? { ...(body as object), data: { "../../../../escape": Buffer.from("x").toString("base64") } }
              : body,
          ),
      })
      const dir = yield* scopedTempDir("res")
      const backupDir = join(dir, "backup")
      const error = failureOf(yield* run(backupDir, hostile, "kube-scheduler"))
      assert.strictEqual(error._tag, "RevisionContentRefused")
      assert.include(error.message, "secret openshift-kube-scheduler/localhost-recovery-client-token-6")
      assert.isFalse(existsSync(join(dir, "escape")) || existsSync(join(backupDir, "escape")))
      assertNothingStaged(backupDir, "kube-scheduler")
    }),
  )

  it.effect("fails when the pod ConfigMap has no pod.yaml", () =>
    Effect.gen(function* () {
      const { cluster } = loadedCluster()
      const pod = cluster.get(configMapType, "openshift-etcd", "etcd-pod-3")!
      const { "pod.yaml": _manifest, ...rest } = pod.data as Record<string, string>
      replaceObject(cluster, configMapType, { ...pod, data: rest })
      const error = yield* refusal(cluster, "etcd")
      assert.strictEqual(error._tag, "PodManifestMissing")
      assert.include(error.message, 'ConfigMap openshift-etcd/etcd-pod-3 has no "pod.yaml" key')
    }),
  )

  it.effect("never shows a Secret value in logs or errors", () =>
    Effect.gen(function* () {
      const { cluster, fixture } = loadedCluster({ optionalResources: "all" })
      // Distinctive pieces of every long Secret value (short ones such as a namespace name are not secrets).
      const secretTexts = fixture.state.secrets.flatMap((s) =>
        Object.values((s.data ?? {}) as Record<string, string>)
          .flatMap((b64) => [b64, Buffer.from(b64, "base64").toString("utf8")])
          .filter((v) => v.length >= 40)
          .map((v) => v.slice(Math.floor(v.length / 2), Math.floor(v.length / 2) + 24)),
      )
      assert.isAbove(secretTexts.length, 10)
      const lines: Array<string> = []
      const backupDir = join(yield* scopedTempDir("res"), "backup")
      const logged = Layer.merge(SimulatedKube.inMemory(cluster), captureLogs(lines))
      const ok = yield* run(backupDir, logged, "kube-apiserver")
      assert.isTrue(Exit.isSuccess(ok))
      // A failure about a Secret (bad key) must not quote its values either.
      const secret = cluster.get(secretType, "openshift-kube-apiserver", "etcd-client-7")!
      replaceObject(cluster, secretType, { ...secret, data: { ...(secret.data as object), "..bad": Buffer.from("hunter2-secret").toString("base64") } })
      const failed = yield* run(backupDir, logged, "kube-apiserver")
      const text = [...lines, String(Exit.isFailure(failed) ? failed.cause : ""), JSON.stringify(Exit.isFailure(failed) ? failureOf(failed) : {})].join("\n")
      assert.include(text, "etcd-client-7")
      for (const value of [...secretTexts, "hunter2-secret"]) assert.notInclude(text, value)
      assert.isAbove(lines.length, 0)
    }),
  )
})
