import { readFileSync, writeFileSync } from "node:fs"
import { posix } from "node:path"
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isSnapshotCopyName, pathsToObserve, stopPathsToObserve, walAllowanceBytes } from "../../src/domain/host-layout.ts"
import { actionPaths, isUpfront, runTimePreconditions, stepIds, upfrontPreconditions } from "../../src/domain/host-steps.ts"
import { planRestore, planStandDown, readsAfterMoved, type RestorePlan } from "../../src/domain/restore-plan.ts"
import { decodeRestorePlanInput, type RestorePlanInput } from "../../src/domain/restore-plan-input.ts"
import { revisionBump } from "../../src/domain/revision-bump.ts"
import { renderPreflight, renderRestorePlan, renderStandDownPlan, shellQuote } from "../../src/domain/restore-plan-render.ts"
import { revisionSetArb } from "./arbitraries.ts"
import { fullHostStandDownMoves } from "../support/stand-down-moves.ts"

const revisions = { etcd: 8, "kube-apiserver": 14, "kube-controller-manager": 9, "kube-scheduler": 7 }
const revisionJson = JSON.stringify({
  clusterId: 8_563_542_329_862_108_000,
  raftIndex: { "https://10.0.0.1:2379": 412_345, "https://10.0.0.2:2379": 412_360, "https://10.0.0.3:2379": 412_322 },
  maxRaftIndex: 412_360,
  created: "2024-05-01 10:11:12.131415 +0000 UTC",
})

const baseInput: RestorePlanInput = {
  root: "/",
  backupDir: "/home/core/backup",
  snapshotFile: "snapshot_2024-05-01_101500.db",
  resourcesFile: "static_kuberesources_2024-05-01_101500.tar.gz",
  memberName: "master-0",
  nodeIp: "10.0.0.1",
  restoreId: "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
  revisions,
  bump: revisionBump(revisionJson, { noBump: false }),
  etcdutl: { command: "/usr/local/bin/etcdutl", version: "3.5.16", bumpRevision: true, markCompacted: true },
  snapshotBytes: 123_456_789,
  resourcesBytes: 1_234_567,
  existing: [
    "/etc/kubernetes/manifests/etcd-pod.yaml",
    "/etc/kubernetes/manifests/kube-apiserver-pod.yaml",
    "/etc/kubernetes/manifests/kube-controller-manager-pod.yaml",
    "/etc/kubernetes/manifests/kube-scheduler-pod.yaml",
    "/var/lib/etcd/member",
    "/var/lib/etcd/revision.json",
    "/var/lib/etcd-backup/member",
    "/etc/kubernetes/static-pod-resources/etcd-pod-8",
  ],
}

const plan = (input: RestorePlanInput): RestorePlan => {
  const result = planRestore(input)
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
}

const uuidArb = fc.uuid({ version: 4 })
const ipArb = fc.oneof(fc.ipV4(), fc.constantFrom("fd00::1", "2001:db8::42"))
const rootArb = fc.constantFrom("/", "/host", "/mnt/sysroot")
const bumpArb = fc.oneof(
  fc.constant(revisionBump(undefined, { noBump: false })),
  fc.constant(revisionBump(undefined, { noBump: true })),
  fc.bigInt({ min: 1n, max: 2n ** 60n }).map((max) => revisionBump(`{"maxRaftIndex":${max}}`, { noBump: false })),
)
const inputArb: fc.Arbitrary<RestorePlanInput> = fc
  .record({
    root: rootArb,
    backupDir: fc.constantFrom("/home/core/backup", "/var/backups/etcd", "/backup"),
    snapshotFile: fc.constant("snapshot_2024-05-01_101500.db"),
    resourcesFile: fc.constant("static_kuberesources_2024-05-01_101500.tar.gz"),
    memberName: fc.constantFrom("master-0", "ip-10-0-1-2.ec2.internal", "cp1"),
    nodeIp: ipArb,
    restoreId: uuidArb,
    revisions: revisionSetArb,
    bump: bumpArb,
    etcdutl: fc.constant({ command: "etcdutl", version: "3.5.16", bumpRevision: true, markCompacted: true }),
    snapshotBytes: fc.integer({ min: 0, max: 2 ** 40 }),
    resourcesBytes: fc.integer({ min: 0, max: 2 ** 30 }),
    existing: fc.constant([]),
    partialRestores: fc.uniqueArray(uuidArb, { maxLength: 2 }),
    keepControlPlaneRunning: fc.boolean(),
    snapshotCopyLinked: fc.boolean(),
  })
  .chain((input) =>
    fc
      .record({
        existing: fc.subarray([...pathsToObserve(input.revisions, undefined, input.partialRestores)]),
        snapshotCopy: fc.option(fc.constantFrom("/var/lib/etcd-backup/snapshot.db", `/var/lib/etcd-backup/snapshot.db.${input.restoreId}`), { nil: undefined }),
        separateDataDisk: fc.option(
          fc.record(
            {
              memberBytes: fc.nat({ max: 2 ** 40 }),
              partialRestoresBytes: fc.nat({ max: 2 ** 30 }),
              memberCopyBytes: fc.nat({ max: 2 ** 41 }),
              partialRestoresCopyBytes: fc.nat({ max: 2 ** 31 }),
            },
            { requiredKeys: ["memberBytes", "partialRestoresBytes"] },
          ),
          { nil: undefined },
        ),
      })
      .map(({ existing, snapshotCopy, separateDataDisk }) => ({
        ...input,
        existing,
        ...(snapshotCopy === undefined ? {} : { snapshotCopy }),
        ...(separateDataDisk === undefined ? {} : { separateDataDisk }),
      })),
  )

