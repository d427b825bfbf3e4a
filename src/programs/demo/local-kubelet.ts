/**
 * A kubelet for one machine, as far as the demo needs one: it takes the backup pod exactly as
 * rendered, materialises its volumes from the cluster's Secret and ConfigMap (an emptyDir is a
 * directory), and runs the containers' commands as local processes, in order, with every path
 * under a mount point mapped onto that volume's directory. Only the etcd Service's address is
 * replaced (there is no cluster DNS here); everything else runs as written.
 */
import { join } from "node:path"
import { Effect, FileSystem, Redacted, Result, Schema, Stream } from "effect"
import { ChildProcess } from "effect/process"
import { parseYamlText } from "../../domain/yaml-text.ts"
import { Kube } from "../../services/kube/kube.ts"
import { configMapBytes } from "../../services/kube/schemas.ts"

const Mount = Schema.Struct({ name: Schema.String, mountPath: Schema.String, readOnly: Schema.optionalKey(Schema.Boolean) })
const Container = Schema.Struct({
  name: Schema.String,
  command: Schema.Array(Schema.String),
  env: Schema.optionalKey(Schema.Array(Schema.Struct({ name: Schema.String, value: Schema.String }))),
  volumeMounts: Schema.optionalKey(Schema.Array(Mount)),
})

/** A container's environment as the kubelet gives it (literal values only; the backup pod uses no others). */
export const containerEnv = (container: RunnableContainer): Record<string, string> => Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]))
export type RunnableContainer = typeof Container.Type
const Volume = Schema.Struct({
  name: Schema.String,
  emptyDir: Schema.optionalKey(Schema.Unknown),
  secret: Schema.optionalKey(Schema.Struct({ secretName: Schema.String })),
  configMap: Schema.optionalKey(Schema.Struct({ name: Schema.String })),
})
const RunnablePod = Schema.Struct({
  metadata: Schema.Struct({ namespace: Schema.String }),
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

/** The pod from its YAML (what `oc create -f -` would read). */
export const decodeRunnablePod = (yaml: string): Result.Result<RunnablePod, LocalPodFailed> => {
  const fail = (message: string) => Result.fail(new LocalPodFailed({ container: "", exitCode: -1, message: `the rendered pod cannot be run: ${message}` }))
  const parsed = parseYamlText(yaml)
  if (Result.isFailure(parsed)) return fail(parsed.failure.message)
  const pod = Schema.decodeUnknownResult(RunnablePod)(parsed.success)
  return Result.isFailure(pod) ? fail(pod.failure.message) : Result.succeed(pod.success)
}

/** Creates each volume's directory under `dir` and fills Secret and ConfigMap volumes from the cluster. */
export const materializeVolumes = Effect.fn("materializeVolumes")(function* (pod: RunnablePod, dir: string) {
  const kube = yield* Kube
  const fs = yield* FileSystem.FileSystem
  const dirs = new Map<string, string>()
  const ns = pod.metadata.namespace
  for (const volume of pod.spec.volumes) {
    const target = join(dir, volume.name)
    yield* fs.makeDirectory(target, { recursive: true, mode: 0o700 }).pipe(Effect.orDie)
    const files: Array<readonly [string, Uint8Array]> = []
    if (volume.secret !== undefined) {
      const secret = yield* kube.secrets.get(ns, volume.secret.secretName)
      for (const [key, value] of Object.entries(secret.data ?? {})) files.push([key, Redacted.value(value)])
    } else if (volume.configMap !== undefined) {
      const cm = yield* kube.configMaps.get(ns, volume.configMap.name)
      for (const key of [...Object.keys(cm.data ?? {}), ...Object.keys(cm.binaryData ?? {})]) files.push([key, configMapBytes(cm, key)!])
    }
    for (const [key, bytes] of files) {
      const file = join(target, key)
      yield* Effect.andThen(fs.writeFile(file, bytes, { mode: 0o600 }), fs.chmod(file, 0o600)).pipe(Effect.orDie)
    }
    dirs.set(volume.name, target)
  }
  return dirs
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
): ReadonlyArray<string> => {
  const mounts = (container.volumeMounts ?? [])
    .map((m) => ({ path: m.mountPath.replace(/\/$/, ""), dir: volumeDirs.get(m.name) }))
    .filter((m): m is { path: string; dir: string } => m.dir !== undefined)
    .sort((a, b) => b.path.length - a.path.length)
  const mapPath = (arg: string) => {
    const m = mounts.find((x) => arg === x.path || arg.startsWith(`${x.path}/`))
    return m === undefined ? arg : m.dir + arg.slice(m.path.length)
  }
  const [, ...rest] = container.command
  return rest.map((arg, i) => {
    const flag = rest[i - 1]
    return flag !== undefined && replace[flag] !== undefined ? replace[flag]! : mapPath(arg)
  })
}

/**
 * Runs one container's command (`node <entry> <args>`) to completion; its stderr lines (and
 * with `stdout: "lines"` its stdout lines) go to `onLine`. Interruption stops the process and
 * waits for it. Fails unless it exits 0.
 */
export const runLocalContainer = (
  container: string,
  entry: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  onLine: (line: string) => void,
  stdout: "ignore" | "lines" = "ignore",
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
        stdout: stdout === "lines" ? "pipe" : "ignore",
        detached: false,
        killSignal: "SIGTERM",
      }).pipe(Effect.mapError((e) => failed(-1, `cannot start ${container}: ${e.message}`)))
      let last = ""
      const lines = (stream: Stream.Stream<Uint8Array, unknown>) =>
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
      yield* Effect.all([lines(child.stderr), ...(stdout === "lines" ? [lines(child.stdout)] : [])], { concurrency: "unbounded", discard: true })
      const code = yield* child.exitCode.pipe(Effect.mapError(() => failed(128, `${container} was stopped by a signal: ${last.trim()}`)))
      if (code !== 0) return yield* failed(code, `${container} exited with ${code}: ${last.trim()}`)
    }),
  )
