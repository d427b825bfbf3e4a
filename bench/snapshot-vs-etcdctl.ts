/**
 * Benchmark: `cluster-backup backup-init` against `etcdctl snapshot save` on the same etcd member
 * (TLS, client-certificate auth) holding a database of about 1 GiB. backup-init runs as the image
 * runs it (the `npm run build` bundle), with direct I/O and with `--no-direct-io`; the snapshot
 * through the etcd3 package (bench/etcd3-snapshot.ts) runs beside them. Each tool runs as a child process, alternating,
 * several rounds; wall time gives throughput (snapshot bytes / second) and
 * `/usr/bin/time -v` (or /proc/<pid>/status VmHWM polling) the peak RSS. Writes bench/RESULTS.md.
 *
 *   node bench/snapshot-vs-etcdctl.ts [--size-mib 1024] [--rounds 4] [--out bench/RESULTS.md]
 *
 * Not part of the test suite: it takes minutes and several GiB of disk.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { cpus, loadavg, totalmem, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Etcd3 } from "etcd3"
import { Effect } from "effect"
import { etcdToolPath, startLocalEtcd } from "../src/services/local-etcd.ts"
import { clientTls, generateTlsBundle } from "../src/services/tls-certs.ts"
import { backupInitEnv } from "../src/domain/pod-spec.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const targetBytes = Number(arg("size-mib", "1024")) * 1024 * 1024
const rounds = Number(arg("rounds", "4"))
const outFile = resolve(arg("out", join(root, "bench", "RESULTS.md")))
const MiB = 1024 * 1024

const tools = ["cluster-backup backup-init", "backup-init --no-direct-io", "etcd3 snapshot", "etcdctl snapshot save"] as const
type Tool = (typeof tools)[number]

interface Sample {
  readonly tool: Tool
  readonly seconds: number
  readonly bytes: number
  readonly peakRssKiB: number
  /** User + system CPU seconds (NaN without /usr/bin/time). */
  readonly cpuSeconds: number
  readonly exitCode: number
}

/** Runs a command, returning wall seconds, exit code, peak RSS (KiB) and CPU seconds. */
const measure = (
  command: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; peakRssKiB: number; cpuSeconds: number; exitCode: number; stderr: string }> =>
  new Promise((done, fail) => {
    const useTime = existsSync("/usr/bin/time")
    const child = useTime
      ? spawn("/usr/bin/time", ["-v", command, ...args], { env, stdio: ["ignore", "ignore", "pipe"] })
      : spawn(command, [...args], { env, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    let polledPeak = 0
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))
            if (m) polledPeak = Math.max(polledPeak, Number(m[1]))
          } catch {
            // the process has exited
          }
        }, 20)
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    const started = process.hrtime.bigint()
    child.on("error", fail)
    child.on("exit", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      if (poll) clearInterval(poll)
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)
      const user = /User time \(seconds\): ([\d.]+)/.exec(stderr)
      const system = /System time \(seconds\): ([\d.]+)/.exec(stderr)
      const cpuSeconds = user && system ? Number(user[1]) + Number(system[1]) : Number.NaN
      done({ seconds, peakRssKiB: m ? Number(m[1]) : polledPeak, cpuSeconds, exitCode: code ?? -1, stderr })
    })
  })

