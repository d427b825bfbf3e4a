/**
 * `verify` of the pod's backup against the shell's checks of the same two files: `sha256sum` of
 * both, `etcdutl snapshot status`, `tar tzf`. With `--test-restore` the shell also restores the
 * snapshot with `etcdutl snapshot restore` and starts etcd on it until it answers a health check.
 * Target: wall <= 1.1x the shell's, both ways.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { freeLoopbackPort } from "../src/services/local-etcd.ts"
import type { Benchmark, BenchContext } from "./harness/benchmark.ts"
import { cycleFixture } from "./harness/cycle.ts"
import { runChecked, shell } from "./harness/process-run.ts"
import { MiB } from "./harness/report.ts"
import { measured } from "./harness/rounds.ts"
import { versusShell } from "./harness/versus-shell.ts"

const checks = 'sha256sum "$1" "$2" >/dev/null; etcdutl snapshot status "$1" >/dev/null; tar tzf "$2" >/dev/null'

/** After the checks: restore into $3 (a fresh directory) and serve it on ports $4 (client) and $5 (peer) until healthy. */
const testRestore = [
  'peer="http://127.0.0.1:$5"; client="http://127.0.0.1:$4"',
  'etcdutl snapshot restore "$1" --data-dir "$3/data" --name bench --initial-cluster "bench=$peer" --initial-advertise-peer-urls "$peer" >/dev/null 2>&1',
  'etcd --name bench --data-dir "$3/data" --listen-client-urls "$client" --advertise-client-urls "$client" --listen-peer-urls "$peer" \\',
  '  --initial-cluster "bench=$peer" --initial-advertise-peer-urls "$peer" >"$3/etcd.log" 2>&1 &',
  "pid=$!",
  'until etcdctl --endpoints "$client" endpoint health >/dev/null 2>&1; do kill -0 "$pid"; sleep 0.05; done',
  'kill "$pid"; wait "$pid" || true',
].join("\n")

const verifyVsShell = (withTestRestore: boolean): Benchmark => {
  const ours = withTestRestore ? "cluster-backup verify --test-restore" : "cluster-backup verify"
  const reference = withTestRestore ? "sha256sum + etcdutl status + tar tzf + etcdutl restore + etcd serving" : "sha256sum + etcdutl snapshot status + tar tzf"
  return {
    name: withTestRestore ? "verify-test-restore" : "verify",
    title: withTestRestore
      ? "verify --test-restore against the shell's checks, restore and etcd serving"
      : "verify against sha256sum, etcdutl snapshot status and tar tzf",
    reference: () => reference,
    run: async (context: BenchContext) => {
      const cycle = await cycleFixture(context)
      const bytes = statSync(cycle.snapshot).size + statSync(cycle.tarball).size
      return versusShell(context, cycle, {
        ours: {
          tool: ours,
          run: async () =>
            measured(await runChecked(ours, process.execPath, [context.cli, "verify", cycle.backupDir, ...(withTestRestore ? ["--test-restore"] : [])]), bytes),
        },
        shell: {
          tool: reference,
          run: async () => {
            if (!withTestRestore) return measured(await runChecked(reference, ...shell(checks, cycle.snapshot, cycle.tarball)), bytes)
            const dir = mkdtempSync(join(context.work, "restore-"))
            const [client, peer] = [await context.scope.use(freeLoopbackPort), await context.scope.use(freeLoopbackPort)]
            const run = await runChecked(reference, ...shell(`${checks}\n${testRestore}`, cycle.snapshot, cycle.tarball, dir, String(client), String(peer)))
            rmSync(dir, { recursive: true, force: true })
            return measured(run, bytes)
          },
        },
        maxWallRatio: 1.1,
        warm: [cycle.snapshot, cycle.tarball],
        setup: [
          `The backup the pod made of the cycle's database (${(cycle.database.dbBytes / MiB).toFixed(0)} MiB): snapshot ${(statSync(cycle.snapshot).size / MiB).toFixed(0)} MiB, resources tarball ${(statSync(cycle.tarball).size / 1024).toFixed(0)} KiB.`,
          withTestRestore
            ? "`verify --test-restore` restores the snapshot into a throwaway member, starts it and reads it back (revisions, key counts); the shell runs the same checks as `verify` below, then `etcdutl snapshot restore` and etcd on the restored directory until `etcdctl endpoint health` answers."
            : "`verify` checks the manifest, both files' sha256 and sizes, the snapshot's status and the tarball's every entry; the shell: `sha256sum` of both files, `etcdutl snapshot status`, `tar tzf`.",
        ],
      })
    },
  }
}

export const verifyBenchmark = verifyVsShell(false)
export const testRestoreBenchmark = verifyVsShell(true)
