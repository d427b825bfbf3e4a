/**
 * A kubelet for one machine, as far as the demo needs one: it takes the backup pod exactly as
 * rendered, materialises its volumes from the cluster's Secret and ConfigMap (an emptyDir is a
 * directory), and runs the containers' commands as local processes, in order, with every path
 * under a mount point mapped onto that volume's directory. Only the etcd Service's address is
 * replaced (there is no cluster DNS here); everything else runs as written. As a kubelet does, it
 * gives each container a file at its terminationMessagePath and reports what the container wrote
 * there as that container's termination message (a policy pod's backup-upload report).
 */
import { dirname, join } from "node:path"
import { Effect, FileSystem, Redacted, Result, Schema, Stream } from "effect"
import { ChildProcess } from "effect/process"
import { decodeVolumeSizeLimits, encodeVolumeSizeLimits, volumeSizeLimitsEnv } from "../../domain/volume-size-limits.ts"
import { parseYamlText } from "../../domain/yaml-text.ts"
import { Kube } from "../../services/kube/kube.ts"
import { configMapBytes } from "../../services/kube/schemas.ts"
import type { PodOutcome } from "../../simulation/simulated-kubelet.ts"
import { isWithin } from "../../domain/path-inside.ts"

const Mount = Schema.Struct({ name: Schema.String, mountPath: Schema.String, readOnly: Schema.optionalKey(Schema.Boolean) })
const Container = Schema.Struct({
  name: Schema.String,
  command: Schema.Array(Schema.String),
  env: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        value: Schema.optionalKey(Schema.String),
        valueFrom: Schema.optionalKey(Schema.Struct({ secretKeyRef: Schema.Struct({ name: Schema.String, key: Schema.String }) })),
      }),
    ),
  ),
  volumeMounts: Schema.optionalKey(Schema.Array(Mount)),
  terminationMessagePath: Schema.optionalKey(Schema.String),
})
export type RunnableContainer = typeof Container.Type

/** Where a container writes its termination message unless its spec says otherwise (the Kubernetes default). */
export const defaultTerminationMessagePath = "/dev/termination-log"

/**
 * The container's view of paths mapped onto this machine: a path under a mount point lands in that
 * volume's directory, and the terminationMessagePath, with `terminationFile`, on that file.
 */
const pathMapper = (container: RunnableContainer, volumeDirs: ReadonlyMap<string, string>, terminationFile: string | undefined) => {
  const mounts = (container.volumeMounts ?? [])
    .map((m) => ({ path: m.mountPath.replace(/\/$/, ""), dir: volumeDirs.get(m.name) }))
    .concat(terminationFile === undefined ? [] : [{ path: container.terminationMessagePath ?? defaultTerminationMessagePath, dir: terminationFile }])
    .filter((m): m is { path: string; dir: string } => m.dir !== undefined)
    .sort((a, b) => b.path.length - a.path.length)
  return (arg: string) => {
    const m = mounts.find((x) => isWithin(x.path, arg))
    return m === undefined ? arg : m.dir + arg.slice(m.path.length)
  }
}

/**
 * A container's environment as the kubelet gives it: a literal value that is a path under a mount point mapped as
 * `localArgs` maps arguments, a Secret's key from `fromSecrets` (`secretEnv`).
 */
export const containerEnv = (
  container: RunnableContainer,
  volumeDirs: ReadonlyMap<string, string> = new Map(),
  terminationFile?: string,
  fromSecrets: Readonly<Record<string, string>> = {},
): Record<string, string> => {
  const mapPath = pathMapper(container, volumeDirs, terminationFile)
  return Object.fromEntries(
    (container.env ?? []).flatMap((e) =>
      e.value !== undefined
        ? [[e.name, e.name === volumeSizeLimitsEnv ? localVolumeSizeLimits(e.value, mapPath) : mapPath(e.value)]]
        : fromSecrets[e.name] === undefined
          ? []
          : [[e.name, fromSecrets[e.name]]],
    ),
  )
}

/**
 * The size limits' mount paths mapped onto the volumes' directories here. A mount without a directory here is
 * dropped: left as written, `/tmp`'s limit would cap every path under this machine's /tmp.
 */
