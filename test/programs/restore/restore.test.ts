/**
 * restore on a control-plane host simulated under a temporary root, with a backup made by the
 * backup pod's programs against etcd 3.5 and the real etcdutl: the dry run changes nothing and
 * prints the plan; a real run performs exactly the dry run's steps and leaves the host restored;
 * refusals change nothing; the wait for etcd to stop is observable and bounded; a step that
 * half-happened is undone, and running again finishes the restore.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  symlinkSync,
  watch,
  writeFileSync,
} from "node:fs"
import { hostname } from "node:os"
import { basename, dirname, join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { renderAction, renderRestorePlan } from "../../../src/domain/restore-plan-render.ts"
import { stepIds } from "../../../src/domain/host-steps.ts"
import type { RestoreOptions, RestoreOutcome } from "../../../src/programs/restore/restore.ts"
import { type StandDownOptions, standDown } from "../../../src/programs/restore/stand-down.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { HostProcesses, type HostProcessTable } from "../../../src/services/host-processes.ts"
import { etcdToolPath } from "../../../src/services/local-etcd.ts"
import { acquireRunLock } from "../../../src/services/run-lock.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import {
  badBackups,
  etcdOnDedicatedDisk,
  hostFiles,
  makeBackup,
  makeHostTree,
  readManifest,
  restoreOnHost,
  runningOperand,
  startSharedEtcd,
  type HostTree,
  type SharedEtcd,
} from "../../support/bad-backups.ts"
import { snapshotTree } from "../../support/hostile-tarballs.ts"
import { allInstallerFiles, loadedCluster, walk, type Loaded } from "../backup/backup-resources-harness.ts"
import { fullHostStandDownMoves } from "../../support/stand-down-moves.ts"

const restoreId = "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"
/** Every step but the one only a killed restore's leftovers need. */
const allSteps = stepIds.filter((id) => id !== "set-aside-partial-restores")

interface Ran {
  readonly exit: Exit.Exit<RestoreOutcome, unknown>
  readonly output: string
}

const layers = (etcdutl: Layer.Layer<Etcdutl> = Etcdutl.live(), disk: Layer.Layer<DiskSpace> = DiskSpace.live) =>
  Layer.mergeAll(etcdutl, disk, Tarball.live, NodeServices.layer)

const restoreEffect = (host: HostTree, options: Partial<RestoreOptions>, out: Array<string>, layer = layers(), hostProcesses = HostProcesses.live) =>
  restoreOnHost(host, out, { restoreId, ...options }, hostProcesses).pipe(Effect.provide(layer))

/** A restore of `host`; with `hostProcesses`, against that view of the host's processes (default: this machine's). */
const restore = async (host: HostTree, options: Partial<RestoreOptions> = {}, layer = layers(), hostProcesses = HostProcesses.live): Promise<Ran> => {
  const out: Array<string> = []
  const exit = await Effect.runPromise(Effect.exit(restoreEffect(host, options, out, layer, hostProcesses)))
  return { exit, output: out.join("") }
}

/** Restores of `host` as the host's / (as `oc debug node` mounts it), whose processes are `current()`: the host's processes and ports count. */
const restoreOnTheHost = (host: HostTree, current: () => HostProcessTable["processes"]) => (options: Partial<RestoreOptions>) =>
  restore(
    host,
    options,
    layers(),
    HostProcesses.inMemory(() => ({ processes: current(), hostRoot: host.root })),
  )

/** A stand-down of `host` (as on another control-plane host, or by mistake on this one); its output goes to `out`. */
const standDownOn = (host: HostTree, out: Array<string>, options: Partial<StandDownOptions> = {}) =>
  Effect.runPromise(
    Effect.exit(
      standDown({
        root: host.root,
        dryRun: false,
        standDownId: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        output: (text) => Effect.sync(() => void out.push(text)),
        ...options,
      }).pipe(Effect.provide(Layer.mergeAll(layers(), DurableFiles.live, HostProcesses.live))),
    ),
  )

/** kube-apiserver's, kube-controller-manager's and kube-scheduler's manifests under `host` are the backup's revisions of them. */
const expectControlPlaneAtBackupRevisions = (host: HostTree) => {
  const requested = readManifest(host.backupDir).revisions.requested
  const fixtureFiles = allInstallerFiles(loaded.fixture)
  for (const running of hostFiles.controlPlaneManifests) {
    const name = basename(running)
    const revision = requested[runningOperand(running) as keyof typeof requested]
    expect(read(host, running)).toBe(fixtureFiles.get(`static-pod-resources/${name.slice(0, -".yaml".length)}-${revision}/${name}`)!.bytes.toString())
  }
}

const failure = (ran: {
  readonly exit: Exit.Exit<unknown, unknown>
  readonly output: string
}): { readonly _tag: string; readonly message: string } & Record<string, unknown> => {
  if (Exit.isSuccess(ran.exit)) throw new Error(`expected a failure, the restore succeeded:\n${ran.output}`)
  const reason = ran.exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined) throw new Error(`expected a typed failure: ${Cause.pretty(ran.exit.cause)}`)
  return reason.error as { readonly _tag: string; readonly message: string }
}

const success = (ran: Ran): RestoreOutcome => {
  if (Exit.isFailure(ran.exit)) throw new Error(`restore failed: ${Cause.pretty(ran.exit.cause)}\n${ran.output}`)
  return ran.exit.value
}

const read = (host: HostTree, relative: string) => readFileSync(join(host.root, relative), "utf8")

/** An etcdutl that runs the real one, except where told to behave like an old or a failing one. */
const fakeEtcdutl = (dir: string, behaviour: "too-old" | "restore-fails"): string => {
  const path = join(dir, `etcdutl-${behaviour}`)
  const real = etcdToolPath("etcdutl")
  const lines =
    behaviour === "too-old"
      ? [
          'if [ "$1" = version ]; then echo "etcdutl version: 3.4.27"; echo "API version: 3.4"; exit 0; fi',
          'if [ "$1 $2 $3" = "snapshot restore --help" ]; then echo "Usage: etcdutl snapshot restore <filename> [options]"; echo "      --data-dir string"; echo "      --name string"; exit 0; fi',
        ]
      : [
          'if [ "$1 $2" = "snapshot restore" ] && [ "$3" != "--help" ]; then',
          '  while [ $# -gt 0 ]; do if [ "$1" = --data-dir ]; then mkdir -p "$2/member/snap"; echo partial > "$2/member/snap/db"; fi; shift; done',
          '  echo "Error: simulated failure after writing part of the data directory" >&2; exit 1',
          "fi",
        ]
  writeFileSync(path, ["#!/bin/bash", ...lines, `exec ${JSON.stringify(real)} "$@"`, ""].join("\n"))
  chmodSync(path, 0o755)
  return path
}