const allPaths = (p: RestorePlan) =>
  p.steps.flatMap((s) => [
    ...s.touches,
    ...s.preconditions.flatMap((c) => ("path" in c ? [c.path] : "manifest" in c ? [c.manifest] : "snapshot" in c ? [c.snapshot, c.resources] : [])),
  ])

describe("planRestore", () => {
  it("lays out the steps of cluster-restore.sh, in order, with the exact etcdutl command", () => {
    const p = plan(baseInput)
    expect(p.steps.map((s) => s.id)).toEqual(stepIds.filter((id) => id !== "set-aside-partial-restores"))
    expect(p.peerUrl).toBe("https://10.0.0.1:2380")
    expect(p.clusterToken).toBe("openshift-etcd-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71")
    const restore = p.steps.find((s) => s.id === "restore-snapshot")?.actions[0]
    expect(restore).toMatchObject({
      _tag: "RunCommand",
      argv: [
        "/usr/local/bin/etcdutl",
        "snapshot",
        "restore",
        "/var/lib/etcd-backup/snapshot.db",
        "--name",
        "master-0",
        "--initial-cluster",
        "master-0=https://10.0.0.1:2380",
        "--initial-cluster-token",
        "openshift-etcd-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
        "--initial-advertise-peer-urls",
        "https://10.0.0.1:2380",
        "--data-dir",
        "/var/lib/etcd/restore-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
        "--skip-hash-check=false",
        "--mark-compacted",
        "--bump-revision",
        "494832",
      ],
    })
  })

  it("keeps an earlier kept member: the old data goes to a unique name", () => {
    const keep = plan(baseInput).steps.find((s) => s.id === "keep-old-member")
    expect(keep?.actions).toContainEqual({ _tag: "Move", from: "/var/lib/etcd/member", to: "/var/lib/etcd-backup/member.0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71" })
    const fresh = plan({ ...baseInput, existing: ["/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd/member"] })
    expect(fresh.steps.find((s) => s.id === "keep-old-member")?.actions).toContainEqual({
      _tag: "Move",
      from: "/var/lib/etcd/member",
      to: "/var/lib/etcd-backup/member",
    })
  })

  it("moves existing revision directories aside and installs the backup's etcd manifest", () => {
    const p = plan(baseInput)
    const extract = p.steps.find((s) => s.id === "restore-resources")
    expect(extract?.actions[0]).toEqual({
      _tag: "ExtractArchive",
      archive: "/home/core/backup/static_kuberesources_2024-05-01_101500.tar.gz",
      target: "/etc/kubernetes",
      units: [
        "static-pod-resources/etcd-pod-8",
        "static-pod-resources/kube-apiserver-pod-14",
        "static-pod-resources/kube-controller-manager-pod-9",
        "static-pod-resources/kube-scheduler-pod-7",
      ],
      moveExistingTo: "/etc/kubernetes/static-pod-resources-replaced-by-restore-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
    })
    expect(p.steps.find((s) => s.id === "start-etcd")?.actions).toEqual([
      {
        _tag: "CopyFile",
        from: "/etc/kubernetes/static-pod-resources/etcd-pod-8/etcd-pod.yaml",
        to: "/etc/kubernetes/manifests/etcd-pod.yaml",
        mode: 0o600,
        hiddenPart: true,
      },
    ])
  })

  it("stops the other control-plane pods before etcd and starts them from the backup's revisions after it, as cluster-restore.sh does", () => {
    const p = plan({ ...baseInput, existing: [...baseInput.existing, "/etc/kubernetes/manifests-stopped/kube-scheduler-pod.yaml"] })
    const pods = ["kube-apiserver-pod", "kube-controller-manager-pod", "kube-scheduler-pod"]
    const stop = p.steps.find((s) => s.id === "stop-control-plane")
    expect(stop?.actions).toEqual([
      { _tag: "CreateDirectory", path: "/etc/kubernetes/manifests-stopped", mode: 0o700 },
      { _tag: "Move", from: "/etc/kubernetes/manifests/kube-apiserver-pod.yaml", to: "/etc/kubernetes/manifests-stopped/kube-apiserver-pod.yaml" },
      {
        _tag: "Move",
        from: "/etc/kubernetes/manifests/kube-controller-manager-pod.yaml",
        to: "/etc/kubernetes/manifests-stopped/kube-controller-manager-pod.yaml",
      },
      // An earlier restore's stopped copy is kept: this one gets a name of its own.
      {
        _tag: "Move",
        from: "/etc/kubernetes/manifests/kube-scheduler-pod.yaml",
        to: "/etc/kubernetes/manifests-stopped/kube-scheduler-pod.yaml.0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
      },
    ])
    expect(stop?.undo).toHaveLength(3)
    expect(p.steps.find((s) => s.id === "wait-control-plane-stopped")?.actions).toEqual([
      {
        _tag: "WaitUntilStopped",
        what: "the control plane",
        containers: ["kube-apiserver", "kube-controller-manager", "kube-scheduler"],
        programs: ["kube-apiserver", "kube-controller-manager", "kube-scheduler"],
        ports: [6443, 10257, 10259],
        timeoutSeconds: 300,
      },
    ])
    const revisionOf = { "kube-apiserver-pod": 14, "kube-controller-manager-pod": 9, "kube-scheduler-pod": 7 } as Record<string, number>
    expect(p.steps.at(-1)?.id).toBe("start-control-plane")
    expect(p.steps.at(-1)?.actions).toEqual(
      pods.map((pod) => ({
        _tag: "CopyFile",
        from: `/etc/kubernetes/static-pod-resources/${pod}-${revisionOf[pod]}/${pod}.yaml`,
        to: `/etc/kubernetes/manifests/${pod}.yaml`,
        mode: 0o600,
        hiddenPart: true,
      })),
    )

    const kept = plan({ ...baseInput, keepControlPlaneRunning: true })
    expect(kept.steps.map((s) => s.id)).toEqual(
      stepIds.filter((id) => !["set-aside-partial-restores", "stop-control-plane", "wait-control-plane-stopped", "start-control-plane"].includes(id)),
    )
    expect(kept.steps.flatMap((s) => s.touches).filter((path) => pods.some((pod) => path.includes(`/${pod}.yaml`)))).toEqual([])
  })

  it("continues a partial run: steps already done are left out", () => {
    const p = plan({ ...baseInput, existing: ["/etc/kubernetes/manifests-stopped/etcd-pod.yaml", "/var/lib/etcd-backup/member"] })
    expect(p.steps.map((s) => s.id)).toEqual([
      "check-snapshot",
      "wait-control-plane-stopped",
      "wait-etcd-stopped",
      "restore-resources",
      "copy-snapshot",
      "restore-snapshot",
      "install-member",
      "start-etcd",
      "start-control-plane",
    ])
  })

  it("refuses an etcdutl without --bump-revision/--mark-compacted, unless --no-bump", () => {
    const old = { command: "etcdutl", version: "3.4.27", bumpRevision: false, markCompacted: false }
    const refused = planRestore({ ...baseInput, etcdutl: old })
    expect(refused).toMatchObject({ failure: { _tag: "RestorePlanRefused", reason: "etcdutl-too-old" } })
    expect(Result.isFailure(refused) && refused.failure.message).toContain("--bump-revision or --mark-compacted")
    const p = plan({ ...baseInput, etcdutl: old, bump: revisionBump(revisionJson, { noBump: true }) })
    const argv = p.steps.find((s) => s.id === "restore-snapshot")?.actions[0]
    expect(argv?._tag === "RunCommand" && argv.argv).not.toContain("--mark-compacted")
    expect(argv?._tag === "RunCommand" && argv.argv).not.toContain("--bump-revision")
  })

  it("brackets an IPv6 peer address", () => {
    expect(plan({ ...baseInput, nodeIp: "fd00::1" }).peerUrl).toBe("https://[fd00::1]:2380")
  })

  it("decodes its input at the boundary, reporting every bad field", () => {
    const bad = decodeRestorePlanInput({ ...baseInput, root: "relative", memberName: "a,b=c", nodeIp: "10.0.0.300", restoreId: "x", snapshotFile: "../x.db" })
    expect(Result.isFailure(bad)).toBe(true)
    const message = Result.isFailure(bad) ? bad.failure.message : ""
    for (const field of ["root", "memberName", "nodeIp", "restoreId", "snapshotFile"]) expect(message).toContain(field)
    expect(Result.isSuccess(decodeRestorePlanInput(baseInput))).toBe(true)
  })

  it("property: every path the plan touches or checks is under root", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const path of allPaths(plan(input))) {
          expect(path === input.root || path.startsWith(input.root === "/" ? "/" : `${input.root}/`)).toBe(true)
          expect(posix.normalize(path)).toBe(path)
        }
      }),
      { numRuns: 300 },
    )
  })

  it("property: on a dedicated etcd disk every move between etcd's data and the kept data may copy, with room for it; elsewhere every move is a rename", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = plan(input)
        const data = posix.join(input.root, "/var/lib/etcd")
        const kept = posix.join(input.root, "/var/lib/etcd-backup")
        const under = (dir: string, path: string) => path.startsWith(`${dir}/`)
        for (const s of p.steps) {
          for (const a of [...s.actions, ...s.undo]) {
            if (a._tag !== "Move") continue
            const between = (under(data, a.from) && under(kept, a.to)) || (under(kept, a.from) && under(data, a.to))
            expect(a.acrossFileSystems === true, `${s.id}: ${a.from} -> ${a.to}`).toBe(between && input.separateDataDisk !== undefined)
          }
          // What a failed step says of its moves is what they are: a copy off a dedicated disk is no atomic rename.
          if (s.actions.some((a) => a._tag === "Move" && a.acrossFileSystems === true)) {
            expect(s.onFailure, s.id).not.toMatch(/atomic/)
            expect(s.onFailure, s.id).toContain("a copy off etcd's disk")
          }
        }
        const room = (id: string) =>
          p.steps.find((s) => s.id === id)?.preconditions.find((c) => c._tag === "FreeSpace" && c.path === kept) as { bytes: number } | undefined
        const disk = input.separateDataDisk
        // The room a copy takes (a sparse file's holes written as zeros), its footprint when not measured; the footprint is what the move frees.
        if (p.steps.some((s) => s.id === "keep-old-member")) expect(room("keep-old-member")?.bytes).toBe(disk?.memberCopyBytes ?? disk?.memberBytes)
        if (p.steps.some((s) => s.id === "set-aside-partial-restores"))
          expect(room("set-aside-partial-restores")?.bytes).toBe(disk?.partialRestoresCopyBytes ?? disk?.partialRestoresBytes)
        const freed = (disk?.memberBytes ?? 0) + (disk?.partialRestoresBytes ?? 0)
        const onData = p.steps.find((s) => s.id === "restore-snapshot")!.preconditions.find((c) => c._tag === "FreeSpace")
        expect(onData).toMatchObject({ path: data, bytes: 2 * input.snapshotBytes + walAllowanceBytes })
        expect(onData?._tag === "FreeSpace" ? onData.freedBefore : "none").toBe(freed === 0 ? undefined : freed)
      }),
      { numRuns: 300 },
    )
  })

  it("property: the steps keep their fixed order", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const ids = plan(input).steps.map((s) => stepIds.indexOf(s.id))
        expect(ids).toEqual([...ids].sort((a, b) => a - b))
        expect(ids).not.toContain(-1)
        for (const required of ["check-snapshot", "wait-etcd-stopped", "restore-resources", "restore-snapshot", "install-member", "start-etcd"] as const) {
          expect(plan(input).steps.map((s) => s.id)).toContain(required)
        }
        // The snapshot is copied unless a verified copy is there already; an interrupted restore's output is set aside.
        expect(plan(input).steps.some((s) => s.id === "copy-snapshot")).toBe(input.snapshotCopy === undefined)
        // Its copy asks for room unless it will be a hard link.
        const copyRoom = plan(input)
          .steps.filter((s) => s.id === "copy-snapshot")
          .flatMap((s) => s.preconditions)
          .filter((c) => c._tag === "FreeSpace")
        expect(copyRoom).toEqual(
          input.snapshotCopy !== undefined || input.snapshotCopyLinked === true
            ? []
            : [{ _tag: "FreeSpace", path: posix.join(input.root, "/var/lib/etcd-backup"), bytes: input.snapshotBytes }],
        )
        expect(plan(input).steps.some((s) => s.id === "set-aside-partial-restores")).toBe((input.partialRestores ?? []).length > 0)
        // The other control-plane pods are waited for and started unless kept running; stopped only where their manifest is in place.
        // Kept running, a pod an earlier restore stopped (out of the kubelet's directory, its stopped copy there) is started all the same.
        const steps = plan(input).steps
        const stepsRun = steps.map((s) => s.id)
        const stopping = input.keepControlPlaneRunning !== true
        const pods = ["kube-apiserver-pod.yaml", "kube-controller-manager-pod.yaml", "kube-scheduler-pod.yaml"]
        const has = (dir: string, pod: string) => input.existing.includes(`/etc/kubernetes/${dir}/${pod}`)
        const leftStopped = pods.filter((pod) => !has("manifests", pod) && has("manifests-stopped", pod))
        const started = stopping ? pods : leftStopped
        expect(stepsRun.includes("wait-control-plane-stopped")).toBe(stopping)
        expect(steps.find((s) => s.id === "start-control-plane")?.actions.map((a) => (a._tag === "CopyFile" ? posix.basename(a.to) : a._tag)) ?? []).toEqual(
          started,
        )
        expect(stepsRun.includes("stop-control-plane")).toBe(stopping && pods.some((pod) => has("manifests", pod)))
        expect(stepsRun.at(-1)).toBe(started.length > 0 ? "start-control-plane" : "start-etcd")
      }),
      { numRuns: 300 },
    )
  })

  it("property: the bump passed to etcdutl is the plan's bump, at least 1.2 x the max raft index", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = plan(input)
        const action = p.steps.find((s) => s.id === "restore-snapshot")?.actions[0]
        const argv = action?._tag === "RunCommand" ? action.argv : []
        const at = argv.indexOf("--bump-revision")
        if (input.bump._tag === "Disabled") {
          expect(at).toBe(-1)
          expect(argv).not.toContain("--mark-compacted")
        } else {
          expect(BigInt(argv[at + 1] as string)).toBe(input.bump.amount)
          expect(argv).toContain("--mark-compacted")
          if (input.bump._tag === "FromRaftIndex") expect(input.bump.amount * 5n >= input.bump.maxRaftIndex * 6n).toBe(true)
        }
      }),
      { numRuns: 200 },
    )
  })

  it("property: what the plan takes from the backup directory is checked against the verification (a file swapped in after it is refused)", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = plan(input)
        const backup = (path: string) => path.startsWith(`${posix.join(input.root, input.backupDir)}/`)
        for (const a of p.steps.flatMap((s) => s.actions)) {
          if (a._tag === "CopyFile" && backup(a.from)) expect(a.checkedAgainstVerifiedSnapshot).toBe(true)
          // The extraction always checks the archive against the verified tarball (restore-executor.ts).
          if (a._tag === "ExtractArchive") expect(backup(a.archive)).toBe(true)
          // etcdutl reads only the copy in the kept-data directory (checked as it was made), never the backup's file.
          if (a._tag === "RunCommand" && a.writes.length > 0) expect(a.reads.some(backup)).toBe(false)
        }
      }),
      { numRuns: 200 },
    )
  })

  it("property: no step deletes anything; it only moves, copies, creates or runs etcdutl (which writes a new directory)", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = plan(input)
        const existing = new Set(input.existing.map((e) => posix.join(input.root, e)))
        for (const s of p.steps) {
          for (const a of [...s.actions, ...s.undo]) {
            expect([
              "RunCommand",
              "CreateDirectory",
              "Move",
              "CopyFile",
              "ExtractArchive",
              "WaitUntilStopped",
              "RemoveEmptyDirectory",
              "RecordRestoredMember",
            ]).toContain(a._tag)
            // The one file replaced is the record of the restored member, this tool's own, right before that member moves into place.
            if (a._tag === "RecordRestoredMember") {
              expect(s.id).toBe("install-member")
              expect(a.record).toBe(posix.join(input.root, "/var/lib/etcd-backup/restored-member.json"))
              const next = s.actions[s.actions.indexOf(a) + 1]
              expect(next).toEqual({ _tag: "Move", from: a.member, to: posix.join(input.root, "/var/lib/etcd/member") })
            }
            // The only removal is rmdir of etcdutl's output directory once its member moved out.
            if (a._tag === "RemoveEmptyDirectory") {
              expect(s.id).toBe("install-member")
              expect(a.path).toBe(posix.join(input.root, `/var/lib/etcd/restore-${input.restoreId}`))
            }
            if (a._tag === "RunCommand") expect(a.argv.slice(1, 3)).toEqual(a.writes.length === 0 ? ["snapshot", "status"] : ["snapshot", "restore"])
          }
          // Played in order on the observed host, no action lands on something that exists: nothing is overwritten.
          for (const a of s.actions) {
            const landsOn = a._tag === "Move" || a._tag === "CopyFile" ? [a.to] : a._tag === "RunCommand" ? a.writes : []
            for (const path of landsOn) expect(existing.has(path)).toBe(false)
            if (a._tag === "Move") {
              for (const path of [...existing]) {
                if (path === a.from || path.startsWith(`${a.from}/`)) {
                  existing.delete(path)
                  existing.add(a.to + path.slice(a.from.length))
                }
              }
            }
            if (a._tag === "CopyFile") existing.add(a.to)
            if (a._tag === "RunCommand") for (const w of a.writes) existing.add(posix.join(w, "member"))
            if (a._tag === "ExtractArchive") {
              for (const unit of a.units) {
                const destination = posix.join(a.target, unit)
                if (existing.delete(destination)) existing.add(posix.join(a.moveExistingTo, unit))
                existing.add(destination)
              }
            }
          }
          // Each destination is checked to be absent right before the step.
          for (const a of s.actions) {
            if (a._tag === "Move" || a._tag === "CopyFile") {
              expect(s.preconditions).toContainEqual({ _tag: "PathAbsent", path: a.to })
            }
          }
        }
      }),
      { numRuns: 200 },
    )
  })

  it("property: every touched path is listed in `touches`", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const s of plan(input).steps) for (const a of s.actions) for (const path of actionPaths(a)) expect(s.touches).toContain(path)
      }),
      { numRuns: 100 },
    )
  })
})

