import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root, whatever the test's working directory. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..")

/** Absolute path of an etcd tool: the project's .tools copy (scripts/setup.sh), else PATH. */
export const etcdTool = (name: "etcd" | "etcdctl" | "etcdutl"): string => {
  const local = join(repoRoot, ".tools", "etcd", "bin", name)
  return existsSync(local) ? local : name
}

/** The command entry point, run by the current Node (the project's Node 24 under scripts/). */
export const cliEntry = join(repoRoot, "bin", "cluster-backup.js")

export interface CliRun {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the command in a child process without blocking this one (a stub API server in this
 * process must keep answering it). `KUBECONFIG` is cleared unless `env` sets it. `entry` is
 * another tree's command (the built one).
 */
export const runCli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}, entry: string = cliEntry): Promise<CliRun> =>
  import("node:child_process").then(
    ({ spawn }) =>
      new Promise<CliRun>((resolve, reject) => {
        const child = spawn(process.execPath, [entry, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBECONFIG: "", ...env } })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
        child.on("error", reject)
        child.on("close", (status) => resolve({ status, stdout, stderr }))
      }),
  )
