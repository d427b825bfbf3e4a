/**
 * Benchmark: the project's S3 client (bench/store-transfer.ts, the code backup-upload and download
 * run) against `rclone copyto` with the same part size and parts in flight, uploading and
 * downloading one file of --size-mib random bytes to the project's own Swift s3api server
 * (scripts/s3-server.sh, started and stopped here). Each transfer is its own process, alternating
 * tools, several rounds; wall time gives throughput, `/usr/bin/time` the peak RSS and CPU.
 * Every download's sha256 is compared with the file's. Our client runs from the TypeScript
 * sources (importing effect whole: ~115 MiB before any transfer; the image's bundle is smaller).
 * Writes bench/STORE-RESULTS.md.
 *
 *   node bench/store-vs-rclone.ts [--size-mib 1024] [--rounds 2] [--part-mib 16] [--in-flight 4] [--out bench/STORE-RESULTS.md]
 *
 * Needs `. scripts/setup.sh` first (Swift and rclone in .tools). Not part of the test suite.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const sizeMib = Number(arg("size-mib", "1024"))
const rounds = Number(arg("rounds", "2"))
const partMib = Number(arg("part-mib", "16"))
const inFlight = Number(arg("in-flight", "4"))
const outFile = resolve(arg("out", join(root, "bench", "STORE-RESULTS.md")))
const work = mkdtempSync(join(tmpdir(), "store-bench-"))
const serverDir = join(work, "s3")
const bucket = "bench"

const line = execFileSync("bash", [join(root, "scripts", "s3-server.sh"), "start", serverDir, "auto", String(process.pid), "remove"], { encoding: "utf8" })
const field = (name: string) => new RegExp(`${name}=(\\S+)`).exec(line)![1]!
const env: Record<string, string | undefined> = { ...process.env, S3_ENDPOINT: field("endpoint"), AWS_ACCESS_KEY_ID: field("access_key"), AWS_SECRET_ACCESS_KEY: field("secret_key"), AWS_REGION: field("region") }
delete env.AWS_CA_BUNDLE
const rcloneArgs = [
  "--s3-provider=Other",
  `--s3-endpoint=${env.S3_ENDPOINT}`,
  `--s3-access-key-id=${env.AWS_ACCESS_KEY_ID}`,
  `--s3-secret-access-key=${env.AWS_SECRET_ACCESS_KEY}`,
  `--s3-region=${env.AWS_REGION}`,
  "--s3-force-path-style=true",
  `--s3-chunk-size=${partMib}M`,
  `--s3-upload-cutoff=${partMib}M`,
  `--s3-upload-concurrency=${inFlight}`,
  `--multi-thread-streams=${inFlight}`,
  "--ignore-times",
]
const rclone = join(root, ".tools", "rclone", "bin", "rclone")

interface Sample {
  readonly tool: string
  readonly op: "upload" | "download"
  readonly seconds: number
  readonly peakRssMiB: number
  readonly cpuSeconds: number
}

const measure = (tool: string, op: "upload" | "download", command: string, args: ReadonlyArray<string>): Sample => {
  const stats = join(work, "time.txt")
  const started = performance.now()
  const r = spawnSync("/usr/bin/time", ["-f", "%M %U %S", "-o", stats, command, ...args], { env, encoding: "utf8" })
  const seconds = (performance.now() - started) / 1000
  if (r.status !== 0) throw new Error(`${tool} ${op} failed (${r.status}): ${r.stderr}`)
  const [rssKiB, user, sys] = readFileSync(stats, "utf8").trim().split(/\s+/).slice(-3).map(Number)
  return { tool, op, seconds, peakRssMiB: rssKiB! / 1024, cpuSeconds: user! + sys! }
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

try {
  execFileSync(rclone, [...rcloneArgs, "mkdir", `:s3:${bucket}`], { env })
  const src = join(work, "data.bin")
  const fd = openSync(src, "w")
  for (let i = 0; i < sizeMib; i++) writeSync(fd, randomBytes(1024 * 1024))
  closeSync(fd)
  const expected = sha256(src)
  const samples: Array<Sample> = []
  const ours = (op: "upload" | "download", key: string, file: string) =>
    measure("cluster-backup (lean SigV4)", op, process.execPath, [join(root, "bench", "store-transfer.ts"), op, file, bucket, key, String(partMib), String(inFlight), expected])
  const theirs = (op: "upload" | "download", key: string, file: string) =>
    measure("rclone copyto", op, rclone, op === "upload" ? [...rcloneArgs, "copyto", file, `:s3:${bucket}/${key}`] : [...rcloneArgs, "copyto", `:s3:${bucket}/${key}`, file])
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [ours, theirs] : [theirs, ours]
    for (const [i, run] of order.entries()) {
      const key = `r${round}-${i}.bin`
      samples.push(run("upload", key, src))
      const back = join(work, `back-${round}-${i}.bin`)
      samples.push(run("download", key, back))
      if (sha256(back) !== expected) throw new Error(`${back}: sha256 differs from the uploaded file`)
      rmSync(back)
    }
  }
  const rows = samples.map((s) => `| ${s.tool} | ${s.op} | ${s.seconds.toFixed(2)} | ${(sizeMib / s.seconds).toFixed(1)} | ${s.peakRssMiB.toFixed(0)} | ${s.cpuSeconds.toFixed(1)} |`)
  const mean = (tool: string, op: string) => {
    const xs = samples.filter((s) => s.tool.startsWith(tool) && s.op === op)
    return { rate: xs.reduce((n, s) => n + sizeMib / s.seconds, 0) / xs.length, peak: Math.max(...xs.map((s) => s.peakRssMiB)) }
  }
  const summary = (["upload", "download"] as const).map((op) => {
    const a = mean("cluster-backup", op)
    const b = mean("rclone", op)
    return `- ${op}: ${a.rate.toFixed(1)} MiB/s against rclone's ${b.rate.toFixed(1)} MiB/s (**${(a.rate / b.rate).toFixed(2)} x**), peak RSS **${a.peak.toFixed(0)} MiB** (rclone ${b.peak.toFixed(0)} MiB)`
  })
  const text = `# S3 transfers: the project's client against rclone

\`node bench/store-vs-rclone.ts --size-mib ${sizeMib} --rounds ${rounds} --part-mib ${partMib} --in-flight ${inFlight}\`, ${new Date().toISOString()}, ${cpus().length} cores, load average before the run ${loadavg().map((l) => l.toFixed(1)).join(" ")}.
Swift 2.30 s3api (scripts/s3-server.sh) on loopback; ${sizeMib} MiB of random bytes; ${partMib} MiB parts, ${inFlight} in flight for both; every download's sha256 checked.

${summary.join("\n")}

| tool | op | seconds | MiB/s | peak RSS MiB | CPU s |
|---|---|---|---|---|---|
${rows.join("\n")}
`
  writeFileSync(outFile, text)
  process.stdout.write(text)
} finally {
  execFileSync("bash", [join(root, "scripts", "s3-server.sh"), "stop", serverDir], { stdio: "ignore" })
  rmSync(work, { recursive: true, force: true })
}
