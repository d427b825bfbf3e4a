/**
 * Benchmark: what age encryption adds to `cluster-backup backup-upload` to Swift (issue 17's
 * target: an encrypted upload costs <= 10 % more wall time than a plain one). The built bundle
 * (`scripts/build.ts`, what the image runs; built into a scratch directory unless --dist names
 * one) uploads a backup whose snapshot is --size-mib random bytes to the project's Swift s3api
 * server (scripts/s3-server.sh, started and stopped here), plain and with --recipients-file, the
 * order alternating from round to round; `/usr/bin/time` gives the peak RSS and CPU. The last
 * encrypted upload is downloaded with the identity and its snapshot compared with the original.
 * Prints a markdown table (and writes it to --out when given).
 *
 *   node bench/encrypted-upload.ts [--size-mib 1024] [--rounds 3] [--part-mib 16] [--in-flight 4] [--dist DIR] [--out FILE]
 *
 * Needs Swift and the age CLI in .tools (scripts/setup.sh). Not part of the test suite.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { fileSha256, startBenchSwift, stopBenchSwift } from "./harness/local-swift.ts"
import { alignTables } from "./harness/markdown-table.ts"
import { median } from "./harness/stats.ts"
import { writeLargeBackup } from "../test/support/large-backup.ts"
import { createBucket } from "../test/support/s3-server.ts"
import { scriptArg, uptimeLine } from "./harness/script-args.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const sizeMib = Number(scriptArg("size-mib", "1024"))
const rounds = Number(scriptArg("rounds", "3"))
const partMib = Number(scriptArg("part-mib", "16"))
const inFlight = Number(scriptArg("in-flight", "4"))
const outFile = scriptArg("out", "")
const work = mkdtempSync(join(tmpdir(), "encrypted-upload-bench-"))
const dist = scriptArg("dist", join(work, "dist"))
const serverDir = join(work, "s3")
const bucket = "bench"

type Mode = "plain" | "encrypted"
interface Sample {
  readonly mode: Mode
  readonly round: number
  readonly seconds: number
  readonly peakRssMiB: number
  readonly cpuSeconds: number
}

const loadBefore = uptimeLine()
if (scriptArg("dist", "") === "") execFileSync(process.execPath, [join(root, "scripts", "build.ts"), "--outdir", dist], { stdio: "inherit" })
const env = startBenchSwift(root, serverDir)

const measure = (mode: Mode, round: number, args: ReadonlyArray<string>): Sample => {
  const stats = join(work, "time.txt")
  const started = performance.now()
  const r = spawnSync("/usr/bin/time", ["-f", "%M %U %S", "-o", stats, process.execPath, ...args], { env, encoding: "utf8" })
  const seconds = (performance.now() - started) / 1000
  if (r.status !== 0) throw new Error(`${mode} upload failed (${r.status}): ${r.stderr}`)
  const [rssKiB, user, sys] = readFileSync(stats, "utf8").trim().split(/\s+/).slice(-3).map(Number)
  return { mode, round, seconds, peakRssMiB: rssKiB! / 1024, cpuSeconds: user! + sys! }
}

try {
  const identity = join(work, "identity.txt")
  execFileSync(join(root, ".tools", "age", "bin", "age-keygen"), ["-o", identity], { stdio: "ignore" })
  const recipients = join(work, "recipients")
  writeFileSync(recipients, execFileSync(join(root, ".tools", "age", "bin", "age-keygen"), ["-y", identity]))
  execFileSync("chmod", ["600", identity])
  const server = { endpoint: env.AWS_ENDPOINT_URL!, accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY!, region: env.AWS_REGION! }
  await createBucket({ ...server, pids: {}, dir: serverDir }, bucket)
  const backup = join(work, "backup")
  const manifest = writeLargeBackup(backup, sizeMib * 1024 * 1024)
  const cli = join(dist, "cluster-backup.js")
  const upload = (mode: Mode, round: number) =>
    measure(mode, round, [
      cli,
      "backup-upload",
      "--store",
      `s3://${bucket}/${mode}-${round}`,
      "--backup-dir",
      backup,
      "--part-size",
      `${partMib}Mi`,
      "--parts-in-flight",
      String(inFlight),
      ...(mode === "encrypted" ? ["--recipients-file", recipients] : []),
    ])
  const samples: Array<Sample> = []
  for (let round = 1; round <= rounds; round++) {
    for (const mode of round % 2 === 1 ? (["plain", "encrypted"] as const) : (["encrypted", "plain"] as const)) samples.push(upload(mode, round))
  }
  const back = join(work, "back")
  execFileSync(process.execPath, [cli, "download", `s3://${bucket}/encrypted-${rounds}`, manifest.timestamp, back, "--identity", identity], {
    env,
    stdio: "ignore",
  })
  if ((await fileSha256(join(back, manifest.files.snapshot.name))) !== manifest.files.snapshot.sha256) throw new Error("the decrypted snapshot differs")
  const loadAfter = uptimeLine()
  const of = (mode: Mode) => samples.filter((s) => s.mode === mode)
  const plain = median(of("plain").map((s) => s.seconds))
  const encrypted = median(of("encrypted").map((s) => s.seconds))
  const extra = encrypted / plain - 1
  const rows = samples.map(
    (s) =>
      `| ${s.round} | ${s.mode} | ${s.seconds.toFixed(2)} | ${(sizeMib / s.seconds).toFixed(1)} | ${s.peakRssMiB.toFixed(0)} | ${s.cpuSeconds.toFixed(1)} |`,
  )
  const text = `# Encrypted upload to Swift against a plain one

\`node bench/encrypted-upload.ts --size-mib ${sizeMib} --rounds ${rounds} --part-mib ${partMib} --in-flight ${inFlight}\`, ${new Date().toISOString()}.

- Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}); load before: \`${loadBefore}\`; after: \`${loadAfter}\`. Node ${process.version}.
- A backup whose snapshot is ${sizeMib} MiB of random bytes; ${partMib} MiB parts, ${inFlight} in flight; encrypted to one X25519 recipient
  (each file encrypted into \`<file>.age\` beside it, a ring of parts in flight + 1 for the snapshot, while its parts are uploaded). The last encrypted upload was downloaded with the identity and
  its snapshot's sha256 compared with the original's.
- **Wall time**: median ${plain.toFixed(2)} s plain, ${encrypted.toFixed(2)} s encrypted: **${(extra * 100).toFixed(1)} % more**
  (target <= 10 %: ${extra <= 0.1 ? "met" : "**missed**"}); peak RSS encrypted ${Math.max(...of("encrypted").map((s) => s.peakRssMiB)).toFixed(0)} MiB,
  plain ${Math.max(...of("plain").map((s) => s.peakRssMiB)).toFixed(0)} MiB (target < 150).

| round | mode | seconds | MiB/s | peak RSS MiB | CPU s |
|---|---|---|---|---|---|
${rows.join("\n")}
`
  if (outFile !== "") writeFileSync(resolve(outFile), alignTables(text))
  process.stdout.write(text)
} finally {
  stopBenchSwift(root, serverDir)
  rmSync(work, { recursive: true, force: true })
}
