import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FileSystem, Layer } from "effect"
import { TestClock } from "effect/testing"
import { findEtcdActivity, waitUntilEtcdStopped } from "../../../src/programs/restore/restore-etcd-activity.ts"
import { HostProcesses, type HostProcessTable } from "../../../src/services/host-processes.ts"

const root = "/nonexistent-root"
const dataDir = `${root}/var/lib/etcd`
const etcd = { pid: 42, command: "etcd", argv: ["etcd", "--data-dir", dataDir] }

// No disk I/O, so that the waiting fiber moves only with the TestClock.
const noLinks = FileSystem.layerNoop({ realPath: (path) => Effect.succeed(path) })

/** A host whose table the test changes while the wait runs. */
const host = (initial: HostProcessTable) => {
  let table = initial
  return {
    set: (next: HostProcessTable) => {
      table = next
    },
    layer: Layer.merge(
      HostProcesses.inMemory(() => table),
      noLinks,
    ),
  }
}

describe("what shows etcd still runs", () => {
  it.effect("a process naming the data directory, one working or holding a file in it; host-wide also an etcd and a listener", () =>
    Effect.gen(function* () {
      const table: HostProcessTable = {
        processes: [
          etcd,
          { pid: 7, command: "sh", argv: ["sh"], cwd: `${dataDir}/member` },
          { pid: 8, command: "cat", argv: ["cat"], openFiles: ["/dev/null", `${dataDir}/member/snap/db`] },
          { pid: 9, command: "etcd", argv: ["etcd"] },
          { pid: 10, command: "bash", argv: ["bash"], cwd: "/var/lib/etcd-backup" },
        ],
        listening: [2379, 22],
      }
      const { layer } = host(table)
      const probe = { dataDir, ports: [2379, 2380] }
      const local = yield* findEtcdActivity({ ...probe, root }).pipe(Effect.provide(layer))
      expect(local.map((a) => [a.pid, a.why])).toEqual([
        [42, `runs with --data-dir ${dataDir}`],
        [7, `has its working directory in ${dataDir}/member`],
        [8, `has ${dataDir}/member/snap/db open`],
      ])
      const hostWide = yield* findEtcdActivity({ ...probe, root }).pipe(Effect.provide(host({ ...table, hostRoot: root }).layer))
      expect(hostWide.slice(3).map((a) => [a.pid, a.why])).toEqual([
        [9, "is an etcd process"],
        [0, "something listens on port 2379"],
      ])
    }),
  )
})

describe("a --root that is the host's / mounted into a container (oc debug node's /host)", () => {
  it.effect("is the host: its etcd, a listener and the host's own paths of the data directory (no /host prefix) count", () =>
    Effect.gen(function* () {
      const table = {
        processes: [
          { pid: 42, command: "etcd", argv: ["etcd", "--data-dir", "/var/lib/etcd"] },
          { pid: 8, command: "cat", argv: ["cat"], openFiles: ["/var/lib/etcd/member/snap/db"] },
          { pid: 7, command: "sh", argv: ["sh"], cwd: "/var/lib/etcd/member" },
          { pid: 9, command: "etcd", argv: ["etcd"] },
        ],
        listening: [2380],
      }
      const probe = { dataDir: "/host/var/lib/etcd", root: "/host", ports: [2379, 2380] }
      const mounted = yield* findEtcdActivity(probe).pipe(Effect.provide(host({ ...table, hostRoot: "/host" }).layer))
      expect(mounted.map((a) => [a.pid, a.why])).toEqual([
        [42, "runs with --data-dir /host/var/lib/etcd"],
        [8, "has /var/lib/etcd/member/snap/db open"],
        [7, "has its working directory in /var/lib/etcd/member"],
        [9, "is an etcd process"],
        [0, "something listens on port 2380"],
      ])
      // A tree that is not the host's (a test's, a copy): the host's etcd is none of its business.
      expect(yield* findEtcdActivity(probe).pipe(Effect.provide(host(table).layer))).toEqual([])
    }),
  )
})

describe("waiting until etcd stopped, on effect's Clock", () => {
  it.effect("reports the seconds waited by the clock, every 10 s while nothing changes, and returns once etcd is gone", () =>
    Effect.gen(function* () {
      const { set, layer } = host({ processes: [etcd] })
      const lines: Array<string> = []
      const fiber = yield* waitUntilEtcdStopped(
        { dataDir, root, ports: [] },
        { timeoutSeconds: 60, pollMillis: 1000, print: (line) => Effect.sync(() => void lines.push(line.trim())) },
      ).pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust(12_000)
      set({ processes: [] })
      yield* TestClock.adjust(1000)
      yield* Fiber.join(fiber)
      expect(lines).toEqual([
        `waiting (0 s of at most 60 s): pid 42 (etcd) runs with --data-dir ${dataDir}`,
        `waiting (10 s of at most 60 s): pid 42 (etcd) runs with --data-dir ${dataDir}`,
        `etcd is stopped: nothing uses ${dataDir} (ports not checked: --root is not this host's /) (after 13 s)`,
      ])
    }),
  )

  it.effect("gives up when the clock passes the bound, naming what still runs", () =>
    Effect.gen(function* () {
      const { layer } = host({ processes: [etcd] })
      const fiber = yield* waitUntilEtcdStopped({ dataDir, root, ports: [] }, { timeoutSeconds: 300, print: () => Effect.void }).pipe(
        Effect.provide(layer),
        Effect.forkChild,
      )
      yield* TestClock.adjust(301_000)
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(
        Exit.fail(
          expect.objectContaining({
            _tag: "EtcdStillRunning",
            message: `etcd did not stop within 300 s: pid 42 (etcd) runs with --data-dir ${dataDir}`,
          }),
        ),
      )
    }),
  )
})
