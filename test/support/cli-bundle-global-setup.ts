/**
 * vitest globalSetup: the CLI processes tests start (hundreds of them) run the command bundled as
 * `npm run build` bundles it, which starts in half the time of Node loading the TypeScript sources
 * one by one. It is bundled afresh from the sources at each run, into `<repo>/.cli-bundle-<pid>`:
 * a direct child of the repository, so that what the sources find relative to themselves (the
 * project's `.tools`, the demo's own entry point) the bundle's chunks find too. A run that was
 * killed leaves its bundle; the next run removes those whose run is gone.
 */
import { rmSync } from "node:fs"
import { join } from "node:path"
import { bundleCommand } from "../../scripts/bundle.ts"
import { removeDeadRunDirs } from "./dead-run-dirs.ts"
import { repoRoot } from "./tools.ts"

export default async function setup(): Promise<() => void> {
  await removeDeadRunDirs(repoRoot, /^\.cli-bundle-(\d+)$/)
  const outdir = join(repoRoot, `.cli-bundle-${process.pid}`)
  await bundleCommand(repoRoot, outdir)
  // The test workers are forked after the global setups, with this environment.
  process.env.CB_TEST_CLI_ENTRY = join(outdir, "cluster-backup.js")
  return () => rmSync(outdir, { recursive: true, force: true })
}
