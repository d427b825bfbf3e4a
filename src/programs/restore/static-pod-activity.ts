/**
 * Is a static pod still running on this host? After the restore moved a pod's manifest away, the
 * kubelet stops its containers; until they are gone, nothing may touch what they use. Read from
 * `/proc`, which shows every process of the host's PID namespace:
 *
 * - for etcd: a process whose working directory or an open file is inside the data directory, or
 *   whose command line names it as `--data-dir` (the restore's own target, so also under `--root`);
 * - on the real host only: any process running one of the pod's programs (`etcd`; `kube-apiserver`,
 *   also as OpenShift starts it, `hyperkube kube-apiserver`) and anything listening on its ports.
 *
 * The real host is `--root /`, or a `--root` that is the host's `/` mounted into a container
 * (`oc debug node` mounts it at /host and shares the host's processes and network): there the
 * processes' paths are the host's, without the `--root` prefix, so both forms are matched.
 * Any other `--root` is a tree that is not this host's: the host's own pods and ports are none
 * of its business, so only the data directory is watched.
 */
import { Clock, Effect, FileSystem, Schema } from "effect"
import { HostProcesses } from "../../services/host-processes.ts"
import { isWithin } from "../../domain/path-inside.ts"

export interface PodActivity {
  readonly pid: number
  readonly command: string
  /** Why this process counts (`has /var/lib/etcd/member/snap/db open`). */
  readonly why: string
}

export interface ActivityProbe {
  /** What is waited for, as the messages name it (`etcd`, `the control plane`). */
  readonly what: string
  /** A data directory nothing may use (root included), as this process sees it. */
  readonly dataDir?: string | undefined
  /** The restore's `--root`: when it is the host's `/`, also look for the pods' `programs` and listeners on `ports`. */
  readonly root: string
  readonly programs: ReadonlyArray<string>
  readonly ports: ReadonlyArray<number>
}

export class StaticPodStillRunning extends Schema.TaggedError<StaticPodStillRunning>()("StaticPodStillRunning", {
  what: Schema.String,
  blockers: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/** `/proc/<pid>/comm` keeps 15 characters: `kube-controller-manager` shows as `kube-controller`. */
const commLength = 15

/**
 * The program of `programs` a process runs, if any: by its name, by its argv[0], or as
 * `hyperkube <program>` (OpenShift's kube-apiserver, kube-controller-manager and kube-scheduler
 * containers exec `hyperkube`, a wrapper that runs the program named next).
 */
export const programRun = (
  process: { readonly command: string; readonly argv: ReadonlyArray<string> },
  programs: ReadonlyArray<string>,
): string | undefined => {
  const base = (arg: string | undefined) => (arg === undefined ? undefined : arg.slice(arg.lastIndexOf("/") + 1))
  const argv0 = base(process.argv[0])
  return programs.find((p) => process.command === p.slice(0, commLength) || argv0 === p || (argv0 === "hyperkube" && process.argv[1] === p))
}

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

/** The processes (and, host-wide, listeners) that show the probed pods are not stopped; empty when they are. */
export const findActivity = Effect.fnUntraced(function* (probe: ActivityProbe) {
  const host = yield* HostProcesses
  const fs = yield* FileSystem.FileSystem
  const hostWide = yield* isHostWide(probe)
  const dataDir = probe.dataDir
  const dataDirs =
    dataDir === undefined
      ? []
      : [
          ...new Set([
            yield* fs.realPath(dataDir).pipe(Effect.orElseSucceed(() => dataDir)),
            dataDir,
            ...(hostWide && probe.root !== "/" ? [withoutRoot(probe.root, dataDir)] : []),
          ]),
        ]
  const found: Array<PodActivity> = []
  for (const { pid, command, argv } of yield* host.list) {
    const add = (why: string) => void found.push({ pid, command, why })
    if (dataDirs.some((dir) => namesDataDir(argv, dir))) {
      add(`runs with --data-dir ${dataDir}`)
      continue
    }
    if (dataDirs.length > 0) {
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
    }
    const program = hostWide ? programRun({ command, argv }, probe.programs) : undefined
    if (program !== undefined) add(`is ${/^[aeiou]/.test(program) ? "an" : "a"} ${program} process`)
  }
  if (hostWide && probe.ports.length > 0) {
    const listening = yield* host.listeningPorts
    for (const port of probe.ports) if (listening.has(port)) found.push({ pid: 0, command: "(socket)", why: `something listens on port ${port}` })
  }
  return found as ReadonlyArray<PodActivity>
})

export const describeActivity = (a: PodActivity): string => (a.pid === 0 ? a.why : `pid ${a.pid} (${a.command}) ${a.why}`)

/**
 * Polls until nothing shows the probed pods running, at most `timeoutSeconds`; prints what it
 * waits for whenever that changes and every 10 s. Fails with the last blockers when time runs out.
 */
export const waitUntilStopped = (
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
      const blockers = (yield* findActivity(probe)).map(describeActivity)
      const now = yield* Clock.currentTimeMillis
      const elapsed = Math.round((now - started) / 1000)
      if (blockers.length === 0) {
        const checked = [
          ...(probe.dataDir === undefined ? [] : [`nothing uses ${probe.dataDir}`]),
          ...(hostWide ? [`no ${probe.programs.join("/")} process runs`, `ports ${probe.ports.join(", ")} are free`] : []),
        ]
        yield* options.print(
          `             ${probe.what} is stopped: ${checked.length === 0 ? "nothing to check" : checked.join(" and ")}` +
            (hostWide ? "" : " (processes and ports not checked: --root is not this host's /)") +
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
        return yield* new StaticPodStillRunning({
          what: probe.what,
          blockers,
          message: `${probe.what} did not stop within ${options.timeoutSeconds} s: ${text}`,
        })
      }
      yield* Effect.sleep(options.pollMillis ?? 500)
    }
  })