export const localVolumeSizeLimits = (value: string, mapPath: (path: string) => string): string => {
  const limits = decodeVolumeSizeLimits(value)
  if (Result.isFailure(limits)) return value
  return encodeVolumeSizeLimits(
    Object.fromEntries(Object.entries(limits.success).flatMap(([path, bytes]) => (mapPath(path) === path ? [] : [[mapPath(path), bytes] as const]))),
  )
}
// As the API server validates it: a file inside the volume, never absolute nor climbing out with `..`.
const ItemPath = Schema.String.check(
  Schema.isPattern(/^(?!\/)(?!(?:.*\/)?\.\.(?:\/|$)).+$/, { expected: "a relative path inside the volume, without a '..' segment" }),
)
const KeyToPath = Schema.Struct({ key: Schema.String, path: ItemPath })
const Volume = Schema.Struct({
  name: Schema.String,
  emptyDir: Schema.optionalKey(Schema.Unknown),
  secret: Schema.optionalKey(Schema.Struct({ secretName: Schema.String, items: Schema.optionalKey(Schema.Array(KeyToPath)) })),
  configMap: Schema.optionalKey(Schema.Struct({ name: Schema.String, items: Schema.optionalKey(Schema.Array(KeyToPath)) })),
})
const RunnablePod = Schema.Struct({
  metadata: Schema.Struct({ namespace: Schema.String, name: Schema.optionalKey(Schema.String) }),
  spec: Schema.Struct({
    initContainers: Schema.Array(Container),
    containers: Schema.Array(Container),
    volumes: Schema.Array(Volume),
  }),
})
export type RunnablePod = typeof RunnablePod.Type

export class LocalPodFailed extends Schema.TaggedError<LocalPodFailed>()("LocalPodFailed", {
  container: Schema.String,
  exitCode: Schema.Number,
  message: Schema.String,
}) {}

const cannotRun = (message: string) => new LocalPodFailed({ container: "", exitCode: -1, message: `the rendered pod cannot be run: ${message}` })

/** What a kubelet reports as FailedMount and waits on: here the pod ends before any container ran. */
const cannotMount = (volume: string, message: string) =>
  new LocalPodFailed({
    container: "",
    exitCode: -1,
    message: `the pod cannot start: volume ${volume}: ${message} (a kubelet keeps the pod waiting until it is there)`,
  })

/** The files a Secret or ConfigMap volume holds: every key, or exactly `items` (each at its path), a missing one refused. */
const volumeFiles = (
  volume: string,
  what: string,
  entries: ReadonlyMap<string, Uint8Array>,
  items: ReadonlyArray<{ readonly key: string; readonly path: string }> | undefined,
): Result.Result<ReadonlyArray<readonly [string, Uint8Array]>, LocalPodFailed> => {
  if (items === undefined) return Result.succeed([...entries])
  const missing = items.filter((i) => !entries.has(i.key)).map((i) => i.key)
  return missing.length > 0
    ? Result.fail(cannotMount(volume, `${what} has no key ${missing.join(", ")}`))
    : Result.succeed(items.map((i) => [i.path, entries.get(i.key)!] as const))
}

/** The pod as the API server holds it (a pod the operator created). */
export const decodeRunnablePodObject = (object: unknown): Result.Result<RunnablePod, LocalPodFailed> =>
  Result.mapError(Schema.decodeUnknownResult(RunnablePod)(object), (e) => cannotRun(e.message))

/** The pod from its YAML (what `oc create -f -` would read). */
export const decodeRunnablePod = (yaml: string): Result.Result<RunnablePod, LocalPodFailed> => {
  const parsed = parseYamlText(yaml)
  return Result.isFailure(parsed) ? Result.fail(cannotRun(parsed.failure.message)) : decodeRunnablePodObject(parsed.success)
}

/**
 * Creates each volume's directory under `dir` and fills Secret and ConfigMap volumes from the cluster; a volume named in
 * `existing` is that directory instead (the demo's backup directory).
 */
