/**
 * Benchmark: age encryption and decryption of a 1 GiB file, the project's implementation
 * (src/services/crypto on node:crypto, through `encryptFile`/`decryptFile`: `.part`, fsync,
 * rename, both sha256s; bundled with esbuild from bench/age-child.ts) against the `age` CLI (Debian's 1.1.1 from .tools/age, `-o` to a file,
 * then `sync`), and optionally the `age-encryption` npm package (pure-JS ChaCha20 from @noble)
 * when AGE_JS_MODULE names its dist/index.js. Each run is its own process, alternating, several
 * rounds; wall time gives throughput, `/usr/bin/time -v` the peak RSS. Writes bench/AGE.md.
 *
 *   node bench/age-vs-cli.ts [--size-mib 1024] [--rounds 3] [--out bench/AGE.md]
 *
 * Not part of the test suite: it takes a few minutes and ~4 x the size in free disk space.
 */
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir, totalmem } from "node:os"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { createCipheriv, randomBytes } from "node:crypto"
import { build } from "esbuild"
import { alignTables } from "./harness/markdown-table.ts"
import { scriptArg } from "./harness/script-args.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const ageBin = join(root, ".tools", "age", "bin")
const MiB = 1024 * 1024
const sizeBytes = Number(scriptArg("size-mib", "1024")) * MiB
const rounds = Number(scriptArg("rounds", "3"))
const outFile = resolve(scriptArg("out", join(root, "bench", "AGE.md")))
const withJs = process.env.AGE_JS_MODULE !== undefined

interface Sample {
  readonly tool: string
  readonly op: "encrypt" | "decrypt"
  readonly seconds: number
  readonly peakRssKiB: number
  readonly cpuSeconds: number
}

