/**
 * `backup-resources`, one init container per operand: rebuilds revision N of the operand's static
 * pod resources, exactly as the installer lays them out on a control-plane node, from the
 * revisioned ConfigMaps and Secrets `<name>-<N>` of its namespace, into the staging area
 * (`<backup-dir>/.cluster-backup/staging/static-pod-resources/<pod>-<N>/`), and records what it
 * wrote in `resources-<operand>.json` for `backup-create`.
 *
 * Safety: the revision must exist (`revision-status-N`); every required resource must be there
 * (one error names all that are missing); names and keys Kubernetes would refuse never become
 * paths. The tree is written under `building/` and renamed into place only when complete
 * (replacing any earlier attempt for the operand), then the record is written; the record of an
 * earlier run is removed first, so a record always describes a complete tree. Secret values are
 * `Redacted` from the API to the file and never reach logs or errors. The run holds the backup
 * directory's lock (`backup-dir-lock.ts`), which sweeps what killed runs left (`building/`); if it
 * fails or is interrupted, it removes `building/` and this operand's staged trees, so no decoded
 * Secret of its making is left that no record describes.
 */
import { createHash } from "node:crypto"
import { Effect, Exit, FileSystem, Path, Redacted, Result, Schema } from "effect"
import { directoryMode, podDirectory, podDirectoryName, staticPodResourcesDir, validateResourceName, type ResourceKind } from "../../domain/archive-layout.ts"
import type { ManifestEntry, SkippedResource } from "../../domain/backup-manifest.ts"
import { defaultOperands, OperandTableInvalid, type OperandName, type OperandTable } from "../../domain/operands.ts"
import type { Revision } from "../../domain/revisions.ts"
import { Kube } from "../../services/kube/kube.ts"
import { ensurePrivateDirectory, fileError, isRealDirectory, syncDirectory } from "../../services/atomic-files.ts"
import { lockBackupDir } from "../backup-dir/backup-dir-lock.ts"
import { writeResourcesRecord, type ResourcesRecord } from "./resources-record.ts"
import { planRevisionTree, type FetchedResource, type PlannedFile } from "./revision-files.ts"
import { buildingDir, resourcesRecordPath, stagingDir } from "../backup-dir/staging-area.ts"
import { counted } from "../../domain/counted.ts"

export interface BackupResourcesOptions {
  readonly backupDir: string
  readonly operand: OperandName
  readonly revision: Revision
  readonly operands?: OperandTable
  /** API reads in flight at once (default 4). */
  readonly concurrency?: number
}

/** `revision-status-N` is absent: revision N was never created, or has been pruned. */
export class RevisionNotFound extends Schema.TaggedError<RevisionNotFound>()("RevisionNotFound", {
  operand: Schema.String,
  revision: Schema.Number,
  namespace: Schema.String,
  message: Schema.String,
}) {}

/**
 * `revision-status-N` says `operator.openshift.io/revision-ready: "false"`: the revision controller is still copying its
 * ConfigMaps and Secrets (or failed half-way and will copy them again), so they may be incomplete or change.
 */
export class RevisionNotReady extends Schema.TaggedError<RevisionNotReady>()("RevisionNotReady", {
  operand: Schema.String,
  revision: Schema.Number,
  namespace: Schema.String,
  message: Schema.String,
}) {}

/** library-go's revision controller creates `revision-status-N` with this annotation "false" and sets it "true" once every resource is copied. */
const revisionReadyAnnotation = "operator.openshift.io/revision-ready"

