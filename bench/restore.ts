/**
 * `restore --root` of the pod's backup on a control-plane host tree (test/support's: etcd's
 * manifest, an older revision installed, OpenShift's etcd.env, a revision.json asking for a bump
 * of 6000) against the shell: `tar xzf` of the resources into /etc/kubernetes and
 * `etcdutl snapshot restore --bump-revision 6000 --mark-compacted` into /var/lib/etcd.
 * Target: wall <= 1.1x the shell's.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { basename, join } from "node:path"
import { makeHostTree } from "../test/support/bad-backups.ts"
import type { Benchmark } from "./harness/benchmark.ts"
import { cycleFixture } from "./harness/cycle.ts"
import { runChecked, shell } from "./harness/process-run.ts"
import { MiB } from "./harness/report.ts"
import { measured } from "./harness/rounds.ts"
import { versusShell } from "./harness/versus-shell.ts"

/**
 * Untimed, before either tool's run: the host tree's fresh copy of the backup (a GiB of dirty pages) and the
 * previous run's removed trees are written back first, so neither run pays for the other's set-up. Without it,
 * the restore's fsync of the kept snapshot (a hard link of that copy) flushed the harness's copy in its time.
 */
const settleDisk = () => execFileSync("sync")

const ours = "cluster-backup restore --root"
const reference = "tar xzf + etcdutl snapshot restore --bump-revision --mark-compacted"
const script = [
  'mkdir -p "$3/etc/kubernetes" "$3/var/lib"',
  'tar xzf "$2" -C "$3/etc/kubernetes"',
  'peer="https://10.0.0.5:2380"',
  'etcdutl snapshot restore "$1" --data-dir "$3/var/lib/etcd" --name master-0 --initial-cluster "master-0=$peer" --initial-advertise-peer-urls "$peer" \\',
  "  --bump-revision 6000 --mark-compacted >/dev/null 2>&1",
].join("\n")

export const restoreBenchmark: Benchmark = {
  name: "restore",
  title: "restore --root against tar xzf + etcdutl snapshot restore",
  reference: () => reference,
  run: async (context) => {
    const cycle = await cycleFixture(context)
    const bytes = statSync(cycle.snapshot).size + statSync(cycle.tarball).size
    return versusShell(context, cycle, {
      ours: {
        tool: ours,
        run: async (round) => {
          const parent = join(context.work, `host-${round}`)
          mkdirSync(parent)
          const host = makeHostTree(parent, cycle.backupDir)
          settleDisk()
          const run = await runChecked(ours, process.execPath, [context.cli, "restore", host.backupDir, "--root", host.root, "--member-name", "master-0"])
          rmSync(parent, { recursive: true, force: true })
          return measured(run, bytes)
        },
      },
      shell: {
        tool: reference,
        run: async (round) => {
          // The shell reads the same kind of source as ours: the backup freshly copied into a host tree, synced.
          const parent = join(context.work, `shell-${round}`)
          mkdirSync(parent)
          const host = makeHostTree(parent, cycle.backupDir)
          const root = mkdtempSync(join(parent, "shell-root-"))
          settleDisk()
          const source = (file: string) => join(host.backupDir, basename(file))
          const run = await runChecked(reference, ...shell(script, source(cycle.snapshot), source(cycle.tarball), root))
          rmSync(parent, { recursive: true, force: true })
          return measured(run, bytes)
        },
      },
      maxWallRatio: 1.1,
      warm: [cycle.snapshot, cycle.tarball],
      setup: [
        `The backup the pod made of the cycle's database (${(cycle.database.dbBytes / MiB).toFixed(0)} MiB), copied (untimed) into a fresh host tree before each run of either tool (test/support/bad-backups.ts \`makeHostTree\`), which reads its files from there, then \`sync\` (untimed), so no run writes back the set-up's copy or the previous run's removals.`,
        "`restore --root` runs its whole plan: verify, preconditions, moving the running manifests and data aside, the resources into place, `etcdutl snapshot restore` with the bump from revision.json, etcd's manifest back.",
        "The shell: `tar xzf` of the tarball into `<root>/etc/kubernetes`, `etcdutl snapshot restore --bump-revision 6000 --mark-compacted` into `<root>/var/lib/etcd`.",
      ],
    })
  },
}
