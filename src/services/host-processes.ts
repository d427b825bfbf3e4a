/**
 * The processes of this host's PID namespace, as `/proc` shows them: their command, argv,
 * working directory and open files, and the TCP ports something listens on. A process may exit
 * while it is read: what can no longer be read is left out, never a failure.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs"
import { Context, Effect, Layer } from "effect"

export interface HostProcess {
  readonly pid: number
  /** The process's name (`/proc/<pid>/comm`, e.g. `etcd`). */
  readonly command: string
  readonly argv: ReadonlyArray<string>
}

/** What the in-memory Layer shows: processes with their working directory and open files, and listening ports. */
export interface HostProcessTable {
  readonly processes: ReadonlyArray<HostProcess & { readonly cwd?: string; readonly openFiles?: ReadonlyArray<string> }>
  readonly listening?: ReadonlyArray<number>
  /** The path that is the host's root as PID 1 sees it (the host's `/` mounted into a container), if any. */
  readonly hostRoot?: string
}

/**
 * `/proc` is read synchronously: its files are made in memory on the spot, so a read costs microseconds, while an
 * asynchronous one costs a thread-pool round trip; a scan of every process's open files is thousands of reads.
 */
const quietly = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch {
    return undefined
  }
}

const listeningIn = (text: string): ReadonlyArray<number> =>
  text
    .split("\n")
    .slice(1)
    .flatMap((line) => {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      return local === undefined || fields[3] !== "0A" ? [] : [Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16)]
    })

const liveProcesses = Effect.sync(() => {
  const pids = (quietly(() => readdirSync("/proc")) ?? []).filter((n) => /^[0-9]+$/.test(n)).map(Number)
  const found: Array<HostProcess> = []
  for (const pid of pids) {
    if (pid === process.pid) continue
    const command = (quietly(() => readFileSync(`/proc/${pid}/comm`, "utf8")) ?? "").trim()
    if (command === "") continue
    const argv = (quietly(() => readFileSync(`/proc/${pid}/cmdline`, "utf8")) ?? "").split("\u0000").filter((a) => a !== "")
    found.push({ pid, command, argv })
  }
  return found
})

/** Whether two paths are the same directory (device and inode: a bind mount of it too); false where either cannot be read. */
export const sameDirectory = (a: string, b: string): boolean => {
  const x = quietly(() => statSync(a, { bigint: true }))
  const y = quietly(() => statSync(b, { bigint: true }))
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino
}

const liveOpenFiles = (pid: number) =>
  Effect.sync(() => {
    const targets: Array<string> = []
    for (const fd of quietly(() => readdirSync(`/proc/${pid}/fd`)) ?? []) {
      const target = quietly(() => readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (target !== undefined) targets.push(target)
    }
    return targets
  })

export class HostProcesses extends Context.Service<
  HostProcesses,
  {
    /** The processes that run now, this one left out. */
    readonly list: Effect.Effect<ReadonlyArray<HostProcess>>
    /** Where `pid` runs; `undefined` when it cannot be read (gone, or not permitted). */
    readonly workingDirectory: (pid: number) => Effect.Effect<string | undefined>
    /** What `pid`'s file descriptors point to. */
    readonly openFiles: (pid: number) => Effect.Effect<ReadonlyArray<string>>
    readonly listeningPorts: Effect.Effect<ReadonlySet<number>>
    /** Whether `path` is the root directory of PID 1 (the host's `/`, when this process runs in a container beside it). */
    readonly isHostRoot: (path: string) => Effect.Effect<boolean>
  }
>()("cluster-backup/HostProcesses") {
  static readonly live = Layer.succeed(
    HostProcesses,
    HostProcesses.of({
      list: liveProcesses,
      workingDirectory: (pid) => Effect.sync(() => quietly(() => readlinkSync(`/proc/${pid}/cwd`))),
      openFiles: liveOpenFiles,
      listeningPorts: Effect.sync(
        () => new Set(["/proc/net/tcp", "/proc/net/tcp6"].flatMap((table) => listeningIn(quietly(() => readFileSync(table, "utf8")) ?? ""))),
      ),
      // PID 1's root, as root can read it (not in every sandbox): the host's `/`, seen from a container that mounts it.
      isHostRoot: (path) => Effect.sync(() => sameDirectory(path, "/proc/1/root")),
    }),
  )

  /** The table `current` returns, read afresh on every call (a test changes it to stop a process). */
  static readonly inMemory = (current: () => HostProcessTable) =>
    Layer.succeed(
      HostProcesses,
      HostProcesses.of({
        list: Effect.sync(() => current().processes.map(({ pid, command, argv }) => ({ pid, command, argv }))),
        workingDirectory: (pid) => Effect.sync(() => current().processes.find((p) => p.pid === pid)?.cwd),
        openFiles: (pid) => Effect.sync(() => current().processes.find((p) => p.pid === pid)?.openFiles ?? []),
        listeningPorts: Effect.sync(() => new Set(current().listening ?? [])),
        isHostRoot: (path) => Effect.sync(() => current().hostRoot === path),
      }),
    )
}