const onDedicatedDisk = (host: HostTree): string => etcdOnDedicatedDisk(host.root)

/** The step ids of a dry run's text (`" 3. wait-etcd-stopped: ..."`). */
const dryRunStepIds = (text: string) => [...text.matchAll(/^ ?\d+\. ([a-z-]+): /gm)].map((m) => m[1])

let etcd: SharedEtcd
let loaded: Loaded
let backup: string

beforeAll(async () => {
  etcd = await startSharedEtcd("restore")
  loaded = loadedCluster()
  backup = join(etcd.workDir, "backup")
  await Effect.runPromise(makeBackup(backup, etcd.member.connection, loaded))
})

afterAll(async () => {
  await etcd?.close()
})

describe("restore", () => {
  it("--dry-run prints exactly the plan and changes nothing", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const before = snapshotTree(host.root)
    const ran = await restore(host, { dryRun: true })
    const outcome = success(ran)
    expect(ran.output.startsWith(renderRestorePlan(outcome.plan)), ran.output).toBe(true)
    expect(ran.output).toMatch(/^ {2}check {4}the backup verifies \(.*\): ok$/m)
    expect(ran.output).toContain("Checked at run time, right before their step")
    expect(ran.output).toMatch(/^ {3}6\. keep-old-member: etcd is stopped \(/m)
    expect(ran.output).toContain("Dry run: every check that can be made now passes; a real run would start. Nothing was changed.")
    expect(outcome.ran).toEqual([])
    expect(outcome.plan.steps.map((s) => s.id)).toEqual(allSteps)
    expect(ran.output).toContain("member:     master-0 at https://10.0.0.5:2380")
    expect(ran.output).toContain("bump:       6000 (1.2 x the highest raft index 5000 recorded in revision.json, rounded up)")
    expect(snapshotTree(host.root)).toEqual(before)
  })

  it("a real run performs exactly the dry run's steps and actions, and leaves the host restored with nothing deleted", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const dry = await restore(host, { dryRun: true })
    const planned = success(dry).plan
    const real = await restore(host)
    const outcome = success(real)
    expect(real.output).not.toContain("Note: etcd's member here is the one")
    expect(outcome.ran).toEqual(dryRunStepIds(dry.output))
    expect(outcome.ran).toEqual(allSteps)
    // Every action line of the plan was printed as it ran, in the plan's order.
    const printed = real.output.split("\n")
    let at = 0
    for (const action of planned.steps.flatMap((s) => s.actions)) {
      const line = `    ${renderAction(action).split("\n")[0]}`
      const found = printed.indexOf(line, at)
      expect(found, `printed ${line}`).toBeGreaterThanOrEqual(at)
      at = found + 1
    }

    const manifest = readManifest(host.backupDir)
    const fixtureFiles = allInstallerFiles(loaded.fixture)
    // etcd runs again from the backup's revision of its manifest; the stopped one is kept.
    expect(read(host, hostFiles.runningManifest)).toBe(fixtureFiles.get("static-pod-resources/etcd-pod-3/etcd-pod.yaml")!.bytes.toString())
    expect(read(host, "etc/kubernetes/manifests-stopped/etcd-pod.yaml")).toBe("kind: Pod # the running etcd\n")
    // So do kube-apiserver, kube-controller-manager and kube-scheduler, their stopped manifests kept too.
    expectControlPlaneAtBackupRevisions(host)
    for (const running of hostFiles.controlPlaneManifests) {
      expect(read(host, `etc/kubernetes/manifests-stopped/${basename(running)}`)).toBe(`kind: Pod # ${runningOperand(running)}\n`)
    }
    // Old data kept, the restored member in place, the data directory otherwise empty.
    expect(read(host, "var/lib/etcd-backup/member/snap/db")).toBe("old etcd data\n")
    expect(read(host, "var/lib/etcd-backup/revision.json")).toContain('"maxRaftIndex":5000')
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual(["member"])
    expect(existsSync(join(host.root, "var/lib/etcd/member/snap/db"))).toBe(true)
    // The record names the member now in place, so that a stand-down here refuses to move it aside.
    const inPlace = lstatSync(join(host.root, "var/lib/etcd/member"), { bigint: true })
    const record = JSON.parse(read(host, "var/lib/etcd-backup/restored-member.json"))
    expect(record).toEqual({
      restoreId,
      backup: "/home/core/backup",
      restoredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/),
      member: { device: String(inPlace.dev), inode: String(inPlace.ino) },
    })
    expect(statSync(join(host.root, "var/lib/etcd-backup/restored-member.json")).mode & 0o777).toBe(0o600)
    const copy = join(host.root, "var/lib/etcd-backup/snapshot.db")
    expect(readFileSync(copy).equals(readFileSync(join(host.backupDir, manifest.files.snapshot.name)))).toBe(true)
    expect(statSync(copy).mode & 0o777).toBe(0o600)
    // The backup's snapshot (0600, ours, the same file system) is kept without a second copy of its bytes.
    const linked = statSync(copy).ino === statSync(join(host.backupDir, manifest.files.snapshot.name)).ino
    expect(real.output).toContain(linked ? "hard-linked: no data copied" : "reflinked: no data copied")
    // The revision directories are the backup's, byte for byte; the replaced one is kept.
    const restored = walk(join(host.root, "etc/kubernetes"))
    for (const [path, file] of fixtureFiles) {
      expect(restored.get(path)?.bytes?.equals(file.bytes), path).toBe(true)
      expect(restored.get(path)?.mode, path).toBe(file.mode)
    }
    expect(read(host, `etc/kubernetes/static-pod-resources-replaced-by-restore-${restoreId}/${hostFiles.oldRevision.slice("etc/kubernetes/".length)}`)).toBe(
      "kind: Pod # installed before the disaster\n",
    )
    expect(read(host, hostFiles.certs)).toBe("certificate\n")
    expect(real.output).toContain(`Restore restore-${restoreId} complete: 13 steps ran.`)
    expect(real.output).toContain("etcd is stopped: nothing uses")
    expect(real.output.trimEnd().split("\n").slice(-2)).toEqual([
      `  3. once the API answers, have every operator roll out a new revision, etcd first: cluster-backup redeploy --reason recovery-${restoreId}`,
      "  4. once the cluster is healthy and a new backup of it has verified, give back the space of what the recovery kept, on every control-plane host: cluster-backup prune-host (what was kept over 7 days ago; --dry-run lists it)",
    ])
  })

  it("after the restore, a stand-down run here by mistake refuses and changes nothing; it stands the host down only when told to", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    success(await restore(host))
    // A second restore here would take the running cluster back: refused, dry or real, and nothing changed; told to, its plan says what it does.
    const beforeAgain = snapshotTree(host.root)
    for (const dryRun of [true, false]) {
      const refusedAgain = failure(await restore(host, { dryRun, restoreId: "1c3e5a7b-9d2f-4b6a-8c1e-3f5a7b9d2f4b" }))
      expect(refusedAgain._tag).toBe("RestoreRefused")
      expect(refusedAgain.message).toContain(
        `restore-${restoreId} put the restored member of /home/core/backup in place here at ${JSON.parse(read(host, "var/lib/etcd-backup/restored-member.json")).restoredAt}`,
      )
      expect(refusedAgain.message).toContain("that restore is complete and the cluster runs from it")
      expect(refusedAgain.message).toContain("pass --even-after-restore")
    }
    expect(snapshotTree(host.root)).toEqual(beforeAgain)
    const again = await restore(host, { dryRun: true, restoreId: "1c3e5a7b-9d2f-4b6a-8c1e-3f5a7b9d2f4b", evenAfterRestore: true })
    success(again)
    expect(again.output).toContain("--even-after-restore given, restoring again: ok")
    expect(again.output).toContain(`Note: etcd's member here is the one restore-${restoreId} put in place at `)
    expect(again.output).toContain("what the cluster stored since that restore is then only in the kept member.")
    const out: Array<string> = []
    const standDownHere = (evenOnRecoveryHost: boolean) => standDownOn(host, out, { evenOnRecoveryHost })
    const before = snapshotTree(host.root)
    const refused = failure({ exit: await standDownHere(false), output: out.join("") })
    expect(refused._tag).toBe("RestoreRefused")
    expect(refused.message).toContain(`this is the recovery host: restore-${restoreId} put the restored member of /home/core/backup in place here at `)
    expect(refused.message).toContain("pass --even-on-recovery-host")
    expect(snapshotTree(host.root)).toEqual(before)

    const stood = await standDownHere(true)
    expect(Exit.isSuccess(stood), out.join("")).toBe(true)
    expect(out.join("")).toContain("--even-on-recovery-host given, standing this host down anyway: ok")
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual([])
    expect(existsSync(join(host.root, "var/lib/etcd-backup/member.7c9e6679-7425-40de-944b-e07fc1f90ae7/snap/db"))).toBe(true)
  })

  it("on a host stood down for a restore elsewhere, refuses, dry or real, until etcd has a member here again; restores here only when told to", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const out: Array<string> = []
    expect(Exit.isSuccess(await standDownOn(host, out)), out.join("")).toBe(true)
    const record = JSON.parse(read(host, "var/lib/etcd-backup/stood-down.json"))
    expect(record).toEqual({
      standDownId: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
      stoodDownAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/),
      // What it moved, named for stand-down --undo.
      moved: fullHostStandDownMoves,
    })
    const before = snapshotTree(host.root)
    for (const dryRun of [true, false]) {
      const error = failure(await restore(host, { dryRun }))
      expect(error._tag).toBe("RestoreRefused")
      expect(error.message).toContain(`this host was stood down (stand-down-7c9e6679-7425-40de-944b-e07fc1f90ae7 at ${record.stoodDownAt}`)
      expect(error.message).toContain("A restore here too would make a second, separate cluster beside the one restored there.")
      expect(error.message).toContain("pass --even-after-stand-down")
    }
    expect(snapshotTree(host.root)).toEqual(before)

    // Told to, it restores here (the restore elsewhere never ran); the stood-down pods start at the backup's revisions.
    const here = await restore(host, { evenAfterStandDown: true })
    expect(success(here).ran).toContain("install-member")
    expect(here.output).toContain("--even-after-stand-down given, restoring here: ok")
    expectControlPlaneAtBackupRevisions(host)
    // Etcd has a member here again: the record no longer applies (the restore just made is what refuses another now).
    const again = await restore(host, { dryRun: true, restoreId: "1c3e5a7b-9d2f-4b6a-8c1e-3f5a7b9d2f4b", evenAfterRestore: true })
    success(again)
    expect(again.output).toContain("but etcd has a member here again: the host rejoined): ok")
  })

  it("never shows the kubelet a partial or extra pod manifest: the start steps' copies go through a hidden .part", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const manifests = join(host.root, "etc/kubernetes/manifests")
    // The kubelet reads every file in its manifest directory that does not start with a dot as a static pod.
    const seen = new Set<string>()
    const watcher = watch(manifests, (_event, name) => {
      if (name !== null) seen.add(name)
    })
    try {
      success(await restore(host))
      await new Promise((resolve) => setTimeout(resolve, 100))
    } finally {
      watcher.close()
    }
    const pods = ["etcd-pod.yaml", "kube-apiserver-pod.yaml", "kube-controller-manager-pod.yaml", "kube-scheduler-pod.yaml"]
    expect([...seen].filter((name) => !name.startsWith(".")).sort()).toEqual(pods)
    expect(readdirSync(manifests).sort()).toEqual(pods)
  })

  it("refuses a backup that does not verify, before any change", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    await Effect.runPromise(badBackups[0]!.spoil(host.backupDir).pipe(Effect.provide(NodeServices.layer)))
    const before = snapshotTree(host.root)
    const ran = await restore(host)
    const error = failure(ran)
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toMatch(
      /^restore refused before any change: the backup does not verify: snapshot-trailer FAIL \(expected trailer [0-9a-f]{64}; found sha256 [0-9a-f]{64} of the \d+ bytes before it/,
    )
    expect(error.message).toContain("Nothing was changed.")
    expect(ran.output).toContain("NOT MET")
    expect(snapshotTree(host.root)).toEqual(before)
  })

  for (const bad of badBackups) {
    it(`--dry-run refuses ${bad.name} as the real run does, non-zero, and changes nothing`, async () => {
      const host = makeHostTree(etcd.workDir, backup)
      await Effect.runPromise(bad.spoil(host.backupDir).pipe(Effect.provide(NodeServices.layer)))
      const before = snapshotTree(host.root)
      const dry = await restore(host, { dryRun: true })
      const error = failure(dry)
      const real = failure(await restore(host))
      expect(error._tag).toBe(real._tag)
      expect(["RestoreRefused", "RestoreInputInvalid"]).toContain(error._tag)
      if (error._tag === "RestoreRefused") {
        expect(error.message).toMatch(/^dry run: a real restore would be refused before any change: the backup does not verify: /)
        for (const check of bad.failing) expect(error.message).toContain(`${check.id} FAIL`)
        expect(dry.output).toMatch(/^ {2}check {4}the backup verifies \(.*\): NOT MET \(the backup does not verify: /m)
        expect(dry.output).toContain("Dry run: a real run would refuse before any change")
      }
      expect(snapshotTree(host.root)).toEqual(before)
    })
  }

  it("refuses a symlinked /etc/kubernetes/static-pod-resources before etcd is stopped, dry or real, and says what to do", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const resources = join(host.root, "etc/kubernetes/static-pod-resources")
    const elsewhere = join(host.root, "srv/static-pod-resources")
    mkdirSync(join(host.root, "srv"))
    renameSync(resources, elsewhere)
    symlinkSync(elsewhere, resources)
    const before = snapshotTree(host.root)
    for (const dryRun of [true, false]) {
      const ran = await restore(host, { dryRun })
      const error = failure(ran)
      expect(error._tag).toBe("RestoreRefused")
      expect(error.message).toContain(`required: ${resources} is a directory, not a symbolic link, or absent; found: it is a symbolic link`)
      expect(error.message).toContain("replace the link by the directory it points to")
      expect(error.message).toContain("Nothing was changed.")
      expect(ran.output).not.toContain("[1/")
    }
    // etcd still runs from its manifest, its member in place.
    expect(read(host, hostFiles.runningManifest)).toBe("kind: Pod # the running etcd\n")
    expect(read(host, hostFiles.oldDb)).toBe("old etcd data\n")
    expect(snapshotTree(host.root)).toEqual(before)
  })

  it("refuses before any change when etcd's kept-data directory is not a directory", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    writeFileSync(join(host.root, "var/lib/etcd-backup"), "someone's file\n")
    const before = snapshotTree(host.root)
    const error = failure(await restore(host))
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toContain(
      `required: ${join(host.root, "var/lib/etcd-backup")} is a directory (or a symbolic link to one), or absent; found: it is a regular file, not a directory`,
    )
    // Named once, as what it is: no record can be in it, so none is called unreadable.
    expect(error.message).not.toContain("unreadable")
    expect(snapshotTree(host.root)).toEqual(before)
  })

  it("lets a stand-down record it cannot read be while etcd has a member here: the host is no stood-down one", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    mkdirSync(join(host.root, "var/lib/etcd-backup"), { recursive: true })
    execFileSync("mkfifo", [join(host.root, "var/lib/etcd-backup/stood-down.json")])
    const dry = await restore(host, { dryRun: true })
    success(dry)
    expect(dry.output).toContain("but etcd has a member here again: the host rejoined): ok")
  })

  // OpenShift's "moving etcd to a different disk": /var/lib/etcd is a file system of its own. Here it is a directory on
  // /dev/shm (a tmpfs), another file system than the root's, where the host's /var/lib/etcd points.
  it("restores a host whose etcd data directory is a disk of its own: the old member is copied into the kept-data directory, then removed", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const disk = onDedicatedDisk(host)
    try {
      const dry = await restore(host, { dryRun: true })
      success(dry)
      const member = join(host.root, "var/lib/etcd/member")
      const kept = join(host.root, "var/lib/etcd-backup/member")
      expect(dry.output).toContain(
        `move     ${member} -> ${kept} (from another file system: copied through a hidden .cluster-backup-part-, fsynced, renamed; only then the original removed)`,
      )
      expect(dry.output).toMatch(new RegExp(`requires \\d+ B free on the file system of ${join(host.root, "var/lib/etcd-backup")}\\n`))
      expect(dry.output).toMatch(/free on the file system of \S+\/var\/lib\/etcd, counting the \d+(\.\d)? (B|KiB) (\(\d+ bytes\) )?earlier steps move off it/)
      const real = await restore(host)
      expect(success(real).ran).toEqual(allSteps)
      expect(real.output).toContain("old data was kept, copied off etcd's disk before it was removed there.")
      // The old data is kept, whole, on the root's file system; the disk holds only the restored member.
      expect(read(host, "var/lib/etcd-backup/member/snap/db")).toBe("old etcd data\n")
      expect(read(host, "var/lib/etcd-backup/revision.json")).toContain('"maxRaftIndex":5000')
      expect(statSync(join(host.root, "var/lib/etcd-backup/member/snap/db")).mode & 0o777).toBe(0o600)
      expect(readdirSync(disk)).toEqual(["member"])
      expect(existsSync(join(disk, "member/snap/db"))).toBe(true)
      expect(readdirSync(join(host.root, "var/lib/etcd-backup")).filter((n) => n.startsWith(".cluster-backup-"))).toEqual([])
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  })

  it("removes the part and the trash of a move off etcd's disk that a killed restore left, and says so in the dry run", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const disk = onDedicatedDisk(host)
    try {
      const part = join(host.root, "var/lib/etcd-backup/.cluster-backup-part-member")
      mkdirSync(join(part, "snap"), { recursive: true })
      writeFileSync(join(part, "snap/db"), "old etc")
      const trash = join(host.root, "var/lib/etcd/.cluster-backup-trash-revision.json")
      writeFileSync(trash, "{}\n")
      const dry = await restore(host, { dryRun: true })
      success(dry)
      expect(dry.output).toContain(
        `check    ${part}, the partial copy of a move off etcd's disk that a killed restore left (the original was still in place), is removed by a real run before its first step: ok`,
      )
      expect(dry.output).toContain(
        `check    ${trash}, the original of a move off etcd's disk that a killed restore had already copied in full, is removed by a real run before its first step: ok`,
      )
      const real = await restore(host)
      success(real)
      expect(real.output).toContain(`removed  ${part}: the partial copy`)
      expect(real.output).toContain(`removed  ${trash}: the original of a move`)
      expect(readdirSync(disk)).toEqual(["member"])
      expect(read(host, "var/lib/etcd-backup/member/snap/db")).toBe("old etcd data\n")
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  })

  it("interrupted during the copy of the old member off etcd's disk, puts the member back and says so", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const disk = onDedicatedDisk(host)
    try {
      // A member big enough that its copy is still going on when the interruption comes.
      writeFileSync(join(disk, "member/snap/big"), Buffer.alloc(64 * 1024 * 1024, 1))
      const out: Array<string> = []
      const fiber = Effect.runFork(restoreEffect(host, {}, out, layers()))
      const part = join(host.root, "var/lib/etcd-backup/.cluster-backup-part-member")
      while (!existsSync(part)) await new Promise((resolve) => setTimeout(resolve, 1))
      await Effect.runPromise(Fiber.interrupt(fiber))
      expect(out.join("")).toContain("interrupted during keep-old-member; what it had changed was put back.")
      expect(read(host, "var/lib/etcd/member/snap/db")).toBe("old etcd data\n")
      expect(statSync(join(disk, "member/snap/big")).size).toBe(64 * 1024 * 1024)
      // The kept-data directory the step created is removed again, empty.
      expect(existsSync(join(host.root, "var/lib/etcd-backup"))).toBe(false)
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  })

  it("counts a sparse file of the old member at its whole size in the room its copy needs (the copy writes its holes as zeros), and only its blocks as freed", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const disk = onDedicatedDisk(host)
    try {
      // 64 MiB long, a few KiB allocated: a tmpfs keeps the hole.
      const sparse = join(disk, "member/snap/sparse")
      writeFileSync(sparse, "x")
      truncateSync(sparse, 64 * 1024 * 1024)
      expect(statSync(sparse).blocks * 512).toBeLessThan(1024 * 1024)
      const plan = success(await restore(host, { dryRun: true })).plan
      const room = (id: string) => plan.steps.find((s) => s.id === id)!.preconditions.flatMap((p) => (p._tag === "FreeSpace" ? [p] : []))
      expect(room("keep-old-member")[0]!.bytes).toBeGreaterThanOrEqual(64 * 1024 * 1024)
      expect(room("restore-snapshot")[0]!.freedBefore ?? 0).toBeLessThan(1024 * 1024)
      // What the copy really takes there.
      const real = await restore(host)
      success(real)
      const copy = join(host.root, "var/lib/etcd-backup/member/snap/sparse")
      expect(statSync(copy).size).toBe(64 * 1024 * 1024)
      expect(statSync(copy).blocks * 512).toBeLessThanOrEqual(room("keep-old-member")[0]!.bytes)
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  })

  it("counts in the dry run the room that the trash of a killed move off etcd's disk takes as free, as the real run removes it first", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const disk = onDedicatedDisk(host)
    try {
      // A restore killed while it removed the old member's trash (8 MiB of data here) from etcd's disk.
      mkdirSync(join(disk, ".cluster-backup-trash-member/snap"), { recursive: true })
      writeFileSync(join(disk, ".cluster-backup-trash-member/snap/db"), Buffer.alloc(8 * 1024 * 1024, 1))
      const plan = success(await restore(host, { dryRun: true })).plan
      const restoreStep = plan.steps.find((s) => s.id === "restore-snapshot")!
      const need = restoreStep.preconditions.flatMap((p) => (p._tag === "FreeSpace" ? [p.bytes - (p.freedBefore ?? 0)] : []))[0]!
      // 4 MiB short without the trash's room, enough with it (the other file system's needs are far smaller).
      const tight = layers(Etcdutl.live(), DiskSpace.inMemory({ availableBytes: need - 4 * 1024 * 1024, totalBytes: 1e12 }))
      const dry = await restore(host, { dryRun: true }, tight)
      expect(dry.output).not.toContain("NOT MET")
      success(dry)
    } finally {
      rmSync(disk, { recursive: true, force: true })
    }
  })

  it("resumes after a restore killed during etcdutl: its partial restore-<id> is moved into the kept-data directory and the rerun completes", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const failing = Etcdutl.live({ binary: fakeEtcdutl(etcd.workDir, "restore-fails") })
    failure(await restore(host, {}, layers(failing)))
    // What a kill -9 during etcdutl leaves: the partial output still in the data directory (no undo ran).
    renameSync(join(host.root, `var/lib/etcd-backup/failed-restore-${restoreId}`), join(host.root, `var/lib/etcd/restore-${restoreId}`))
    const secondId = "22222222-3333-4444-8555-666666666666"
    const dry = await restore(host, { dryRun: true, restoreId: secondId })
    expect(success(dry).plan.steps.map((s) => s.id)).toContain("set-aside-partial-restores")
    expect(dry.output).toContain(`move     ${host.root}/var/lib/etcd/restore-${restoreId} -> ${host.root}/var/lib/etcd-backup/failed-restore-${restoreId}`)
    const again = await restore(host, { restoreId: secondId })
    expect(success(again).ran).toEqual([
      "check-snapshot",
      "wait-control-plane-stopped",
      "wait-etcd-stopped",
      "set-aside-partial-restores",
      "restore-resources",
      "restore-snapshot",
      "install-member",
      "start-etcd",
      "start-control-plane",
    ])
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual(["member"])
    expect(read(host, `var/lib/etcd-backup/failed-restore-${restoreId}/member/snap/db`)).toBe("partial\n")
    expect(read(host, "var/lib/etcd-backup/member/snap/db")).toBe("old etcd data\n")
  })

  it("sweeps the extraction staging directory (decoded keys) a killed restore left, under the lock, and leaves no lock", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const staging = join(host.root, "etc/kubernetes/.cluster-backup-extract-Ab12Cd")
    mkdirSync(join(staging, "static-pod-resources/etcd-pod-3/secrets/etcd-all-certs"), { recursive: true })
    writeFileSync(join(staging, "static-pod-resources/etcd-pod-3/secrets/etcd-all-certs/tls.key"), "-----BEGIN PRIVATE KEY-----\n")
    const partialRecord = join(host.root, "var/lib/etcd-backup/.restored-member.json.part")
    mkdirSync(dirname(partialRecord), { recursive: true })
    writeFileSync(partialRecord, '{"restoreId":')
    // The killed run's lock: a PID that no longer runs.
    const lock = join(host.root, "etc/kubernetes/.cluster-backup-restore.lock")
    writeFileSync(
      lock,
      JSON.stringify({ pid: 2 ** 22 + 17, startTicks: "1", host: hostname(), command: "cluster-backup restore", startedAt: "2026-01-01T00:00:00.000Z" }),
    )
    const dry = await restore(host, { dryRun: true })
    success(dry)
    expect(dry.output).toContain(`check    no other restore is running (${lock}): the lock a killed restore left is replaced by a real run: ok`)
    expect(dry.output).toContain(
      `check    ${staging}, the extraction staging directory of a killed restore (decoded keys), is removed by a real run before its first step: ok`,
    )
    expect(existsSync(staging)).toBe(true)
    const ran = await restore(host)
    success(ran)
    expect(ran.output).toContain(`A restore was killed (its lock ${lock} was left): sweeping what it left.`)
    expect(ran.output).toContain(`removed  ${staging}: the extraction staging directory of a killed restore (decoded keys)`)
    expect(readdirSync(join(host.root, "etc/kubernetes")).filter((n) => n.startsWith(".cluster-backup"))).toEqual([])
    expect(ran.output).toContain(`removed  ${partialRecord}: the partial restored-member.json that a killed run left`)
    expect(existsSync(partialRecord)).toBe(false)
  })

  it("refuses while another restore holds the lock, dry or real, and changes nothing", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const lock = join(host.root, "etc/kubernetes/.cluster-backup-restore.lock")
    const scope = await Effect.runPromise(Scope.make())
    try {
      await Effect.runPromise(acquireRunLock(lock, "cluster-backup restore (another)").pipe(Scope.provide(scope)))
      const before = snapshotTree(host.root)
      const real = failure(await restore(host))
      expect(real._tag).toBe("RunLockHeld")
      expect(real.message).toContain("wait for it to finish")
      const dry = failure(await restore(host, { dryRun: true }))
      expect(dry.message).toMatch(/dry run: a real restore would be refused before any change: held by cluster-backup restore \(another\) \(PID \d+/)
      expect(snapshotTree(host.root)).toEqual(before)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("copies the snapshot again when the copy an earlier restore left is not this backup's", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const manifest = readManifest(host.backupDir)
    mkdirSync(join(host.root, "var/lib/etcd-backup"))
    // Same size, other bytes: another backup's copy (or a damaged one).
    writeFileSync(join(host.root, "var/lib/etcd-backup/snapshot.db"), Buffer.alloc(manifest.files.snapshot.size, 7))
    const ran = await restore(host)
    expect(success(ran).ran).toContain("copy-snapshot")
    expect(
      readFileSync(join(host.root, `var/lib/etcd-backup/snapshot.db.${restoreId}`)).equals(readFileSync(join(host.backupDir, manifest.files.snapshot.name))),
    ).toBe(true)
    expect(readFileSync(join(host.root, "var/lib/etcd-backup/snapshot.db")).equals(Buffer.alloc(manifest.files.snapshot.size, 7))).toBe(true)
  })

  it("refuses an etcdutl without --bump-revision/--mark-compacted unless --no-bump, and says why", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const before = snapshotTree(host.root)
    const old = Etcdutl.live({ binary: fakeEtcdutl(etcd.workDir, "too-old") })
    const error = failure(await restore(host, {}, layers(old)))
    expect(error._tag).toBe("RestoreInputInvalid")
    expect(error.what).toBe("etcdutl-too-old")
    expect(error.message).toContain("has no --bump-revision or --mark-compacted for `snapshot restore` (etcd 3.4 and older). Use etcdutl 3.5.x or newer.")
    const noBump = success(await restore(host, { dryRun: true, noBump: true }, layers(old)))
    const restoreStep = noBump.plan.steps.find((s) => s.id === "restore-snapshot")!
    expect(renderAction(restoreStep.actions[0]!)).not.toContain("--bump-revision")
    expect(snapshotTree(host.root)).toEqual(before)
  })

  it("refuses when the free space is short, before any change", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const before = snapshotTree(host.root)
    const full = layers(Etcdutl.live(), DiskSpace.inMemory({ availableBytes: 1024, totalBytes: 1024 }))
    const error = failure(await restore(host, {}, full))
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toMatch(/free on the file system of .*; found: only 1024 bytes are available/)
    const dry = await restore(host, { dryRun: true }, full)
    expect(failure(dry).message).toMatch(
      /^dry run: a real restore would be refused before any change: .*free on the file system of .*; found: only 1024 bytes are available/,
    )
    expect(dry.output).toMatch(/^ {2}check {4}.* free on the file system of .*: NOT MET \(required: /m)
    expect(snapshotTree(host.root)).toEqual(before)
  })

  it("refuses before any change when the steps writing to one file system need more together than it has, or when inodes are short", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const before = snapshotTree(host.root)
    const plan = success(await restore(host, { dryRun: true })).plan
    const needs = plan.steps.flatMap((s) => s.preconditions).flatMap((p) => (p._tag === "FreeSpace" ? [p.bytes] : []))
    // Room for the largest step's need, not for all of them on this one file system.
    const largest = Math.max(...needs)
    const tight = layers(Etcdutl.live(), DiskSpace.inMemory({ availableBytes: largest, totalBytes: 1e12 }))
    const error = failure(await restore(host, {}, tight))
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toMatch(/only \d+ bytes are available on the file system of \S+; free \d+ bytes there/)
    const dry = await restore(host, { dryRun: true }, tight)
    expect(dry.output).toMatch(/^ {2}check {4}.* free on the file system of .*, for the steps writing there together: NOT MET/m)
    const fewInodes = layers(Etcdutl.live(), DiskSpace.inMemory({ availableBytes: 1e12, totalBytes: 1e12, availableInodes: 20 }))
    expect(failure(await restore(host, {}, fewInodes)).message).toMatch(/only 20 inodes are free on the file system of \S*etc\/kubernetes, \d+ are needed/)
    expect(snapshotTree(host.root)).toEqual(before)
  })

  it("asks no room for the snapshot's copy where it will be a hard link: a disk with room for the rest restores; a snapshot that must be copied is refused there", async () => {
    const linked = makeHostTree(etcd.workDir, backup)
    const plan = success(await restore(linked, { dryRun: true })).plan
    expect(plan.steps.find((s) => s.id === "copy-snapshot")?.preconditions.filter((p) => p._tag === "FreeSpace")).toEqual([])
    // Exactly the room the steps need together on this one file system, without the copy's.
    const needed = plan.steps.flatMap((s) => s.preconditions).reduce((sum, p) => sum + (p._tag === "FreeSpace" ? p.bytes : 0), 0)
    const tight = layers(Etcdutl.live(), DiskSpace.inMemory({ availableBytes: needed, totalBytes: 1e12 }))
    const restored = await restore(linked, {}, tight)
    expect(success(restored).ran).toContain("copy-snapshot")
    expect(restored.output).toContain("hard-linked: no data copied")

    // Not 0600: its copy is a copy, which needs the snapshot's size on top.
    const copied = makeHostTree(etcd.workDir, backup)
    chmodSync(join(copied.backupDir, readManifest(copied.backupDir).files.snapshot.name), 0o640)
    const before = snapshotTree(copied.root)
    const error = failure(await restore(copied, {}, tight))
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toMatch(/only \d+ bytes are available on the file system of \S+; free \d+ bytes there/)
    expect(snapshotTree(copied.root)).toEqual(before)
  })

  it("refuses before any change a backup kept inside what the restore moves aside (etcd's member, a revision directory it replaces)", async () => {
    for (const inside of ["var/lib/etcd/member/bk", "etc/kubernetes/static-pod-resources/etcd-pod-3/bk"]) {
      const host = makeHostTree(etcd.workDir, backup)
      const moved = join(host.root, inside)
      renameSync(host.backupDir, moved)
      const before = snapshotTree(host.root)
      const error = failure(await restore({ root: host.root, backupDir: moved }, {}))
      expect(error._tag).toBe("RestoreRefused")
      expect(error.message).toMatch(/the backup is inside \S+, which step \S+ moves aside before step \S+ reads/)
      expect(snapshotTree(host.root)).toEqual(before)
    }
  })

  it("needs --node-ip when etcd.env does not name this member, and --member-name under a root", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    expect(failure(await restore(host, { dryRun: true, memberName: "master-2" })).message).toContain("--node-ip is required")
    expect(success(await restore(host, { dryRun: true, memberName: "master-2", nodeIp: "fd00::2" })).plan.peerUrl).toBe("https://[fd00::2]:2380")
    expect(failure(await restore(host, { dryRun: true, memberName: undefined })).message).toContain("--member-name is required with --root")
    const outside = mkdtempSync(join(etcd.workDir, "outside-"))
    expect(failure(await restore({ root: host.root, backupDir: outside }, { dryRun: true })).message).toContain("is not inside --root")
  })

  it("names the path to give when the backup directory is given as the host's path under --root (oc debug node: /home/core/backup for /host/home/core/backup)", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const before = snapshotTree(host.root)
    const refused = failure(await restore({ root: host.root, backupDir: "/home/core/backup" }, { dryRun: true }))
    expect(refused._tag).toBe("RestoreInputInvalid")
    expect(refused.message).toBe(
      `the backup directory /home/core/backup does not exist here, but ${host.backupDir} does: the backup directory is a path as this process sees it, not one on the host under --root; give ${host.backupDir}`,
    )
    expect(snapshotTree(host.root)).toEqual(before)
    // Missing there too: the plain failure.
    expect(failure(await restore({ root: host.root, backupDir: "/home/core/nothing" }, { dryRun: true })).message).toContain(
      "cannot resolve the backup directory /home/core/nothing: ENOENT",
    )
  })

  // Before, any directory whose path under the root began with two dots was taken for one outside it.
  it("takes a backup kept under a directory whose name starts with two dots as inside --root", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const dotted = join(host.root, "..backups", "b1")
    mkdirSync(dirname(dotted), { recursive: true })
    renameSync(host.backupDir, dotted)
    expect(success(await restore({ root: host.root, backupDir: dotted }, { dryRun: true })).plan.peerUrl).toBe("https://10.0.0.5:2380")
  })

  it("waits, observably and within its bound, until no process uses etcd's data directory", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const dataDir = join(host.root, "var/lib/etcd")
    const holder: ChildProcess = spawn("sleep", ["60"], { cwd: dataDir, stdio: "ignore" })
    try {
      const out: Array<string> = []
      const fiber = Effect.runFork(Effect.exit(restoreEffect(host, { stopPollMillis: 100 }, out)))
      const deadline = Date.now() + 20_000
      while (!out.join("").includes("waiting (") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(out.join("")).toContain(`pid ${holder.pid} (sleep) has its working directory in`)
      holder.kill("SIGKILL")
      const exit = await Effect.runPromise(Fiber.join(fiber))
      expect(Exit.isSuccess(exit), out.join("")).toBe(true)
      expect(out.join("")).toMatch(/etcd is stopped: nothing uses .*var\/lib\/etcd \(processes and ports not checked: --root is not this host's \/\)/)
    } finally {
      holder.kill("SIGKILL")
    }
  })

  it("--keep-control-plane-running stops and starts only etcd: the other pods' manifests are not touched", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const outcome = success(await restore(host, { keepControlPlaneRunning: true }))
    expect(outcome.ran).toEqual(allSteps.filter((id) => !id.includes("control-plane")))
    for (const running of hostFiles.controlPlaneManifests) expect(read(host, running)).toBe(`kind: Pod # ${runningOperand(running)}\n`)
    expect(readdirSync(join(host.root, "etc/kubernetes/manifests-stopped"))).toEqual(["etcd-pod.yaml"])
  })

  it("on the host itself, waits for kube-apiserver to exit before it stops etcd; given up, etcd was not touched, and a rerun goes on", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    let processes: HostProcessTable["processes"] = [{ pid: 4242, command: "hyperkube", argv: ["/usr/bin/hyperkube", "kube-apiserver", "--openshift-config=x"] }]
    const run = restoreOnTheHost(host, () => processes)
    const error = failure(await run({ stopTimeoutSeconds: 1, stopPollMillis: 100 }))
    expect(error.step).toBe("wait-control-plane-stopped")
    expect(error.completed).toEqual(["check-snapshot", "stop-control-plane"])
    expect(error.message).toContain("the control plane did not stop within 1 s: pid 4242 (hyperkube) is a kube-apiserver process")
    expect(read(host, hostFiles.runningManifest)).toBe("kind: Pod # the running etcd\n")
    expect(read(host, hostFiles.oldDb)).toBe("old etcd data\n")
    for (const running of hostFiles.controlPlaneManifests) expect(existsSync(join(host.root, running))).toBe(false)

    processes = []
    const again = await run({ restoreId: "33333333-4444-4555-8666-777777777777" })
    expect(success(again).ran).toEqual(allSteps.filter((id) => id !== "stop-control-plane"))
    expect(again.output).toContain(
      "the control plane is stopped: no kube-apiserver/kube-controller-manager/kube-scheduler process runs and ports 6443, 10257, 10259 are free",
    )
    for (const running of hostFiles.controlPlaneManifests) {
      expect(read(host, `etc/kubernetes/manifests-stopped/${basename(running)}`)).toBe(`kind: Pod # ${runningOperand(running)}\n`)
    }
  })

  it("--keep-control-plane-running after a run that stopped the control plane does not leave it stopped: it starts the backup's revisions", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    let processes: HostProcessTable["processes"] = [{ pid: 4243, command: "kube-scheduler", argv: ["kube-scheduler"] }]
    const run = restoreOnTheHost(host, () => processes)
    expect(failure(await run({ stopTimeoutSeconds: 1, stopPollMillis: 100 })).step).toBe("wait-control-plane-stopped")
    processes = []
    const again = await run({ restoreId: "44444444-5555-4666-8777-888888888888", keepControlPlaneRunning: true })
    expect(success(again).ran).toEqual(allSteps.filter((id) => id !== "stop-control-plane" && id !== "wait-control-plane-stopped"))
    expectControlPlaneAtBackupRevisions(host)
  })

  it("gives up waiting after the bound, names what still runs, and keeps the steps already done", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const holder: ChildProcess = spawn("sleep", ["60"], { cwd: join(host.root, "var/lib/etcd"), stdio: "ignore" })
    try {
      const error = failure(await restore(host, { stopTimeoutSeconds: 1, stopPollMillis: 100 }))
      expect(error._tag).toBe("RestoreStepFailed")
      expect(error.step).toBe("wait-etcd-stopped")
      expect(error.completed).toEqual(["check-snapshot", "stop-control-plane", "wait-control-plane-stopped", "stop-etcd"])
      expect(error.message).toContain(`etcd did not stop within 1 s: pid ${holder.pid} (sleep) has its working directory in`)
      expect(error.message).toContain("It changed nothing.")
      expect(error.message).toContain("find what keeps it")
      // stop-etcd stays done; nothing else moved.
      expect(existsSync(join(host.root, hostFiles.runningManifest))).toBe(false)
      expect(read(host, "etc/kubernetes/manifests-stopped/etcd-pod.yaml")).toBe("kind: Pod # the running etcd\n")
      expect(read(host, hostFiles.oldDb)).toBe("old etcd data\n")
    } finally {
      holder.kill("SIGKILL")
    }
  })

  /** A real restore that runs `swap` once, as the step copying the snapshot begins (the verification passed long before). */
  const restoreSwappingAtCopy = async (host: HostTree, swap: () => void): Promise<Ran> => {
    const out: Array<string> = []
    let swappedIn = false
    const output = (text: string) =>
      Effect.sync(() => {
        out.push(text)
        if (!swappedIn && text.includes("] copy-snapshot: ")) {
          swap()
          swappedIn = true
        }
      })
    const exit = await Effect.runPromise(Effect.exit(restoreEffect(host, { output }, [])))
    const ran: Ran = { exit, output: out.join("") }
    expect(swappedIn, ran.output).toBe(true)
    return ran
  }

  /** The run's failure at copy-snapshot, with nothing of the swapped file kept or restored: no copy, no part, no new member. */
  const refusedAtCopy = (host: HostTree, ran: Ran) => {
    const error = failure(ran)
    expect(error._tag).toBe("RestoreStepFailed")
    expect(error.step).toBe("copy-snapshot")
    expect(readdirSync(join(host.root, "var/lib/etcd-backup")).filter((n) => n.startsWith("snapshot"))).toEqual([])
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual([])
    return error
  }

  it("refuses a snapshot swapped in after the verification (same size, a valid etcd trailer) before etcdutl reads it, and the next run refuses the backup", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const manifest = readManifest(host.backupDir)
    const snapshotPath = join(host.backupDir, manifest.files.snapshot.name)
    // Another database of the same size, with its own correct sha256 trailer: etcdutl's own check would pass it.
    const genuine = readFileSync(snapshotPath)
    const db = Buffer.from(genuine.subarray(0, genuine.length - 32))
    db[db.length - 1] ^= 0xff
    const swapped = Buffer.concat([db, createHash("sha256").update(db).digest()])
    const ran = await restoreSwappingAtCopy(host, () => {
      writeFileSync(`${snapshotPath}.swap`, swapped, { mode: 0o600 })
      renameSync(`${snapshotPath}.swap`, snapshotPath)
    })
    expect(refusedAtCopy(host, ran).message).toContain("is not the file that was verified (its last 32 bytes differ)")
    expect(ran.output).not.toContain("snapshot restore")

    const again = await restore(host, { restoreId: "11111111-2222-4333-8444-555555555555" })
    expect(failure(again).message).toContain("snapshot-sha256 FAIL")
  })

  it("refuses at once, never waits, when the snapshot becomes a FIFO after the verification", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const snapshotPath = join(host.backupDir, readManifest(host.backupDir).files.snapshot.name)
    const ran = await restoreSwappingAtCopy(host, () => {
      rmSync(snapshotPath)
      execFileSync("mkfifo", ["-m", "0600", snapshotPath])
    })
    expect(refusedAtCopy(host, ran).message).toContain(`${snapshotPath} is not a regular file`)
  })

  it("refuses, before any change, when the manifest is replaced between the plan's read and the verification's", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    const manifestPath = join(host.backupDir, "backup-manifest.json")
    const before = snapshotTree(host.root)
    // etcdutl's capabilities are asked for after the plan's read of the manifest and before the verification's.
    const swapping = Layer.effect(
      Etcdutl,
      Etcdutl.use((live) =>
        Effect.succeed(
          Etcdutl.of({
            ...live,
            capabilities: Effect.andThen(
              Effect.sync(() => {
                const manifest = readManifest(host.backupDir)
                writeFileSync(manifestPath, encodeBackupManifest({ ...manifest, tool: { ...manifest.tool, version: `${manifest.tool.version}-other` } }))
              }),
              live.capabilities,
            ),
          }),
        ),
      ),
    ).pipe(Layer.provide(Etcdutl.live()))
    const ran = await restore(host, {}, layers(swapping))
    const error = failure(ran)
    expect(error._tag).toBe("RestoreRefused")
    expect(error.message).toContain("changed while the restore read it")
    // Everything but the replaced manifest as it was.
    const unchanged = (lines: ReadonlyArray<string>) => lines.filter((line) => !line.includes("/backup-manifest.json "))
    expect(unchanged(snapshotTree(host.root))).toEqual(unchanged(before))
  })

  it("undoes a step that half-happened, says how to continue, and a second run finishes the restore", async () => {
    const host = makeHostTree(etcd.workDir, backup)
    // A busy cluster's raft index: 1.2 x it is more than the default bump.
    writeFileSync(join(host.root, "var/lib/etcd/revision.json"), '{"maxRaftIndex":2000000000}')
    const failing = Etcdutl.live({ binary: fakeEtcdutl(etcd.workDir, "restore-fails") })
    const ran = await restore(host, {}, layers(failing))
    expect(ran.output).toContain("--bump-revision 2400000000")
    const error = failure(ran)
    expect(error._tag).toBe("RestoreStepFailed")
    expect(error.step).toBe("restore-snapshot")
    expect(error.completed).toEqual(allSteps.slice(0, allSteps.indexOf("restore-snapshot")))
    expect(error.message).toContain("simulated failure after writing part of the data directory")
    expect(error.message).toContain("What it had changed was put back.")
    expect(error.message).toContain("Running the restore again plans only what is left to do.")
    // The partial output was moved out of the data directory (kept), which is empty again.
    expect(ran.output).toContain(
      `    undone   move     ${host.root}/var/lib/etcd/restore-${restoreId} -> ${host.root}/var/lib/etcd-backup/failed-restore-${restoreId}`,
    )
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual([])
    expect(read(host, `var/lib/etcd-backup/failed-restore-${restoreId}/member/snap/db`)).toBe("partial\n")

    // revision.json is now only in the kept-data directory (keep-revision-json stays done): the rerun bumps as much as the first run.
    expect(existsSync(join(host.root, "var/lib/etcd/revision.json"))).toBe(false)
    const dry = await restore(host, { dryRun: true, restoreId: "11111111-2222-4333-8444-555555555555" })
    expect(dry.output).toContain(
      "bump:       2400000000 (1.2 x the highest raft index 2000000000 recorded in /var/lib/etcd-backup/revision.json, where an earlier restore kept it, rounded up)",
    )
    const again = await restore(host, { restoreId: "11111111-2222-4333-8444-555555555555" })
    const outcome = success(again)
    expect(again.output).toContain("--bump-revision 2400000000")
    // The snapshot copy the first run made is this backup's (size and sha256): restored from, not copied again.
    expect(outcome.ran).toEqual([
      "check-snapshot",
      "wait-control-plane-stopped",
      "wait-etcd-stopped",
      "restore-resources",
      "restore-snapshot",
      "install-member",
      "start-etcd",
      "start-control-plane",
    ])
    expect(again.output).toContain(`snapshot restore ${host.root}/var/lib/etcd-backup/snapshot.db --name master-0`)
    expect(readdirSync(join(host.root, "var/lib/etcd-backup")).filter((n) => n.startsWith("snapshot"))).toEqual(["snapshot.db"])
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual(["member"])
    expect(read(host, "var/lib/etcd-backup/member/snap/db")).toBe("old etcd data\n")
  })
})
