import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real etcd processes and HTTP servers: give them room on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    // The run's own temporary directory first (the S3 server's goes in it), then one S3 server (Swift s3api) per
    // run, started by the first test that needs it.
    globalSetup: ["test/support/temp-root-global-setup.ts", "test/support/s3-global-setup.ts"],
  },
})
