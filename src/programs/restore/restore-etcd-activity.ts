/**
 * Is etcd still running on this host? After the restore moved the etcd pod manifest away, the
 * kubelet stops the pod's containers; until they are gone, nothing may touch etcd's data
 * directory. Read from `/proc`, which shows every process of the host's PID namespace:
 *
 * - a process whose working directory or an open file is inside the data directory, or whose
 *   command line names it as `--data-dir` (the restore's own target, so also under `--root`);
 * - on the real host only: any process named `etcd` (the pod's containers run the etcd binary)
 *   and anything listening on etcd's ports 2379/2380.
 *
 * The real host is `--root /`, or a `--root` that is the host's `/` mounted into a container
 * (`oc debug node` mounts it at /host and shares the host's processes and network): there the
 * processes' paths are the host's, without the `--root` prefix, so both forms are matched.
 * Any other `--root` is a tree that is not this host's: the host's own etcd and its ports are none
 * of its business, so only the data directory is watched.
 */
import { Clock, Effect, FileSystem, Schema } from "effect"
import { HostProcesses } from "../../services/host-processes.ts"
import { isWithin } from "../../domain/path-inside.ts"

export interface EtcdActivity {
  readonly pid: number
  readonly command: string
  /** Why this process counts (`has /var/lib/etcd/member/snap/db open`). */
  readonly why: string
}

export interface ActivityProbe {
  /** The data directory as this process sees it (root included). */
  readonly dataDir: string
  /** The restore's `--root`: when it is the host's `/`, also look for etcd processes and listeners on `ports`. */
  readonly root: string
  readonly ports: ReadonlyArray<number>
}

export class EtcdStillRunning extends Schema.TaggedError<EtcdStillRunning>()("EtcdStillRunning", {
  dataDir: Schema.String,
  blockers: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

const namesDataDir = (argv: ReadonlyArray<string>, dataDir: string) =>
  argv.some((arg, i) => arg === `--data-dir=${dataDir}` || (arg === "--data-dir" && argv[i + 1] === dataDir))

/** Whether the probe's root is this host's `/` (itself, or mounted into this container). */
export const isHostWide = (probe: ActivityProbe) =>
  Effect.gen(function* () {
    if (probe.root === "/") return true
    const host = yield* HostProcesses
    return yield* host.isHostRoot(probe.root)
  })

const withoutRoot = (root: string, path: string) => (isWithin(root, path) ? `/${path.slice(root.length).replace(/^\/+/, "")}` : path)

/** The processes (and, host-wide, listeners) that show etcd is not stopped; empty when it is. */
export const findEtcdActivity = Effect.fnUntraced(function* (probe: ActivityProbe) {
  const host = yield* HostProcesses
  const fs = yield* FileSystem.FileSystem
  const hostWide = yield* isHostWide(probe)
  const realDataDir = yield* fs.realPath(probe.dataDir).pipe(Effect.orElseSucceed(() => probe.dataDir))
  const dataDirs = [...new Set([realDataDir, probe.dataDir, ...(hostWide && probe.root !== "/" ? [withoutRoot(probe.root, probe.dataDir)] : [])])]
  const found: Array<EtcdActivity> = []
  for (const { pid, command, argv } of yield* host.list) {
    const add = (why: string) => void found.push({ pid, command, why })
    if (dataDirs.some((dir) => namesDataDir(argv, dir))) {
      add(`runs with --data-dir ${probe.dataDir}`)
      continue
    }
    const cwd = yield* host.workingDirectory(pid)
    if (cwd !== undefined && dataDirs.some((dir) => isWithin(dir, cwd))) {
      add(`has its working directory in ${cwd}`)
      continue
    }
    const open = (yield* host.openFiles(pid)).find((target) => dataDirs.some((dir) => isWithin(dir, target)))
    if (open !== undefined) {
      add(`has ${open} open`)
      continue
    }
    if (hostWide && command === "etcd") add("is an etcd process")
  }
  if (hostWide && probe.ports.length > 0) {
    const listening = yield* host.listeningPorts
    for (const port of probe.ports) if (listening.has(port)) found.push({ pid: 0, command: "(socket)", why: `something listens on port ${port}` })
  }
  return found as ReadonlyArray<EtcdActivity>
})

export const describeActivity = (a: EtcdActivity): string => (a.pid === 0 ? a.why : `pid ${a.pid} (${a.command}) ${a.why}`)

/**
 * Polls until nothing shows etcd running, at most `timeoutSeconds`; prints what it waits for
 * whenever that changes and every 10 s. Fails with the last blockers when time runs out.
 */
export const waitUntilEtcdStopped = (
  probe: ActivityProbe,
  options: { readonly timeoutSeconds: number; readonly pollMillis?: number; readonly print: (line: string) => Effect.Effect<void> },
) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const deadline = started + options.timeoutSeconds * 1000
    let last = ""
    let lastPrinted = 0
    const hostWide = yield* isHostWide(probe)
    for (;;) {
      const blockers = (yield* findEtcdActivity(probe)).map(describeActivity)
      const now = yield* Clock.currentTimeMillis
      const elapsed = Math.round((now - started) / 1000)
      if (blockers.length === 0) {
        yield* options.print(
          `             etcd is stopped: nothing uses ${probe.dataDir}` +
            (hostWide ? ` and ports ${probe.ports.join(", ")} are free` : " (ports not checked: --root is not this host's /)") +
            (elapsed > 0 ? ` (after ${elapsed} s)` : ""),
        )
        return
      }
      const text = blockers.join("; ")
      if (text !== last || now - lastPrinted >= 10_000) {
        yield* options.print(`             waiting (${elapsed} s of at most ${options.timeoutSeconds} s): ${text}`)
        last = text
        lastPrinted = now
      }
      if (now >= deadline) {
        return yield* new EtcdStillRunning({
          dataDir: probe.dataDir,
          blockers,
          message: `etcd did not stop within ${options.timeoutSeconds} s: ${text}`,
        })
      }
      yield* Effect.sleep(options.pollMillis ?? 500)
    }
  })
