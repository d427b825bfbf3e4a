/**
 * The whole backup pod: its init containers (backup-init, one backup-resources per operand,
 * backup-create) run one after another as the built bundle, on the cycle's database, against
 * what a shell script does: `etcdctl snapshot save` then `tar czf` of the same static-pod
 * resources (unpacked from the pod's first backup). Target: wall <= 1.0x the shell's.
 */
import { mkdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { etcdToolPath } from "../src/services/local-etcd.ts"
import type { Benchmark } from "./harness/benchmark.ts"
import { cycleFixture } from "./harness/cycle.ts"
import { runChecked, shell } from "./harness/process-run.ts"
import { MiB } from "./harness/report.ts"
import { measured, sequence } from "./harness/rounds.ts"
import { median } from "./harness/stats.ts"
import { versusShell } from "./harness/versus-shell.ts"

const reference = "etcdctl snapshot save + tar czf"
const script =
  'out="$1"; tree="$2"; etcdctl="$3"; shift 3; "$etcdctl" "$@" snapshot save "$out/snapshot.db" >/dev/null; tar czf "$out/resources.tar.gz" -C "$tree" .'

export const backupPodBenchmark: Benchmark = {
  name: "backup-pod",
  title: "The whole backup pod against etcdctl snapshot save + tar czf",
  reference: () => reference,
  run: async (context) => {
    const cycle = await cycleFixture(context)
    const snapshotBytes = statSync(cycle.snapshot).size
    const perContainer = new Map<string, Array<number>>()
    return versusShell(context, cycle, {
      ours: {
        tool: "backup pod (init containers)",
        run: async (round) => {
          const dir = join(context.work, `pod-${round}`)
          // --quick's first round is the cycle's first run: the smoke test need not run the pod twice.
          const runs = context.options.quick && round === 1 ? cycle.firstRun : await cycle.runPod(dir)
          for (const { container, run } of runs) perContainer.set(container, [...(perContainer.get(container) ?? []), run.seconds])
          rmSync(dir, { recursive: true, force: true })
          return sequence(
            runs.map((r) => r.run),
            snapshotBytes,
          )
        },
      },
      shell: {
        tool: reference,
        run: async (round) => {
          const dir = join(context.work, `shell-${round}`)
          mkdirSync(dir)
          const run = await runChecked(reference, ...shell(script, dir, cycle.resourcesTree, etcdToolPath("etcdctl"), ...cycle.etcd.etcdctlFlags))
          rmSync(dir, { recursive: true, force: true })
          return measured(run, snapshotBytes)
        },
      },
      maxWallRatio: 1.0,
      setup: [
        `The cycle's etcd (TLS, client certificates) holds the OpenShift fixtures (seed 7) and ${cycle.database.keys} bulk keys: ${(cycle.database.dbBytes / MiB).toFixed(0)} MiB as the member reports it; the snapshot file is ${(snapshotBytes / MiB).toFixed(0)} MiB.`,
        `The pod is \`renderBackupPod\` for the fixture's revisions, run as the demo's local kubelet runs it (src/programs/demo/local-kubelet.ts): ${cycle.pod.spec.initContainers.map((c) => c.name).join(", ")}, each a \`node\` process of the bundle with the container's environment, reading the simulated API server; its wall time is the sum of the containers', its peak RSS the largest.`,
        "The shell: `etcdctl snapshot save` (TLS) then `tar czf` of the static-pod resources the pod's tarball holds, unpacked on disk as a host has them.",
        context.options.quick
          ? "With --quick the one round is the pod's first run, the one whose backup the verify and restore benchmarks use."
          : "The pod ran once untimed before the rounds (the verify and restore benchmarks use that backup).",
      ],
      figures: () => [`The pod's containers, median seconds: ${[...perContainer].map(([name, s]) => `${name} ${median(s).toFixed(2)}`).join(", ")}.`],
    })
  },
}