export const materializeVolumes = Effect.fn("materializeVolumes")(function* (pod: RunnablePod, dir: string, existing: ReadonlyMap<string, string> = new Map()) {
  const kube = yield* Kube
  const fs = yield* FileSystem.FileSystem
  const dirs = new Map<string, string>(existing)
  const ns = pod.metadata.namespace
  for (const volume of pod.spec.volumes) {
    if (existing.has(volume.name)) continue
    const target = join(dir, volume.name)
    yield* fs.makeDirectory(target, { recursive: true, mode: 0o700 }).pipe(Effect.orDie)
    const source =
      volume.secret !== undefined
        ? {
            what: `Secret ${volume.secret.secretName} in ${ns}`,
            items: volume.secret.items,
            entries: kube.secrets
              .get(ns, volume.secret.secretName)
              .pipe(Effect.map((secret) => new Map(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Redacted.value(value)])))),
          }
        : volume.configMap !== undefined
          ? {
              what: `ConfigMap ${volume.configMap.name} in ${ns}`,
              items: volume.configMap.items,
              entries: kube.configMaps
                .get(ns, volume.configMap.name)
                .pipe(
                  Effect.map(
                    (cm) => new Map([...Object.keys(cm.data ?? {}), ...Object.keys(cm.binaryData ?? {})].map((key) => [key, configMapBytes(cm, key)!])),
                  ),
                ),
            }
          : undefined
    const files =
      source === undefined
        ? []
        : yield* source.entries.pipe(
            Effect.catchTag("NotFound", () => Effect.fail(cannotMount(volume.name, `${source.what} does not exist`))),
            Effect.flatMap((entries) => Effect.fromResult(volumeFiles(volume.name, source.what, entries, source.items))),
          )
    for (const [key, bytes] of files) {
      const file = join(target, key)
      yield* fs.makeDirectory(dirname(file), { recursive: true, mode: 0o700 }).pipe(Effect.orDie)
      yield* Effect.andThen(fs.writeFile(file, bytes, { mode: 0o600 }), fs.chmod(file, 0o600)).pipe(Effect.orDie)
    }
    dirs.set(volume.name, target)
  }
  return dirs
})

/** The values of a container's env taken from Secrets; a Secret or key missing is what a kubelet reports as CreateContainerConfigError. */
const secretEnv = (namespace: string, container: RunnableContainer) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const configError = (message: string) => new LocalPodFailed({ container: container.name, exitCode: -1, message: `CreateContainerConfigError: ${message}` })
    const values: Record<string, string> = {}
    for (const e of container.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef
      if (ref === undefined) continue
      const secret = yield* kube.secrets
        .get(namespace, ref.name)
        .pipe(Effect.catchTag("NotFound", () => Effect.fail(configError(`secret "${ref.name}" not found`))))
      const value = secret.data?.[ref.key]
      if (value === undefined) return yield* Effect.fail(configError(`couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`))
      values[e.name] = new TextDecoder().decode(Redacted.value(value))
    }
    return values
  })

/**
 * The local argv of a container: the image's `cluster-backup` entry point becomes `entry`, a
 * path under a mount point is mapped onto the volume's directory, and flags in `replace` get
 * their value replaced.
 */
export const localArgs = (
  container: RunnableContainer,
  volumeDirs: ReadonlyMap<string, string>,
  replace: Readonly<Record<string, string>>,
  terminationFile?: string,
): ReadonlyArray<string> => {
  const mapPath = pathMapper(container, volumeDirs, terminationFile)
  const [, ...rest] = container.command
  return rest.map((arg, i) => {
    const flag = rest[i - 1]
    return flag !== undefined && replace[flag] !== undefined ? replace[flag]! : mapPath(arg)
  })
}

/**
 * Runs one container's command (`node <entry> <args>`) to completion; its stderr lines (and
 * with `stdout: "lines"` its stdout lines) go to `onLine`; given a function, stdout's lines go to it instead. Interruption stops the process and
 * waits for it. Fails unless it exits 0.
 */
export const runLocalContainer = (
  container: string,
  entry: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  onLine: (line: string) => void,
  stdout: "ignore" | "lines" | ((line: string) => void) = "ignore",
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const failed = (exitCode: number, message: string) => new LocalPodFailed({ container, exitCode, message })
      // Not detached: the child stays in this process group, so a Ctrl-C reaches it as before; on
      // interruption the scope stops it with SIGTERM and waits until it has exited (it cleans up its own files).
      const child = yield* ChildProcess.make(process.execPath, [entry, ...args], {
        env,
        extendEnv: true,
        stdin: "ignore",
        stdout: stdout === "ignore" ? "ignore" : "pipe",
        detached: false,
        killSignal: "SIGTERM",
      }).pipe(Effect.mapError((e) => failed(-1, `cannot start ${container}: ${e.message}`)))
      let last = ""
      const lines = (stream: Stream.Stream<Uint8Array, unknown>, onLine: (line: string) => void) =>
        stream.pipe(
          Stream.decodeText,
          Stream.splitLines,
          Stream.runForEach((line) =>
            Effect.sync(() => {
              if (line.trim() !== "") last = line
              onLine(line)
            }),
          ),
          Effect.ignore,
        )
      const stdoutLines = stdout === "ignore" ? [] : [lines(child.stdout, stdout === "lines" ? onLine : stdout)]
      yield* Effect.all([lines(child.stderr, onLine), ...stdoutLines], { concurrency: "unbounded", discard: true })
      const code = yield* child.exitCode.pipe(Effect.mapError(() => failed(128, `${container} was stopped by a signal: ${last.trim()}`)))
      if (code !== 0) return yield* failed(code, `${container} exited with ${code}: ${last.trim()}`)
    }),
  )