/** Fills the member with distinct keys of 1 KiB..100 KiB until its database reaches the target size. */
const build = async (client: Etcd3) => {
  let seed = 12345
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const pool = Buffer.alloc(100 * 1024)
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(random() * 256)
  let written = 0
  let next = 0
  const started = Date.now()
  let dbSize = 0
  while (dbSize < targetBytes) {
    const batchEnd = next + 2000
    const worker = async () => {
      while (next < batchEnd) {
        const i = next++
        const size = 1024 + Math.floor(random() * 99 * 1024)
        await client.put(`/registry/bench/${String(i).padStart(8, "0")}`).value(pool.subarray(0, size))
        written += size
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    dbSize = Number((await client.maintenance.status()).dbSize)
    process.stderr.write(`[bench] ${next} keys, ${(written / MiB).toFixed(0)} MiB of values, database ${(dbSize / MiB).toFixed(0)} MiB\n`)
  }
  return { keys: next, valueBytes: written, dbSize, seconds: (Date.now() - started) / 1000 }
}

/**
 * The order of the tools in a round: a Williams design, so over every 4 rounds (one per tool) each tool
 * runs right after each other tool once. A run is measurably slowed by the one just before it
 * (writing into the page cache that the previous tool's deleted snapshot freed costs more system CPU
 * here), so no tool may always follow the same one.
 */
const orderOfRound = (round: number): ReadonlyArray<Tool> => {
  const n = tools.length
  // First row 0, 1, n-1, 2, n-2, ...; each later row adds the round to it.
  const first = Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i % 2 === 1 ? (i + 1) / 2 : n - i / 2))
  return first.map((t) => tools[(t + round) % n]!)
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")

const machineFacts = (loadBefore: string) => {
  const cpu = cpus()[0]?.model ?? "unknown"
  const etcdVersion = execFileSync(etcdToolPath("etcd"), ["--version"], { encoding: "utf8" }).split("\n")[0]
  const etcdctlVersion = execFileSync(etcdToolPath("etcdctl"), ["version"], { encoding: "utf8" }).split("\n")[0]
  const fs = execFileSync("df", ["-hT", tmpdir()], { encoding: "utf8" }).trim().split("\n").at(-1)
  return [
    `- CPU: ${cpu}, ${cpus().length} cores; memory ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; kernel ${execFileSync("uname", ["-r"], { encoding: "utf8" }).trim()}`,
    `- Node ${process.version}; ${etcdVersion}; ${etcdctlVersion}`,
    `- Filesystem of the data and output (${tmpdir()}): \`${fs}\``,
    `- Load average (1, 5, 15 min) before the runs: ${loadBefore}; after: ${loadAverage()} (the machine is shared: other work runs beside the benchmark, so single runs vary; compare medians)`,
    `- Peak RSS from ${existsSync("/usr/bin/time") ? "`/usr/bin/time -v` (Maximum resident set size)" : "/proc/<pid>/status VmHWM polled every 20 ms"}`,
  ].join("\n")
}

const program = Effect.gen(function* () {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "cb-bench-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true })),
  )
  const tls = yield* generateTlsBundle(join(dir, "tls"))
  const member = yield* startLocalEtcd({
    dataDir: join(dir, "etcd"),
    tls,
    quotaBackendBytes: 8 * 1024 ** 3,
    unsafeNoFsync: true,
  })
  const creds = clientTls(tls)
  const client = yield* Effect.acquireRelease(
    Effect.sync(
      () =>
        new Etcd3({
          hosts: member.clientUrl,
          credentials: { rootCertificate: readFileSync(creds.cacert), certChain: readFileSync(creds.cert), privateKey: readFileSync(creds.key) },
        }),
    ),
    (c) => Effect.sync(() => c.close()),
  )
  yield* Effect.logInfo(`building a ${(targetBytes / MiB).toFixed(0)} MiB database on ${member.clientUrl}`)
  const built = yield* Effect.promise(() => build(client))

  const env = { ...process.env, ETCDCTL_API: "3" }
  // What the image holds (deploy/Containerfile): the bundle `npm run build` makes.
  const builtDir = join(root, "bench", ".work", "dist")
  rmSync(builtDir, { recursive: true, force: true })
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(builtDir, { recursive: true, force: true })))
  execFileSync(process.execPath, [join(root, "scripts", "build.ts"), "--outdir", builtDir], { cwd: root })
  const builtCli = join(builtDir, "cluster-backup.js")
  const loadBefore = loadAverage()
  const floor = yield* Effect.promise(() => measure(process.execPath, [builtCli, "--version"], env))
  if (floor.exitCode !== 0) return yield* Effect.die(new Error(`cluster-backup --version failed (exit ${floor.exitCode}):\n${floor.stderr}`))
  const backupInitArgs = (out: string) => [
    "backup-init",
    "--backup-dir",
    out,
    "--etcd-endpoints",
    member.clientUrl,
    "--etcd-cert",
    creds.cert,
    "--etcd-key",
    creds.key,
    "--etcd-cacert",
    creds.cacert,
  ]
  const commandFor = (tool: Tool, out: string): readonly [string, ReadonlyArray<string>] => {
    switch (tool) {
      case "cluster-backup backup-init":
        return [process.execPath, [builtCli, ...backupInitArgs(out)]]
      case "backup-init --no-direct-io":
        return [process.execPath, [builtCli, ...backupInitArgs(out), "--no-direct-io"]]
      case "etcd3 snapshot":
        return [process.execPath, [join(root, "bench", "etcd3-snapshot.ts"), out, member.clientUrl, creds.cert, creds.key, creds.cacert]]
      case "etcdctl snapshot save":
        return [
          etcdToolPath("etcdctl"),
          ["--endpoints", member.clientUrl, "--cert", creds.cert, "--key", creds.key, "--cacert", creds.cacert, "snapshot", "save", join(out, "snapshot.db")],
        ]
    }
  }
  // One untimed snapshot first, so that no tool pays alone for reading the new database from disk.
  const warmUp = join(dir, "warm-up")
  mkdirSync(warmUp)
  const [warmCommand, warmArgs] = commandFor("etcdctl snapshot save", warmUp)
  const warm = yield* Effect.promise(() => measure(warmCommand, warmArgs, env))
  if (warm.exitCode !== 0) return yield* Effect.die(new Error(`the warm-up snapshot failed (exit ${warm.exitCode}):\n${warm.stderr}`))
  rmSync(warmUp, { recursive: true, force: true })
  const samples: Array<Sample> = []
  for (let round = 0; round < rounds; round++) {
    const order = orderOfRound(round)
    for (const tool of order) {
      const out = join(dir, `out-${round}`)
      mkdirSync(out, { recursive: true })
      const [command, args] = commandFor(tool, out)
      // backup-init runs with the environment the backup pod gives its container.
      const toolEnv = tool.includes("backup-init") ? { ...env, ...Object.fromEntries(backupInitEnv.map((e) => [e.name, e.value])) } : env
      const run = yield* Effect.promise(() => measure(command, args, toolEnv))
      if (run.exitCode !== 0) return yield* Effect.die(new Error(`${tool} failed (exit ${run.exitCode}):\n${run.stderr}`))
      const produced = readdirSync(out).find((n) => n.endsWith(".db"))
      const bytes = statSync(join(out, produced!)).size
      samples.push({ tool, seconds: run.seconds, bytes, peakRssKiB: run.peakRssKiB, cpuSeconds: run.cpuSeconds, exitCode: run.exitCode })
      yield* Effect.logInfo(
        `${tool} round ${round + 1}: ${(bytes / MiB).toFixed(0)} MiB in ${run.seconds.toFixed(2)} s, peak RSS ${(run.peakRssKiB / 1024).toFixed(1)} MiB`,
      )
      rmSync(out, { recursive: true, force: true })
    }
  }

  const of = (tool: Tool) => samples.filter((s) => s.tool === tool)
  const throughput = (s: Sample) => s.bytes / MiB / s.seconds
  const medianRate = (tool: Tool) => median(of(tool).map(throughput))
  const peak = (tool: Tool) => Math.max(...of(tool).map((s) => s.peakRssKiB)) / 1024
  const medianCpuPerGiB = (tool: Tool) => median(of(tool).map((s) => s.cpuSeconds / (s.bytes / 1024 ** 3)))
  const ref = medianRate("etcdctl snapshot save")
  const verdict = (ok: boolean) => (ok ? "met" : "**not met**")
  const rows = samples
    .map(
      (s, i) =>
        `| ${i + 1} | ${s.tool} | ${(s.bytes / MiB).toFixed(1)} | ${s.seconds.toFixed(2)} | ${throughput(s).toFixed(1)} | ${s.cpuSeconds.toFixed(2)} | ${(s.peakRssKiB / 1024).toFixed(1)} |`,
    )
    .join("\n")
  const summary = tools
    .map(
      (t) =>
        `| ${t} | ${medianRate(t).toFixed(1)} | ${(medianRate(t) / ref).toFixed(2)}x | ${medianCpuPerGiB(t).toFixed(2)} | ${peak(t).toFixed(1)} |` +
        (t === "etcdctl snapshot save"
          ? " reference |"
          : t === "etcd3 snapshot"
            ? " for comparison |"
            : ` throughput ${verdict(medianRate(t) / ref >= 0.9)}, memory ${verdict(peak(t) < 150)} |`),
    )
    .join("\n")
  const report = `# Snapshot streaming: backup-init vs etcdctl snapshot save

Run by \`node bench/snapshot-vs-etcdctl.ts --size-mib ${targetBytes / MiB} --rounds ${rounds}\` on ${new Date().toISOString().slice(0, 10)}.
What limits the numbers, what was tried and what would move them: \`bench/README.md\`.

## Machine

${machineFacts(loadBefore)}

## Setup

- One etcd member on loopback, TLS with client-certificate auth (P-256), \`--quota-backend-bytes 8 GiB\`,
  \`--unsafe-no-fsync\` (only to build the data quickly; snapshots read the database either way).
- Database built with ${built.keys} distinct keys, values 1 KiB..100 KiB (${(built.valueBytes / MiB).toFixed(0)} MiB of values):
  **${(built.dbSize / MiB).toFixed(0)} MiB** as reported by the member (built in ${built.seconds.toFixed(0)} s).
- Each tool runs as its own process, ${rounds} rounds, in an order that changes every round so that each tool follows each other tool equally often (Williams design), writing into the same
  filesystem, after one untimed snapshot that brings the database into the page cache. Wall time includes process start-up, the status and CR reads, the stream, the sha256 check,
  fsync and rename (etcdctl also fsyncs and renames).
- Tools: \`cluster-backup backup-init\` is the command as the backup pod runs it: built by \`npm run build\`
  as in the image, with the container's environment (\`${backupInitEnv.map((e) => `${e.name}=${e.value}`).join(" ")}\`);
  it writes the snapshot with direct I/O, its default; \`backup-init --no-direct-io\` is the same command writing
  through the page cache, as it does on filesystems that refuse direct I/O (with an fsync every 32 MiB);
  \`etcd3 snapshot\` streams the same snapshot through the etcd3 package (grpc-js with a
  4 MiB window, no Effect, no command line; \`bench/etcd3-snapshot.ts\`) with the same trailer check, fsync and
  rename, through the page cache; \`etcdctl snapshot save\` is the reference (page cache, one fsync at the end).
- The built command line's own floor, \`cluster-backup --version\` (loads every subcommand's modules), peaks at
  **${(floor.peakRssKiB / 1024).toFixed(1)} MiB** and takes ${floor.seconds.toFixed(2)} s here.

## Results

| tool | median MiB/s | vs etcdctl | median CPU s per GiB | peak RSS MiB | targets (>= 0.9x, < 150 MiB) |
|---|---|---|---|---|---|
${summary}

| run | tool | snapshot MiB | seconds | MiB/s | CPU s (user + system) | peak RSS MiB |
|---|---|---|---|---|---|---|
${rows}
`
  writeFileSync(outFile, report)
  yield* Effect.logInfo(`wrote ${outFile}`)
  process.stdout.write(report)
})

NodeRuntime.runMain(Effect.scoped(program).pipe(Effect.provide(NodeServices.layer)))