const measure = (command: string, args: ReadonlyArray<string>): Promise<{ seconds: number; peakRssKiB: number; cpuSeconds: number }> =>
  new Promise((done, fail) => {
    const c = spawn("/usr/bin/time", ["-v", command, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
    const started = process.hrtime.bigint()
    c.on("error", fail)
    c.on("exit", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      if (code !== 0) return fail(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr}`))
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)
      const user = /User time \(seconds\): ([\d.]+)/.exec(stderr)
      const system = /System time \(seconds\): ([\d.]+)/.exec(stderr)
      done({ seconds, peakRssKiB: Number(rss?.[1] ?? Number.NaN), cpuSeconds: Number(user?.[1]) + Number(system?.[1]) })
    })
  })

/** The plaintext: ChaCha20 keystream (incompressible, fast to make), written in 1 MiB pieces. */
const makePlaintext = async (path: string) => {
  const cipher = createCipheriv("chacha20", randomBytes(32), randomBytes(16))
  const zero = Buffer.alloc(MiB)
  let left = sizeBytes
  await pipeline(
    Readable.from(
      (function* () {
        while (left > 0) {
          const n = Math.min(MiB, left)
          left -= n
          yield cipher.update(zero.subarray(0, n))
        }
      })(),
    ),
    createWriteStream(path),
  )
}

const sha256 = (path: string) => execFileSync("sha256sum", [path], { encoding: "utf8" }).split(" ")[0]!
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const dir = mkdtempSync(join(tmpdir(), "cb-age-bench-"))
try {
  const plain = join(dir, "plain.bin")
  const keyFile = join(dir, "key.txt")
  execFileSync(join(ageBin, "age-keygen"), ["-o", keyFile], { stdio: "ignore" })
  chmodSync(keyFile, 0o600)
  const recipient = execFileSync(join(ageBin, "age-keygen"), ["-y", keyFile], { encoding: "utf8" }).trim()
  await makePlaintext(plain)
  const plainHash = sha256(plain)
  const node = process.execPath
  // The runs of this project's code (and of age-encryption) are a bundle, as the image runs.
  const self = join(dir, "age-child.mjs")
  await build({
    absWorkingDir: root,
    entryPoints: [join(root, "bench", "age-child.ts")],
    outfile: self,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22.19",
    external: ["age-encryption"],
    logLevel: "warning",
  })
  // Every tool decrypts the same CLI-made ciphertext, so decryption compares like with like.
  const reference = join(dir, "reference.age")
  execFileSync(join(ageBin, "age"), ["-r", recipient, "-o", reference, plain])
  const tools: Record<string, { encrypt: (out: string) => [string, Array<string>]; decrypt: (out: string) => [string, Array<string>] }> = {
    "age CLI 1.1.1": {
      encrypt: (out) => ["sh", ["-c", `"${join(ageBin, "age")}" -r ${recipient} -o "${out}" "${plain}" && sync "${out}"`]],
      decrypt: (out) => ["sh", ["-c", `"${join(ageBin, "age")}" -d -i "${keyFile}" -o "${out}" "${reference}" && sync "${out}"`]],
    },
    // What the CLI would have to add to give the manifest the plaintext's hash, as encryptFile and decryptFile do.
    "age CLI + sha256sum of the plaintext": {
      encrypt: (out) => ["sh", ["-c", `"${join(ageBin, "age")}" -r ${recipient} -o "${out}" "${plain}" && sync "${out}" && sha256sum "${plain}" >/dev/null`]],
      decrypt: (out) => [
        "sh",
        ["-c", `"${join(ageBin, "age")}" -d -i "${keyFile}" -o "${out}" "${reference}" && sync "${out}" && sha256sum "${out}" >/dev/null`],
      ],
    },
    "cluster-backup (node:crypto)": {
      encrypt: (out) => [node, [self, "ours-encrypt", plain, out, recipient]],
      decrypt: (out) => [node, [self, "ours-decrypt", reference, out, keyFile]],
    },
    ...(withJs
      ? {
          "age-encryption 0.3.1 (@noble)": {
            encrypt: (out: string): [string, Array<string>] => [node, [self, "js-encrypt", plain, out, recipient]],
            decrypt: (out: string): [string, Array<string>] => [node, [self, "js-decrypt", reference, out, keyFile]],
          },
        }
      : {}),
  }
  const names = Object.keys(tools)
  const samples: Array<Sample> = []
  const loadBefore = loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")
  for (let round = 0; round < rounds; round++) {
    for (const op of ["encrypt", "decrypt"] as const) {
      // Rotate the order each round so no tool always follows the same one.
      for (const tool of names.map((_, i) => names[(i + round) % names.length]!)) {
        const out = join(dir, `out-${op}`)
        const [command, args] = tools[tool]![op](out)
        const m = await measure(command, args)
        if (op === "encrypt") {
          // Proves the output is age: the CLI opens it to the same bytes.
          execFileSync(join(ageBin, "age"), ["-d", "-i", keyFile, "-o", join(dir, "check"), out])
          if (sha256(join(dir, "check")) !== plainHash) throw new Error(`${tool} encrypted something the age CLI decrypts to other bytes`)
          rmSync(join(dir, "check"))
        } else if (sha256(out) !== plainHash) {
          throw new Error(`${tool} decrypted to other bytes`)
        }
        rmSync(out)
        samples.push({ tool, op, ...m })
        process.stderr.write(`[bench] round ${round + 1} ${op} ${tool}: ${m.seconds.toFixed(2)} s, ${(m.peakRssKiB / 1024).toFixed(0)} MiB\n`)
      }
    }
  }
  const row = (tool: string, op: "encrypt" | "decrypt") => {
    const mine = samples.filter((s) => s.tool === tool && s.op === op)
    const cli = samples.filter((s) => s.tool === names[0] && s.op === op)
    const t = median(mine.map((s) => s.seconds))
    const throughput = sizeBytes / MiB / t
    const ratio = median(cli.map((s) => s.seconds)) / t
    return `| ${tool} | ${op} | ${mine.map((s) => s.seconds.toFixed(2)).join(", ")} | ${throughput.toFixed(0)} MiB/s | ${ratio.toFixed(2)} x | ${median(mine.map((s) => s.cpuSeconds)).toFixed(2)} s | ${(Math.max(...mine.map((s) => s.peakRssKiB)) / 1024).toFixed(0)} MiB |`
  }
  const fsLine = execFileSync("df", ["-hT", dir], { encoding: "utf8" }).trim().split("\n").at(-1)
  const report = [
    "# age encryption: cluster-backup against the age CLI",
    "",
    `Generated by \`node bench/age-vs-cli.ts --size-mib ${sizeBytes / MiB} --rounds ${rounds}\`${withJs ? " with AGE_JS_MODULE set" : ""} on ${new Date().toISOString()}.`,
    "",
    `- CPU: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores; memory ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; load average before: ${loadBefore}, after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}`,
    `- Node ${process.version} (OpenSSL ${process.versions.openssl}); age ${execFileSync(join(ageBin, "age"), ["--version"], { encoding: "utf8" }).trim()}`,
    `- Filesystem: \`${fsLine}\``,
    `- Plaintext: ${sizeBytes / MiB} MiB of ChaCha20 keystream (incompressible). Every output is checked: each encryption is opened by the age CLI to the same sha256, each decryption of the CLI's ciphertext compared with the plaintext's sha256.`,
    "- Each run is a process: the CLI with `-o` then `sync` of the output; ours through `encryptFile`/`decryptFile` (`.part`, fsync, rename, sha256 of the plaintext).",
    "",
    "| tool | operation | wall seconds per round | throughput (median) | vs CLI (median) | CPU (median) | peak RSS (max) |",
    "|---|---|---|---|---|---|---|",
    ...names.flatMap((tool) => [row(tool, "encrypt"), row(tool, "decrypt")]),
    "",
  ].join("\n")
  writeFileSync(outFile, alignTables(report))
  process.stdout.write(report)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
