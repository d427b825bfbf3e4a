/**
 * The processes of this host's PID namespace, as `/proc` shows them: their command, argv,
 * working directory and open files, and the TCP ports something listens on. A process may exit
 * while it is read: what can no longer be read is left out, never a failure.
 */
import { readdir, readFile, readlink } from "node:fs/promises"
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
}

const quietly = <A>(run: () => Promise<A>): Effect.Effect<A | undefined> => Effect.promise(() => run().catch(() => undefined))

/** Ports in LISTEN state in one of `/proc/net/tcp{,6}` (a hexadecimal `local_address` port, state `0A`). */
const listeningIn = (text: string): ReadonlyArray<number> =>
  text
    .split("\n")
    .slice(1)
    .flatMap((line) => {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      return local === undefined || fields[3] !== "0A" ? [] : [Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16)]
    })

const liveProcesses = Effect.gen(function* () {
  const pids = ((yield* quietly(() => readdir("/proc"))) ?? []).filter((n) => /^[0-9]+$/.test(n)).map(Number)
  const found: Array<HostProcess> = []
  for (const pid of pids) {
    if (pid === process.pid) continue
    const command = ((yield* quietly(() => readFile(`/proc/${pid}/comm`, "utf8"))) ?? "").trim()
    if (command === "") continue
    const argv = ((yield* quietly(() => readFile(`/proc/${pid}/cmdline`, "utf8"))) ?? "").split("\u0000").filter((a) => a !== "")
    found.push({ pid, command, argv })
  }
  return found
})

const liveOpenFiles = (pid: number) =>
  Effect.gen(function* () {
    const targets: Array<string> = []
    for (const fd of (yield* quietly(() => readdir(`/proc/${pid}/fd`))) ?? []) {
      const target = yield* quietly(() => readlink(`/proc/${pid}/fd/${fd}`))
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
  }
>()("cluster-backup/HostProcesses") {
  static readonly live = Layer.succeed(
    HostProcesses,
    HostProcesses.of({
      list: liveProcesses,
      workingDirectory: (pid) => quietly(() => readlink(`/proc/${pid}/cwd`)),
      openFiles: liveOpenFiles,
      listeningPorts: Effect.gen(function* () {
        const ports: Array<number> = []
        for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) ports.push(...listeningIn((yield* quietly(() => readFile(table, "utf8"))) ?? ""))
        return new Set(ports)
      }),
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
      }),
    )
}
