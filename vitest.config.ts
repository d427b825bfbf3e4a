import { defineConfig } from "vitest/config"

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
      // The pure domain's tests share no state (no mocks, no environment, no processes): run without a fresh module
      // graph per file, they take a third of the time (most of it was loading effect and fast-check again per file).
      { test: { name: "domain", include: ["test/domain/**/*.test.ts"], isolate: false } },
      { test: { name: "integration", include: ["test/**/*.test.ts"], exclude: ["test/domain/**"] } },
    ],
  },
})