describe("renderRestorePlan", () => {
  it("property: every precondition is checked either before any change (once) or right before its step", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = plan(input)
        const upfront = upfrontPreconditions(p)
        const runTime = runTimePreconditions(p)
        expect(new Set(upfront.map((c) => JSON.stringify(c))).size).toBe(upfront.length)
        for (const [i, s] of p.steps.entries()) {
          for (const c of s.preconditions) {
            const before = upfront.some((u) => JSON.stringify(u) === JSON.stringify(c))
            const atStep = runTime.some((r) => r.number === i + 1 && r.step === s.id && JSON.stringify(r.precondition) === JSON.stringify(c))
            expect(before !== atStep).toBe(true)
            expect(before).toBe(isUpfront(c))
          }
        }
      }),
    )
  })

  it("property: every directory a step writes into is checked before any change (a directory, links only where the step follows them)", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = plan(input)
        const checked = upfrontPreconditions(p).flatMap((c) => (c._tag === "IsDirectory" ? [c] : []))
        const host = (path: string) => posix.join(input.root, path)
        const written = p.steps.flatMap((s) =>
          s.actions.flatMap((a) =>
            a._tag === "Move" || a._tag === "CopyFile"
              ? [posix.dirname(a.to)]
              : a._tag === "ExtractArchive"
                ? a.units.map((u) => posix.dirname(posix.join(a.target, u)))
                : [],
          ),
        )
        for (const dir of written) {
          const covered = checked.some((c) => c.path === dir || dir.startsWith(`${c.path}/`))
          expect(covered, dir).toBe(true)
        }
        const resources = checked.find((c) => c.path === host("/etc/kubernetes/static-pod-resources"))
        expect(resources).toMatchObject({ linkAllowed: false, mayBeAbsent: true })
      }),
      { numRuns: 200 },
    )
  })

  it("the dry run's check report lists every check, the run-time preconditions and the verdict", () => {
    const p = plan(baseInput)
    const passing = renderPreflight(p, [{ what: "a" }, { what: "b" }])
    expect(passing).toContain("\n  check    a: ok\n  check    b: ok\n")
    expect(passing).toContain("11. install-member: /var/lib/etcd/member does not exist\n")
    expect(passing).toMatch(
      /Dry run: every check that can be made now passes; a real run would start\. Nothing was changed\.\nBefore the real run, on every other control-plane host: cluster-backup stand-down \(.* moves etcd's data aside; README: After the restore\)\.\n$/,
    )
    const refused = renderPreflight(p, [{ what: "a" }, { what: "b", unmet: "found: nothing" }])
    expect(refused).toContain("  check    b: NOT MET (found: nothing)\n")
    expect(refused).toContain("Dry run: a real run would refuse before any change (1 of 2 checks not met). Nothing was changed.\nBefore the real run")
  })

  it("moves an interrupted restore's output aside after etcd stopped, to a free name, and can undo it", () => {
    const earlier = "11111111-2222-4333-8444-555555555555"
    const p = plan({ ...baseInput, partialRestores: [earlier], existing: [...baseInput.existing, `/var/lib/etcd-backup/failed-restore-${earlier}`] })
    const ids = p.steps.map((s) => s.id)
    expect(ids.indexOf("set-aside-partial-restores")).toBe(ids.indexOf("wait-etcd-stopped") + 1)
    const setAside = p.steps.find((s) => s.id === "set-aside-partial-restores")!
    const to = `/var/lib/etcd-backup/failed-restore-${earlier}.${baseInput.restoreId}`
    expect(setAside.actions).toContainEqual({ _tag: "Move", from: `/var/lib/etcd/restore-${earlier}`, to })
    expect(setAside.undo).toEqual([{ _tag: "Move", from: to, to: `/var/lib/etcd/restore-${earlier}` }])
    expect(setAside.preconditions.map((c) => c._tag)).toContain("EtcdStopped")
    expect(plan(baseInput).steps.map((s) => s.id)).not.toContain("set-aside-partial-restores")
  })

  it("restores from a verified snapshot copy an interrupted restore left, instead of copying again", () => {
    const p = plan({ ...baseInput, snapshotCopy: "/var/lib/etcd-backup/snapshot.db.11111111-2222-4333-8444-555555555555" })
    expect(p.steps.map((s) => s.id)).not.toContain("copy-snapshot")
    const restoreStep = p.steps.find((s) => s.id === "restore-snapshot")!
    expect(restoreStep.actions[0]).toMatchObject({ reads: ["/var/lib/etcd-backup/snapshot.db.11111111-2222-4333-8444-555555555555"] })
    expect(isSnapshotCopyName("snapshot.db")).toBe(true)
    expect(isSnapshotCopyName("snapshot.db.11111111-2222-4333-8444-555555555555")).toBe(true)
    for (const name of ["snapshot.db.part", "snapshot.db.x", "snapshot.db.11111111-2222-4333-8444-555555555555.part", "snap.db"])
      expect(isSnapshotCopyName(name), name).toBe(false)
  })

  it("matches the golden dry-run text", () => {
    const goldenFile = new URL("./golden/restore-plan-dry-run.txt", import.meta.url)
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(goldenFile, renderRestorePlan(plan(baseInput)))
    expect(renderRestorePlan(plan(baseInput))).toBe(readFileSync(goldenFile, "utf8"))
  })

  it("property: rendering is a function of the plan (same input, same text) and shows the exact etcdutl command", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const text = renderRestorePlan(plan(input))
        expect(renderRestorePlan(plan(input))).toBe(text)
        const action = plan(input).steps.find((s) => s.id === "restore-snapshot")?.actions[0]
        if (action?._tag === "RunCommand") expect(text).toContain(action.argv.map(shellQuote).join(" "))
      }),
      { numRuns: 50 },
    )
  })

  it("quotes shell words so they read back unchanged", () => {
    expect(shellQuote("--name")).toBe("--name")
    expect(shellQuote("a b")).toBe("'a b'")
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
  })
})

