/** The machine and the versions a results file names, and the load average around each benchmark. */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { cpus, loadavg, release, totalmem } from "node:os"
import { join } from "node:path"

export const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")

/** The first line a tool prints for its version, or why there is none. */
const firstLine = (command: string, args: ReadonlyArray<string>): string => {
  try {
    return execFileSync(command, [...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      .split("\n")[0]!
      .trim()
  } catch (e) {
    return `${command}: not runnable (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`
  }
}

const swiftVersion = (root: string): string => {
  try {
    const egg = readdirSync(join(root, ".tools", "swift", "root", "usr", "lib", "python3", "dist-packages")).find((f) => /^swift-.*\.egg-info$/.test(f))
    return egg === undefined ? "not found" : egg.replace(/^swift-|\.egg-info$/g, "")
  } catch {
    return "not installed"
  }
}

/** Bullets: CPU, memory, kernel, filesystem of `workDir`, and every tool's version. */
export const machineFacts = (root: string, workDir: string, cli: string): ReadonlyArray<string> => {
  const tools = join(root, ".tools")
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> }
  const fs = firstLine("bash", ["-c", 'df -hT "$1" | tail -1', "df", workDir])
  return [
    `CPU: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores; memory ${(totalmem() / 1024 ** 3).toFixed(1)} GiB; Linux ${release()}`,
    `Filesystem of the work directory (${workDir}): \`${fs}\``,
    `cluster-backup ${pkg.version} (${firstLine(process.execPath, [cli, "--version"])}), the bundle \`scripts/build.ts\` makes, as the image runs it; effect ${pkg.dependencies.effect}`,
    `Node ${process.version} (OpenSSL ${process.versions.openssl})`,
    `${firstLine(join(tools, "etcd", "bin", "etcd"), ["--version"])}; ${firstLine(join(tools, "etcd", "bin", "etcdctl"), ["version"])}; ${firstLine(join(tools, "etcd", "bin", "etcdutl"), ["version"])}`,
    `age ${firstLine(join(tools, "age", "bin", "age"), ["--version"])}; ${firstLine(join(tools, "rclone", "bin", "rclone"), ["version"])}; Swift ${swiftVersion(root)} with s3api`,
    `${firstLine("tar", ["--version"])}; ${firstLine("gzip", ["--version"])}; ${firstLine("sha256sum", ["--version"])}`,
    "Peak RSS from `/usr/bin/time -v` (Maximum resident set size; for a shell pipeline, its largest process)",
  ]
}
