import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FileSystem, Layer } from "effect"
import { TestClock } from "effect/testing"
import { findActivity, programRun, waitUntilStopped } from "../../../src/programs/restore/static-pod-activity.ts"
import { HostProcesses, type HostProcessTable } from "../../../src/services/host-processes.ts"

const root = "/nonexistent-root"
const dataDir = `${root}/var/lib/etcd`
const etcd = { pid: 42, command: "etcd", argv: ["etcd", "--data-dir", dataDir] }
const etcdProbe = { what: "etcd", programs: ["etcd"] }

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
      const probe = { ...etcdProbe, dataDir, ports: [2379, 2380] }
      const local = yield* findActivity({ ...probe, root }).pipe(Effect.provide(layer))
      expect(local.map((a) => [a.pid, a.why])).toEqual([
        [42, `runs with --data-dir ${dataDir}`],
        [7, `has its working directory in ${dataDir}/member`],
        [8, `has ${dataDir}/member/snap/db open`],
      ])
      const hostWide = yield* findActivity({ ...probe, root }).pipe(Effect.provide(host({ ...table, hostRoot: root }).layer))
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
      const probe = { ...etcdProbe, dataDir: "/host/var/lib/etcd", root: "/host", ports: [2379, 2380] }
      const mounted = yield* findActivity(probe).pipe(Effect.provide(host({ ...table, hostRoot: "/host" }).layer))
      expect(mounted.map((a) => [a.pid, a.why])).toEqual([
        [42, "runs with --data-dir /host/var/lib/etcd"],
        [8, "has /var/lib/etcd/member/snap/db open"],
        [7, "has its working directory in /var/lib/etcd/member"],
        [9, "is an etcd process"],
        [0, "something listens on port 2380"],
      ])
      // A tree that is not the host's (a test's, a copy): the host's etcd is none of its business.
      expect(yield* findActivity(probe).pipe(Effect.provide(host(table).layer))).toEqual([])
    }),
  )
})

describe("waiting until etcd stopped, on effect's Clock", () => {
  it.effect("reports the seconds waited by the clock, every 10 s while nothing changes, and returns once etcd is gone", () =>
    Effect.gen(function* () {
      const { set, layer } = host({ processes: [etcd] })
      const lines: Array<string> = []
      const fiber = yield* waitUntilStopped(
        { ...etcdProbe, dataDir, root, ports: [] },
        { timeoutSeconds: 60, pollMillis: 1000, print: (line) => Effect.sync(() => void lines.push(line.trim())) },
      ).pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust(12_000)
      set({ processes: [] })
      yield* TestClock.adjust(1000)
      yield* Fiber.join(fiber)
      expect(lines).toEqual([
        `waiting (0 s of at most 60 s): pid 42 (etcd) runs with --data-dir ${dataDir}`,
        `waiting (10 s of at most 60 s): pid 42 (etcd) runs with --data-dir ${dataDir}`,
        `etcd is stopped: nothing uses ${dataDir} (processes and ports not checked: --root is not this host's /) (after 13 s)`,
      ])
    }),
  )

  it.effect("gives up when the clock passes the bound, naming what still runs", () =>
    Effect.gen(function* () {
      const { layer } = host({ processes: [etcd] })
      const fiber = yield* waitUntilStopped({ ...etcdProbe, dataDir, root, ports: [] }, { timeoutSeconds: 300, print: () => Effect.void }).pipe(
        Effect.provide(layer),
        Effect.forkChild,
      )
      yield* TestClock.adjust(301_000)
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(
        Exit.fail(
          expect.objectContaining({
            _tag: "StaticPodStillRunning",
            message: `etcd did not stop within 300 s: pid 42 (etcd) runs with --data-dir ${dataDir}`,
          }),
        ),
      )
    }),
  )
})

describe("the control plane's pods (no data directory: their programs and ports, on the host only)", () => {
  const controlPlane = { what: "the control plane", programs: ["kube-apiserver", "kube-controller-manager", "kube-scheduler"], ports: [6443, 10257, 10259] }

  it("knows a program by its 15-character name, its argv[0], or as OpenShift's `hyperkube <program>`", () => {
    const programs = controlPlane.programs
    expect(programRun({ command: "kube-controller", argv: ["kube-controller-manager", "--v=2"] }, programs)).toBe("kube-controller-manager")
    // A process whose command line can no longer be read (exiting) still has its name.
    expect(programRun({ command: "kube-controller", argv: [] }, programs)).toBe("kube-controller-manager")
    expect(programRun({ command: "hyperkube", argv: ["/usr/bin/hyperkube", "kube-apiserver", "--openshift-config=x"] }, programs)).toBe("kube-apiserver")
    expect(programRun({ command: "kube-scheduler", argv: [] }, programs)).toBe("kube-scheduler")
    expect(programRun({ command: "watch-terminat", argv: ["watch-termination", "--", "hyperkube", "kube-apiserver"] }, programs)).toBeUndefined()
    expect(programRun({ command: "hyperkube", argv: ["hyperkube", "kubelet"] }, programs)).toBeUndefined()
    expect(programRun({ command: "kube-apiserver-", argv: ["kube-apiserver-operator"] }, programs)).toBeUndefined()
  })

  it.effect("host-wide: the processes and listeners; under a tree that is not the host's: nothing", () =>
    Effect.gen(function* () {
      const table: HostProcessTable = {
        processes: [
          { pid: 11, command: "hyperkube", argv: ["hyperkube", "kube-apiserver"], cwd: "/var/lib/etcd" },
          { pid: 12, command: "kube-controller", argv: ["kube-controller-manager"] },
          { pid: 13, command: "etcd", argv: ["etcd"] },
        ],
        listening: [10259, 2379],
      }
      const probe = { ...controlPlane, root }
      const hostWide = yield* findActivity(probe).pipe(Effect.provide(host({ ...table, hostRoot: root }).layer))
      expect(hostWide.map((a) => [a.pid, a.why])).toEqual([
        [11, "is a kube-apiserver process"],
        [12, "is a kube-controller-manager process"],
        [0, "something listens on port 10259"],
      ])
      expect(yield* findActivity(probe).pipe(Effect.provide(host(table).layer))).toEqual([])
    }),
  )

  it.effect("waits until they are gone, and says what it checked", () =>
    Effect.gen(function* () {
      const { set, layer } = host({ processes: [{ pid: 11, command: "kube-scheduler", argv: ["kube-scheduler"] }], hostRoot: root })
      const lines: Array<string> = []
      const fiber = yield* waitUntilStopped(
        { ...controlPlane, root },
        { timeoutSeconds: 60, pollMillis: 1000, print: (line) => Effect.sync(() => void lines.push(line.trim())) },
      ).pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust(2000)
      set({ processes: [], hostRoot: root })
      yield* TestClock.adjust(1000)
      yield* Fiber.join(fiber)
      expect(lines).toEqual([
        "waiting (0 s of at most 60 s): pid 11 (kube-scheduler) is a kube-scheduler process",
        "the control plane is stopped: no kube-apiserver/kube-controller-manager/kube-scheduler process runs and ports 6443, 10257, 10259 are free (after 3 s)",
      ])
    }),
  )
})