export interface LocalPodOptions {
  /** The pod's own directory: its volumes and the containers' termination message files. */
  readonly dir: string
  /** The `cluster-backup` entry point the containers run as. */
  readonly entry: string
  /** Volumes that are existing directories instead of new ones. */
  readonly volumeDirs?: ReadonlyMap<string, string>
  /** Flags whose value is replaced (the etcd Service's address, tools at image paths). */
  readonly replace: Readonly<Record<string, string>>
  /** Added to every container's environment (KUBECONFIG, PATH). */
  readonly env: Readonly<Record<string, string>>
  /** Before each container starts, its local argv. */
  readonly onStart: (container: string, args: ReadonlyArray<string>) => Effect.Effect<void>
  /** After each container ended, its stderr lines (JSON log lines from `--log-format json`). */
  readonly onLines: (container: string, lines: ReadonlyArray<string>) => Effect.Effect<void>
}

/** How a locally run pod ended: the outcome to report in its status, and the container failure that ended it, if one did. */
export interface LocalPodRun {
  readonly outcome: PodOutcome
  readonly failure: LocalPodFailed | undefined
}

/** `effect`'s value, or the LocalPodFailed it refused the pod with, as a value: the pod then ends Failed with it. */
const refusalAsValue = <A, E, R>(effect: Effect.Effect<A, E | LocalPodFailed, R>) =>
  effect.pipe(
    Effect.map((a): Result.Result<A, LocalPodFailed> => Result.succeed(a)),
    Effect.catchIf(
      (e): e is LocalPodFailed => e instanceof LocalPodFailed,
      (failure) => Effect.succeed(Result.fail(failure)),
    ),
  )

/**
 * Runs the pod's init containers in order, as a kubelet would, stopping at the first that fails (a volume that cannot
 * be set up, a Secret or key missing, fails the pod before any container runs, where a kubelet would wait for it); the main containers
 * (the hold container keeping /backup for `oc cp`) are not needed here, the backup being on this disk already. Each
 * container's termination message is what it wrote to its terminationMessagePath, or (FallbackToLogsOnError) its last
 * log line when it failed without writing one.
 */
export const runLocalPod = Effect.fn("runLocalPod")(function* (pod: RunnablePod, options: LocalPodOptions) {
  const fs = yield* FileSystem.FileSystem
  const mounted = yield* refusalAsValue(materializeVolumes(pod, join(options.dir, "volumes"), options.volumeDirs))
  if (Result.isFailure(mounted)) return { outcome: { phase: "Failed", containers: {} }, failure: mounted.failure } satisfies LocalPodRun
  const dirs = mounted.success
  const terminationDir = join(options.dir, "termination")
  yield* fs.makeDirectory(terminationDir, { recursive: true, mode: 0o700 }).pipe(Effect.orDie)
  const containers: Record<string, { exitCode: number; message?: string }> = {}
  for (const container of pod.spec.initContainers) {
    const terminationFile = join(terminationDir, container.name)
    const fromSecrets = yield* refusalAsValue(secretEnv(pod.metadata.namespace, container))
    if (Result.isFailure(fromSecrets)) {
      containers[container.name] = { exitCode: -1, message: fromSecrets.failure.message }
      return { outcome: { phase: "Failed", containers }, failure: fromSecrets.failure } satisfies LocalPodRun
    }
    const args = localArgs(container, dirs, options.replace, terminationFile)
    yield* options.onStart(container.name, args)
    const lines: Array<string> = []
    const ran = yield* Effect.exit(
      runLocalContainer(
        container.name,
        options.entry,
        ["--log-format", "json", ...args],
        {
          ...containerEnv(container, dirs, terminationFile, fromSecrets.success),
          ...options.env,
        },
        (line) => {
          lines.push(line)
        },
      ),
    )
    yield* options.onLines(container.name, lines)
    const written = yield* fs.readFileString(terminationFile).pipe(Effect.orElseSucceed(() => ""))
    if (ran._tag === "Success") {
      containers[container.name] = { exitCode: 0, ...(written === "" ? {} : { message: written }) }
      continue
    }
    const failure = ran.cause.reasons.find((r) => r._tag === "Fail")?.error
    if (failure === undefined) return yield* Effect.failCause(ran.cause)
    containers[container.name] = { exitCode: failure.exitCode, message: written === "" ? failure.message : written }
    return { outcome: { phase: "Failed", containers }, failure } satisfies LocalPodRun
  }
  return { outcome: { phase: "Succeeded", containers }, failure: undefined } satisfies LocalPodRun
})