describe("readsAfterMoved", () => {
  const planOf = (input: RestorePlanInput) => Result.getOrThrow(planRestore(input))

  it("finds nothing for a backup outside what the plan moves", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        expect(readsAfterMoved(planOf(input))).toEqual([])
      }),
    )
  })

  it("finds the backup's reads when it is kept inside etcd's member directory or a revision directory the plan replaces", () => {
    fc.assert(
      fc.property(inputArb, fc.constantFrom("/var/lib/etcd/member/bk", "/etc/kubernetes/static-pod-resources/etcd-pod-3/bk"), (input, inside) => {
        const { snapshotCopy: _, ...rest } = input
        const existing = [...new Set([...input.existing, "/var/lib/etcd/member", "/etc/kubernetes/static-pod-resources/etcd-pod-3"])]
        const plan = planOf({ ...rest, revisions: { ...input.revisions, etcd: 3 }, backupDir: inside, existing })
        const found = readsAfterMoved(plan)
        expect(found.length).toBeGreaterThan(0)
        for (const r of found) {
          expect([plan.snapshot, plan.resources]).toContain(r.read)
          expect(r.read.startsWith(`${r.moved}/`)).toBe(true)
        }
      }),
    )
  })
})

describe("planStandDown (the other control-plane hosts, before the restore)", () => {
  const standDownId = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
  // The recovery host's pods and etcd data, without what an earlier restore kept there.
  const running = baseInput.existing.filter((path) => path.startsWith("/etc/kubernetes/manifests/") || path.startsWith("/var/lib/etcd/"))

  it("stops the control plane, then etcd, and keeps etcd's data aside; it reads no backup and starts nothing", () => {
    const p = planStandDown({ root: "/", standDownId, existing: running })
    expect(p.steps.map((s) => s.id)).toEqual([
      "stop-control-plane",
      "wait-control-plane-stopped",
      "stop-etcd",
      "wait-etcd-stopped",
      "keep-old-member",
      "keep-revision-json",
    ])
    expect(p.steps.find((s) => s.id === "keep-old-member")?.actions.slice(1)).toEqual([
      {
        _tag: "RecordStandDown",
        record: "/var/lib/etcd-backup/stood-down.json",
        standDownId,
        moved: fullHostStandDownMoves,
      },
      { _tag: "Move", from: "/var/lib/etcd/member", to: "/var/lib/etcd-backup/member" },
    ])
    expect(p.steps.flatMap((s) => s.actions).filter((a) => ["RunCommand", "CopyFile", "ExtractArchive"].includes(a._tag))).toEqual([])
    expect(p.steps.flatMap((s) => s.onFailure).join(" ")).not.toContain("the restore")
    const text = renderStandDownPlan(p)
    expect(text.startsWith(`Stand-down plan stand-down-${standDownId}\n  root:       /\n\n 1. stop-control-plane:`)).toBe(true)
    expect(renderPreflight(p, [{ what: "a" }])).toMatch(
      /Then, once every other control-plane host is stood down: cluster-backup restore <backup> on the recovery host/,
    )
    // Run again once done: only the waits are left, which find everything stopped.
    const done = planStandDown({
      root: "/",
      standDownId,
      existing: ["/etc/kubernetes/manifests-stopped/etcd-pod.yaml", "/var/lib/etcd-backup/member", "/var/lib/etcd-backup/revision.json"],
    })
    expect(done.steps.map((s) => s.id)).toEqual(["wait-control-plane-stopped", "wait-etcd-stopped"])
  })

  it("property: its steps are exactly the restore's stopping steps for the same host, and each depends only on paths it observes", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const host = { root: input.root, existing: input.existing.filter((path) => stopPathsToObserve(undefined, input.partialRestores).includes(path)) }
        const standDown = planStandDown({
          ...host,
          standDownId: input.restoreId,
          ...(input.partialRestores === undefined ? {} : { partialRestores: input.partialRestores }),
          ...(input.separateDataDisk === undefined ? {} : { separateDataDisk: input.separateDataDisk }),
        })
        const restore = plan({ ...input, ...host, keepControlPlaneRunning: false })
        const from = 1
        const to = restore.steps.findIndex((s) => s.id === "restore-resources")
        const restoreStopping = restore.steps.slice(from, to)
        expect(standDown.steps.map((s) => s.id)).toEqual(restoreStopping.map((s) => s.id))
        // The record names exactly the moves of its run's steps (but an interrupted restore's output's), on the host.
        const onHost = (path: string) => `/${posix.relative(input.root, path)}`
        const moved = standDown.steps
          .filter((s) => s.id !== "set-aside-partial-restores")
          .flatMap((s) => s.actions)
          .flatMap((a) => (a._tag === "Move" ? [{ from: onHost(a.from), to: onHost(a.to) }] : []))
        standDown.steps.forEach((s, i) => {
          // Besides, a stand-down records itself right before it moves the member aside: a restore here then refuses.
          const record = {
            _tag: "RecordStandDown",
            record: posix.join(input.root, "/var/lib/etcd-backup/stood-down.json"),
            standDownId: input.restoreId,
            moved,
          }
          const recorded = s.actions.filter((a) => a._tag === "RecordStandDown")
          expect(recorded).toEqual(s.id === "keep-old-member" ? [record] : [])
          if (s.id === "keep-old-member")
            expect(s.actions[s.actions.indexOf(recorded[0]!) + 1]).toMatchObject({ _tag: "Move", from: posix.join(input.root, "/var/lib/etcd/member") })
          expect(s.actions.filter((a) => a._tag !== "RecordStandDown")).toEqual(restoreStopping[i]!.actions)
          expect(s.preconditions).toEqual(restoreStopping[i]!.preconditions)
          expect(s.undo).toEqual(restoreStopping[i]!.undo)
        })
        for (const path of standDown.steps.flatMap((s) => s.touches)) {
          expect(
            ["/etc/kubernetes/manifests", "/etc/kubernetes/manifests-stopped", "/var/lib/etcd", "/var/lib/etcd-backup"].some((dir) =>
              path.startsWith(posix.join(input.root, dir)),
            ),
          ).toBe(true)
        }
      }),
      { numRuns: 200 },
    )
  })
})
