import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type CliOptions, runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"
import { sourceEntry } from "../support/tools.ts"

const root = tempDir("demo-e2e")

/** Processes whose command line mentions `text` (etcd, the pod's containers, verify's etcd). */
const processesMentioning = (text: string): Array<string> =>
  readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ")
        return cmd.includes(text) ? [`${p}: ${cmd}`] : []
      } catch {
        return []
      }
    })

const runDemo = (args: ReadonlyArray<string>, options?: CliOptions) => runCli(["demo", "--keys", "2000", ...args], options)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("cluster-backup demo", () => {
  it("runs the whole cycle: backup files, verify passed, a re-render, the policy's backups in Swift with one pruned, healthy, nothing left running", async () => {
    const work = join(root, "full")
    // From the sources, as the README's main command runs it (the other CLI tests run the bundle the image holds).
    const run = await runDemo(["--work-dir", work, "--keep"], { entry: sourceEntry })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    const backup = join(work, "backup")
    const files = readdirSync(backup).filter((f) => !f.startsWith("."))
    expect(files.some((f) => /^snapshot_\d{4}-\d\d-\d\d_\d{6}\.db$/.test(f))).toBe(true)
    expect(files.some((f) => /^static_kuberesources_\d{4}-\d\d-\d\d_\d{6}\.tar\.gz$/.test(f))).toBe(true)
    expect(files).toContain("backup-manifest.json")
    expect(run.stdout).toContain("verify: every check passed")
    // backup-pod created the rendered pod, followed it until the backup was held, naming the backup backup-create reported,
    // and copied it off the pod (over pods/exec) into the backup directory, where the demo's later stages read it.
    const snapshotId = files.find((f) => f.startsWith("snapshot_"))!.slice("snapshot_".length, -".db".length)
    expect(run.stdout).toContain(`backup-pod | copied backup ${snapshotId} into ${backup}: snapshot_${snapshotId}.db (`)
    expect(run.stdout).toMatch(
      new RegExp(`backup-pod \\| pod (cluster-backup-\\S+): the backup ${snapshotId} is complete, copied into ${backup}, and held in the pod until \\S+\n`),
    )
    expect(files.sort()).toEqual(["backup-manifest.json", `snapshot_${snapshotId}.db`, `static_kuberesources_${snapshotId}.tar.gz`].sort())
    // Every stage is counted: the headings run 1/n to n/n.
    const headings = [...run.stdout.matchAll(/^==> (\d+)\/(\d+) /gm)].map((m) => `${m[1]}/${m[2]}`)
    expect(headings).toEqual(headings.map((_h, i) => `${i + 1}/${headings.length}`))
    // A child's log lines read as its other lines (not logfmt).
    expect(run.stdout).not.toMatch(/\| timestamp=/)
    expect(run.stdout).toMatch(/verify --test-restore\s+passed/)
    expect(run.stdout).toMatch(/revision pairing\s+consistent/)
    // The proof of the bundle on a cluster with encryption at rest: the snapshot's secrets and configmaps open with the
    // tarball's encryption-config, and the snapshot names its OpenShift release.
    expect(run.stdout).toMatch(/OpenShift version in the snapshot\s+4\.16\.3\n/)
    expect(run.stdout).toMatch(/encryption at rest\s+PASS: [1-9]\d* values under 1 key decrypted with the bundled configuration\n/)
    const bump = /the revision controller made kube-apiserver revision (\d+)/.exec(run.stdout)
    expect(bump).not.toBeNull()
    expect(run.stdout).toContain(`kube-apiserver ${Number(bump![1]) - 1} -> ${bump![1]}`)
    // The automated loop: the policy's three pods succeeded, verified and stored in Swift; keepLast 1 pruned the ones before.
    const stored = [...run.stdout.matchAll(/pod backup-demo-\S+ Succeeded: (\S+) stored at .+ \(.+ uploaded, verify Full, \d+ pruned\)/g)].map((m) => m[1])
    expect(stored, run.stdout).toHaveLength(3)
    expect(run.stdout).toMatch(new RegExp(`policy backup 1: in Swift\\s+${stored[0]} \\(verified Full\\)\n`))
    expect(run.stdout).toMatch(new RegExp(`policy backup 2: in Swift\\s+${stored[1]} \\(verified Full\\)\n`))
    expect(run.stdout).toMatch(new RegExp(`retention keepLast 1\\s+pruned ${stored[0]}\n`))
    // backup-now: a third backup on request, followed to its end by the command itself; retention pruned the second.
    expect(run.stdout).toMatch(new RegExp(`backup-now \\| pod backup-demo-\\S+ stored backup ${stored[2]} at s3://.+ \\(verified\\)\n`))
    expect(run.stdout).toMatch(new RegExp(`backup-now \\(a person's request\\)\\s+${stored[2]} \\(verified Full\\); pruned ${stored[1]}\n`))
    expect(run.stdout).toMatch(/policy status\s+healthy: Ready=True .*Degraded=False/)
    expect(run.stdout).toMatch(/ClusterBackupLastBackupFailed\s+not firing/)
    expect(run.stdout).toMatch(/cluster_backup_policy_last_success_timestamp_seconds\{[^}]*policy="demo"[^}]*\} \d+/)
    // After a disaster: the first backup restored on a host's tree, then every operator's new revision, in order.
    expect([...run.stdout.matchAll(/stand-down \| Stand-down stand-down-\S+ complete: 6 steps ran\./g)]).toHaveLength(2)
    // The loop stood the recovery host down too: called off there.
    expect(run.stdout).toContain("stand-down --undo | Stand-down undone: 6 moves back.")
    expect(run.stdout).toContain("the recovery host is as it was: etcd's member and the four manifests back in place, the stand-down's record removed")
    const restored = /restore on a host tree\s+(restore-\S+): 13 steps ran, old data kept\n/.exec(run.stdout)
    expect(restored, run.stdout).not.toBeNull()
    // The mistakes of a loop over every host, each refused.
    expect(run.stdout).toMatch(/stand-down \| refused: this is the recovery host: restore-\S+ put the restored member \.\.\./)
    expect(run.stdout).toMatch(/restore \| refused: this host was stood down \(stand-down-[^)]+\) for a restore on another host \.\.\./)
    expect(run.stdout).toContain("prune-host | refused: /var/lib/etcd/member is missing: etcd has no member on this host ...")
    expect(run.stdout).toMatch(/prune-host \| prune-host: removed (\d+) of \1 kept entries, .* freed; \/var\/lib\/etcd-backup holds only restored-member\.json/)
    expect(run.stdout).toContain(`cluster-backup redeploy --reason recovery-${restored![1]!.slice("restore-".length)}`)
    expect([...run.stdout.matchAll(/redeploy \| (\S+): revision \d+ is on all 3 nodes/g)].map((m) => m[1])).toEqual([
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ])
    expect(run.stdout).toMatch(/\nredeploy\s+4 operands on a new revision on every node/)
    // Only the kept backup remains; nothing the demo started runs on.
    expect(readdirSync(work)).toEqual(["backup"])
    expect(processesMentioning(work)).toEqual([])
    // Four backup pods of seven containers each, verify --test-restore, Swift: about 2 minutes idle, more under load.
  }, 400_000)

  it("on Ctrl-C in the middle, stops everything it started and removes what it made", async () => {
    const work = join(root, "interrupted")
    let sent = false
    const run = await runDemo(["--work-dir", work], {
      during: async (child) => {
        while (!child.ended() && !child.stdout().includes("==> 5/13")) await sleep(20)
        if (child.ended()) return
        sent = true
        await sleep(300)
        child.kill("SIGINT")
      },
    })
    expect(sent).toBe(true)
    expect(run.status).not.toBe(0)
    expect(existsSync(work)).toBe(false)
    expect(processesMentioning(work)).toEqual([])
  }, 200_000)

  it("killed with SIGKILL in its own temporary directory: what it started stops, and the next demo removes what it left", async () => {
    const tmp = join(root, "tmp")
    mkdirSync(tmp)
    let pid = 0
    const killed = await runDemo([], {
      env: { TMPDIR: tmp },
      during: async (child) => {
        pid = child.pid
        while (!child.ended() && !child.stdout().includes("==> 3/13")) await sleep(20)
        child.kill("SIGKILL")
      },
    })
    expect(killed.signal, killed.stdout + killed.stderr).toBe("SIGKILL")
    const [left] = readdirSync(tmp).filter((n) => /^cluster-backup-demo-[^.]+$/.test(n))
    expect(left, readdirSync(tmp).join(" ")).toBeDefined()
    expect(readdirSync(join(tmp, left!))).toContain("etcd")
    // etcd and Swift watch the demo's process: they stop on their own. Swift's watchdog polls each second and gives
    // the servers 10 s on TERM before KILL; on a loaded machine that has taken over 15 s (test/scripts/s3-server.test.ts).
    for (let i = 0; i < 450 && processesMentioning(join(tmp, left!)).length > 0; i++) await sleep(100)
    expect(processesMentioning(join(tmp, left!))).toEqual([])
    // The next demo sweeps it before starting, then is stopped as a person would.
    const next = await runDemo([], {
      env: { TMPDIR: tmp },
      during: async (child) => {
        while (!child.ended() && !child.stdout().includes("==> 2/13")) await sleep(20)
        child.kill("SIGINT")
      },
    })
    expect(next.output).toContain(`removed ${join(tmp, left!)}: the work directory of demo (PID ${pid}`)
    expect(readdirSync(tmp)).toEqual([])
  }, 200_000)
})
