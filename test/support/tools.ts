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

/** The source tree's command: Node runs the TypeScript sources by type stripping. */
export const sourceEntry = join(repoRoot, "bin", "cluster-backup.js")

/**
 * The command entry point, run by the current Node (the project's Node 24 under scripts/): the
 * run's bundle of the sources (cli-bundle-global-setup.ts), else the source tree's command.
 */
export const cliEntry = process.env.CB_TEST_CLI_ENTRY ?? sourceEntry