/** Required revisioned resources are absent; `missing` names every one (`configmap config-7`). */
export class RevisionResourcesMissing extends Schema.TaggedError<RevisionResourcesMissing>()("RevisionResourcesMissing", {
  operand: Schema.String,
  revision: Schema.Number,
  namespace: Schema.String,
  missing: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/** The API answered a request for one object with another (a broken or hostile API server or proxy). */
export class ApiObjectMismatch extends Schema.TaggedError<ApiObjectMismatch>()("ApiObjectMismatch", {
  /** `configmap openshift-etcd/etcd-pod-3`. */
  requested: Schema.String,
  returned: Schema.String,
  message: Schema.String,
}) {}

/** Refuses an object whose `metadata.name`/`namespace` are not the ones asked for: its content would be staged under the wrong name. */
const requireIdentity =
  (kind: string, namespace: string, name: string) =>
  <A extends { readonly metadata: { readonly name: string; readonly namespace?: string | undefined } }>(obj: A): Effect.Effect<A, ApiObjectMismatch> => {
    if (obj.metadata.name === name && obj.metadata.namespace === namespace) return Effect.succeed(obj)
    const requested = `${kind} ${namespace}/${name}`
    const returned = `${kind} ${obj.metadata.namespace ?? "(no namespace)"}/${obj.metadata.name}`
    return Effect.fail(
      new ApiObjectMismatch({
        requested,
        returned,
        message: `asked the API for ${requested} and it returned ${returned}: the API server, or something between it and this pod, answered with another object; nothing of it was staged. Check the API server and any proxy in between, then run the backup pod again.`,
      }),
    )
  }

interface Listed {
  readonly kind: ResourceKind
  readonly name: string
  readonly optional: boolean
}

const utf8 = new TextEncoder()
const redactAll = (values: Readonly<Record<string, Uint8Array>> | undefined) =>
  Object.fromEntries(Object.entries(values ?? {}).map(([key, bytes]) => [key, Redacted.make(bytes)]))

const describeList = (items: ReadonlyArray<string>) =>
  items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`

/** Creates `path` (it must not exist) with `content` and `mode`, fsynced; returns what the record keeps. */
const writeNewFile = Effect.fnUntraced(function* (path: string, file: PlannedFile, recordPath: string) {
  const fs = yield* FileSystem.FileSystem
  const bytes = Redacted.value(file.content)
  yield* Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* fs.open(path, { flag: "wx", mode: file.mode })
      // The mode given to open is reduced by the umask; the layout's mode is exact.
      yield* fs.chmod(path, file.mode)
      yield* handle.writeAll(bytes)
      yield* handle.sync
    }),
  ).pipe(Effect.mapError(fileError("write", path)))
  return { path: recordPath, size: bytes.length, mode: file.mode, sha256: createHash("sha256").update(bytes).digest("hex") } satisfies ManifestEntry
})

export const backupResources = Effect.fn("backupResources")(function* (options: BackupResourcesOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const kube = yield* Kube
  const table = options.operands ?? defaultOperands
  const operand = table[options.operand]
  const revision = options.revision
  const namespace = operand.namespace
  const backupDir = options.backupDir
  const podDirName = podDirectoryName(operand.name, revision, table)
  const podDir = podDirectory(operand.name, revision, table)

  const listed: ReadonlyArray<Listed> = [
    ...operand.configMaps.map((r) => ({ kind: "configmap" as const, ...r })),
    ...operand.secrets.map((r) => ({ kind: "secret" as const, ...r })),
  ]
  // Names become URL paths before they become file paths: refuse a bad table before any request.
  for (const r of listed) {
    const valid = validateResourceName(r.name, revision)
    if (Result.isFailure(valid)) {
      return yield* new OperandTableInvalid({ operand: operand.name, message: `the operand table's ${r.kind} for ${operand.name}: ${valid.failure.message}` })
    }
  }

  yield* lockBackupDir(backupDir, "backup-resources")
  const building = buildingDir(path, backupDir)
  const staging = stagingDir(path, backupDir)
  const published = path.join(staging, staticPodResourcesDir)
  const ownEntry = new RegExp(`^${operand.podConfigMap.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-[0-9]+($|\\.)`)
  // building/ holds only this run's trees (the lock swept the rest): it goes however the run
  // ends. Unless the record gets written, this operand's staged trees go too: none describes them.
  yield* Effect.addFinalizer((exit) =>
    Effect.gen(function* () {
      // Never through a link planted at staging/: what it points to is not this run's.
      const own =
        Exit.isFailure(exit) &&
        (yield* isRealDirectory(staging).pipe(Effect.orElseSucceed(() => false))) &&
        (yield* isRealDirectory(published).pipe(Effect.orElseSucceed(() => false)))
      const names = own ? yield* fs.readDirectory(published).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => [])) : []
      for (const target of [building, ...names.filter((n) => ownEntry.test(n)).map((n) => path.join(published, n))]) {
        yield* fs.remove(target, { recursive: true, force: true }).pipe(Effect.ignore)
      }
    }),
  )
  const recordPath = resourcesRecordPath(path, backupDir, operand.name)
  // A record left by an earlier run must not outlive a failure of this one.
  yield* fs.remove(recordPath, { force: true }).pipe(Effect.mapError(fileError("remove the old record", recordPath)))

  const statusName = `revision-status-${revision}`
  yield* kube.configMaps.get(namespace, statusName).pipe(
    Effect.flatMap(requireIdentity("configmap", namespace, statusName)),
    Effect.catchTag("NotFound", () =>
      Effect.fail(
        new RevisionNotFound({
          operand: operand.name,
          revision,
          namespace,
          message:
            `revision ${revision} of ${operand.name} does not exist: ConfigMap ${namespace}/${statusName} was not found ` +
            `(the revision was never created, or has been pruned). Back up a revision that exists: oc get ${operand.plural}.operator.openshift.io/cluster -o jsonpath='{.status.latestAvailableRevision}'.`,
        }),
      ),
    ),
    // No annotation: a cluster whose revision controller predates it, where a revision exists only once complete.
    Effect.filterOrFail(
      (status) => status.metadata.annotations?.[revisionReadyAnnotation] !== "false",
      () =>
        new RevisionNotReady({
          operand: operand.name,
          revision,
          namespace,
          message:
            `revision ${revision} of ${operand.name} is not ready: ConfigMap ${namespace}/${statusName} says ${revisionReadyAnnotation}: "false" ` +
            `(the revision controller is still copying its ConfigMaps and Secrets, or failed half-way), so they may be incomplete. ` +
            `Back up a ready revision: oc get ${operand.plural}.operator.openshift.io/cluster -o jsonpath='{.status.latestAvailableRevision}'.`,
        }),
    ),
  )

  const fetchOne = (r: Listed) => {
    const name = `${r.name}-${revision}`
    const read =
      r.kind === "configmap"
        ? Effect.map(
            Effect.flatMap(kube.configMaps.get(namespace, name), requireIdentity("configmap", namespace, name)),
            (cm): FetchedResource => ({
              kind: r.kind,
              name: r.name,
              data: Object.fromEntries(Object.entries(cm.data ?? {}).map(([key, text]) => [key, Redacted.make(utf8.encode(text))])),
              binaryData: redactAll(cm.binaryData),
            }),
          )
        : Effect.map(
            Effect.flatMap(kube.secrets.get(namespace, name), requireIdentity("secret", namespace, name)),
            (secret): FetchedResource => ({ kind: r.kind, name: r.name, data: { ...secret.data } }),
          )
    return read.pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
  }
  const fetched = yield* Effect.forEach(listed, (r) => Effect.map(fetchOne(r), (found) => ({ listed: r, found })), {
    concurrency: options.concurrency ?? 4,
  })

  const missingRequired = fetched.filter((f) => f.found === undefined && !f.listed.optional).map((f) => `${f.listed.kind} ${f.listed.name}-${revision}`)
  if (missingRequired.length > 0) {
    return yield* new RevisionResourcesMissing({
      operand: operand.name,
      revision,
      namespace,
      missing: missingRequired,
      message:
        `revision ${revision} of ${operand.name} is incomplete: required ${describeList(missingRequired)} ${missingRequired.length === 1 ? "is" : "are"} missing from namespace ${namespace}. ` +
        `The revision is being pruned or is damaged; back up a newer revision (or check the operand table if this OpenShift release names its resources differently).`,
    })
  }
  const skippedOptional: ReadonlyArray<SkippedResource> = fetched
    .filter((f) => f.found === undefined)
    .map((f) => ({ operand: operand.name, kind: f.listed.kind, name: f.listed.name }))
  for (const s of skippedOptional)
    yield* Effect.logInfo(`optional ${s.kind} ${s.name}-${revision} is not part of revision ${revision} of ${operand.name}: skipped`)

  const tree = yield* Effect.fromResult(
    planRevisionTree(
      operand.name,
      revision,
      fetched.flatMap((f) => (f.found === undefined ? [] : [f.found])),
      table,
    ),
  )

  // Write the tree under building/, then publish it into staging/ in one rename.
  yield* ensurePrivateDirectory(building)
  const temp = yield* fs
    .makeTempDirectory({ directory: building, prefix: `${podDirName}.` })
    .pipe(Effect.mapError(fileError("create a directory in", building)))
  const files = yield* Effect.gen(function* () {
    const local = (relative: string) => (relative === podDir ? temp : path.join(temp, relative.slice(podDir.length + 1)))
    yield* fs.chmod(temp, directoryMode).pipe(Effect.mapError(fileError("set the mode of", temp)))
    for (const dir of tree.directories) {
      if (dir === podDir) continue
      yield* fs.makeDirectory(local(dir), { mode: directoryMode }).pipe(Effect.mapError(fileError("create directory", local(dir))))
      yield* fs.chmod(local(dir), directoryMode).pipe(Effect.mapError(fileError("set the mode of", local(dir))))
    }
    const written: Array<ManifestEntry> = []
    for (const file of tree.files) written.push(yield* writeNewFile(local(file.path), file, file.path))
    for (const dir of [...tree.directories].reverse()) yield* syncDirectory(local(dir))

    yield* ensurePrivateDirectory(staging)
    yield* ensurePrivateDirectory(published)
    const existing = yield* fs.readDirectory(published).pipe(Effect.mapError(fileError("list", published)))
    const replaced: Array<string> = []
    for (const name of existing.filter((n) => ownEntry.test(n))) {
      // An earlier attempt for this operand (this or another revision) gives way to this one.
      const aside = `${temp}.replaced-${name}`
      yield* fs.rename(path.join(published, name), aside).pipe(Effect.mapError(fileError("move aside", path.join(published, name))))
      replaced.push(aside)
    }
    const target = path.join(published, podDirName)
    yield* fs.rename(temp, target).pipe(Effect.mapError(fileError("rename into place", target)))
    yield* syncDirectory(published)
    yield* syncDirectory(building)
    for (const aside of replaced) yield* fs.remove(aside, { recursive: true }).pipe(Effect.mapError(fileError("remove", aside)))
    return written
  }).pipe(Effect.onError(() => fs.remove(temp, { recursive: true, force: true }).pipe(Effect.ignore)))

  const record: ResourcesRecord = { operand: operand.name, revision, namespace, directory: podDir, files, skippedOptional }
  yield* writeResourcesRecord(backupDir, record, table)
  const bytes = files.reduce((sum, f) => sum + f.size, 0)
  const count = (kind: ResourceKind) => fetched.filter((f) => f.found !== undefined && f.listed.kind === kind).length
  yield* Effect.logInfo(
    `${operand.name} revision ${revision}: ${counted(files.length, "file")} (${bytes} bytes) from ${counted(count("configmap"), "ConfigMap")} and ${counted(count("secret"), "Secret")} of ${namespace} ` +
      `staged as ${podDir}${skippedOptional.length === 0 ? "" : `; ${counted(skippedOptional.length, "optional resource")} absent`}`,
  )
  return record
}, Effect.scoped)
