import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { defineConfig } from "vitest/config"

/** The in-process tests (no CLI process between them and the code) that replace a module: those need a module graph of their own. */
const inProcess = ["test/programs", "test/services", "test/simulation"]
const mocksModules = inProcess.flatMap((dir) =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".test.ts") && readFileSync(join(dir, f), "utf8").includes("vi.mock("))
    .map((f) => join(dir, f)),
)

export default defineConfig({
  test: {
    // Integration tests start real etcd processes and HTTP servers: give them room on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    // The run's own temporary directory first (the S3 server's goes in it), then one S3 server (Swift s3api) per
    // run, started by the first test that needs it. The CLI processes tests start run a bundle of the sources made for the run.
    globalSetup: ["test/support/temp-root-global-setup.ts", "test/support/s3-global-setup.ts", "test/support/cli-bundle-global-setup.ts"],
    projects: [
      // Tests that share no module state run without a fresh module graph per file: most of their time was loading
      // effect, fast-check and the sources again per file (a third of the domain's; 374 s -> 232 s for the in-process
      // programs, services and simulation on 2 cores). Each file still restores what it changes (env, PATH).
      { test: { name: "domain", include: ["test/domain/**/*.test.ts"], isolate: false } },
      { test: { name: "in-process", include: inProcess.map((d) => `${d}/**/*.test.ts`), exclude: mocksModules, isolate: false } },
      ...(mocksModules.length === 0 ? [] : [{ test: { name: "module-mocks", include: mocksModules } }]),
      { test: { name: "integration", include: ["test/**/*.test.ts"], exclude: ["test/domain/**", ...inProcess.map((d) => `${d}/**`)] } },
    ],
  },
})
