/**
 * Benchmark: `cluster-backup backup-upload` and `download` from the built bundle (what the image
 * runs: `scripts/build.ts`, built here into a scratch directory unless --dist names one) against
 * `rclone copyto` with the same part size and parts in flight, on a backup whose snapshot is
 * --size-mib random bytes, to the project's own Swift s3api server (scripts/s3-server.sh, started
 * and stopped here). Each transfer is its own process, the tools' order alternating from round to
 * round; wall time gives throughput, `/usr/bin/time` the peak RSS and CPU. Every download's
 * sha256 is compared with the snapshot's. Writes bench/STORE-RESULTS.md.
 *
 *   node bench/store-vs-rclone.ts [--size-mib 1024] [--rounds 3] [--part-mib 16] [--in-flight 4] [--dist DIR] [--out FILE]
 *
 * Needs Swift and rclone in .tools (scripts/setup.sh). Not part of the test suite.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, totalmem, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { fileSha256, startBenchSwift, stopBenchSwift } from "./harness/local-swift.ts"
import { alignTables } from "./harness/markdown-table.ts"
import { median } from "./harness/stats.ts"
import { writeLargeBackup } from "../test/support/large-backup.ts"
import { rcloneS3Flags } from "../test/support/s3-server.ts"
import { scriptArg, uptimeLine } from "./harness/script-args.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const sizeMib = Number(scriptArg("size-mib", "1024"))
const rounds = Number(scriptArg("rounds", "3"))
const partMib = Number(scriptArg("part-mib", "16"))
const inFlight = Number(scriptArg("in-flight", "4"))
const outFile = resolve(scriptArg("out", join(root, "bench", "STORE-RESULTS.md")))
const work = mkdtempSync(join(tmpdir(), "store-bench-"))
const dist = scriptArg("dist", join(work, "dist"))
const serverDir = join(work, "s3")
const bucket = "bench"

interface Sample {
  readonly tool: "cluster-backup" | "rclone"
  readonly op: "upload" | "download"
  readonly round: number
  readonly seconds: number
  readonly peakRssMiB: number
  readonly cpuSeconds: number
}

const loadBefore = uptimeLine()
if (scriptArg("dist", "") === "") execFileSync(process.execPath, [join(root, "scripts", "build.ts"), "--outdir", dist], { stdio: "inherit" })
const env = startBenchSwift(root, serverDir)
const rclone = join(root, ".tools", "rclone", "bin", "rclone")
const rcloneArgs = [
  ...rcloneS3Flags({
    endpoint: env.AWS_ENDPOINT_URL!,
    accessKeyId: env.AWS_ACCESS_KEY_ID!,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    region: env.AWS_REGION!,
  }),
  `--s3-chunk-size=${partMib}M`,
  `--s3-upload-cutoff=${partMib}M`,
  `--s3-upload-concurrency=${inFlight}`,
  `--multi-thread-streams=${inFlight}`,
  "--ignore-times",
]

const measure = (tool: Sample["tool"], op: Sample["op"], round: number, command: string, args: ReadonlyArray<string>): Sample => {
  const stats = join(work, "time.txt")
  const started = performance.now()
  const r = spawnSync("/usr/bin/time", ["-f", "%M %U %S", "-o", stats, command, ...args], { env, encoding: "utf8" })
  const seconds = (performance.now() - started) / 1000
  if (r.status !== 0) throw new Error(`${tool} ${op} failed (${r.status}): ${r.stderr}`)
  const [rssKiB, user, sys] = readFileSync(stats, "utf8").trim().split(/\s+/).slice(-3).map(Number)
  return { tool, op, round, seconds, peakRssMiB: rssKiB! / 1024, cpuSeconds: user! + sys! }
}

try {
  execFileSync(rclone, [...rcloneArgs, "mkdir", `:s3:${bucket}`], { env })
  const backup = join(work, "backup")
  const manifest = writeLargeBackup(backup, sizeMib * 1024 * 1024)
  const snapshot = manifest.files.snapshot
  const cli = join(dist, "cluster-backup.js")
  const samples: Array<Sample> = []
  const ours = (round: number, prefix: string, into: string) => {
    const store = `s3://${bucket}/${prefix}`
    samples.push(
      measure("cluster-backup", "upload", round, process.execPath, [
        cli,
        "backup-upload",
        "--store",
        store,
        "--backup-dir",
        backup,
        "--part-size",
        `${partMib}Mi`,
        "--parts-in-flight",
        String(inFlight),
      ]),
    )
    samples.push(measure("cluster-backup", "download", round, process.execPath, [cli, "download", store, manifest.timestamp, into]))
    return join(into, snapshot.name)
  }
  const theirs = (round: number, prefix: string, into: string) => {
    const key = `:s3:${bucket}/${prefix}/${snapshot.name}`
    samples.push(measure("rclone", "upload", round, rclone, [...rcloneArgs, "copyto", join(backup, snapshot.name), key]))
    samples.push(measure("rclone", "download", round, rclone, [...rcloneArgs, "copyto", key, join(into, snapshot.name)]))
    return join(into, snapshot.name)
  }
  for (let round = 1; round <= rounds; round++) {
    for (const [i, run] of (round % 2 === 1 ? [ours, theirs] : [theirs, ours]).entries()) {
      const into = join(work, `back-${round}-${i}`)
      const back = run(round, `r${round}-${i}`, into)
      if ((await fileSha256(back)) !== snapshot.sha256) throw new Error(`${back}: sha256 differs from the snapshot's`)
      rmSync(into, { recursive: true, force: true })
    }
  }
  const loadAfter = uptimeLine()
  const rate = (s: Sample) => sizeMib / s.seconds
  const of = (tool: Sample["tool"], op: Sample["op"]) => samples.filter((s) => s.tool === tool && s.op === op)
  const summary = (["upload", "download"] as const).map((op) => {
    const a = of("cluster-backup", op)
    const b = of("rclone", op)
    const ratio = median(a.map(rate)) / median(b.map(rate))
    const peak = Math.max(...a.map((s) => s.peakRssMiB))
    return [
      `- **${op}**: median ${median(a.map(rate)).toFixed(1)} MiB/s against rclone's ${median(b.map(rate)).toFixed(1)} MiB/s: **${ratio.toFixed(2)} x** (target >= 1.0: ${ratio >= 1 ? "met" : "**missed**"});`,
      `  peak RSS ${a.map((s) => s.peakRssMiB.toFixed(0)).join(", ")} MiB, highest **${peak.toFixed(0)} MiB** (target < 150: ${peak < 150 ? "met" : "**missed**"}; rclone ${Math.max(...b.map((s) => s.peakRssMiB)).toFixed(0)} MiB);`,
      `  CPU median ${median(a.map((s) => s.cpuSeconds)).toFixed(1)} s against rclone's ${median(b.map((s) => s.cpuSeconds)).toFixed(1)} s`,
    ].join("\n")
  })
  const rows = samples.map(
    (s) => `| ${s.round} | ${s.tool} | ${s.op} | ${s.seconds.toFixed(2)} | ${rate(s).toFixed(1)} | ${s.peakRssMiB.toFixed(0)} | ${s.cpuSeconds.toFixed(1)} |`,
  )
  const swift = readdirSync(join(root, ".tools", "swift", "root", "usr", "lib", "python3", "dist-packages")).find((f) => /^swift-.*\.egg-info$/.test(f))
  const text = `# S3 transfers: the project's commands against rclone

\`node bench/store-vs-rclone.ts --size-mib ${sizeMib} --rounds ${rounds} --part-mib ${partMib} --in-flight ${inFlight}\`, ${new Date().toISOString()}.

- Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, shared with other engineers' test runs.
- Load (\`uptime\`) before: \`${loadBefore}\`; after: \`${loadAfter}\`.
- Node ${process.version}; cluster-backup from the bundle (\`scripts/build.ts\`, as the image runs it), no NODE_OPTIONS;
  ${execFileSync(rclone, ["version"], { encoding: "utf8" }).split("\n")[0]}; Swift ${swift?.replace(/^swift-|\.egg-info$/g, "") ?? "?"} with s3api (scripts/s3-server.sh) on loopback.
- A backup whose snapshot is ${sizeMib} MiB of random bytes; ${partMib} MiB parts, ${inFlight} in flight for both tools (rclone: \`--s3-chunk-size\`,
  \`--s3-upload-concurrency\`, \`--multi-thread-streams\`). \`backup-upload\` also sends the tarball (48 KiB) and the manifest and checks every
  file's sha256 against the manifest; \`download\` fetches all three and checks every sha256 before renaming into place. Every snapshot
  downloaded was compared with the original's sha256 afterwards.

${summary.join("\n")}

| round | tool | op | seconds | MiB/s | peak RSS MiB | CPU s |
|---|---|---|---|---|---|---|
${rows.join("\n")}
`
  writeFileSync(outFile, alignTables(text))
  process.stdout.write(text)
} finally {
  stopBenchSwift(root, serverDir)
  rmSync(work, { recursive: true, force: true })
}
