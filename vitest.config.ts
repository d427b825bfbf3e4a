import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real etcd processes and HTTP servers: give them room on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    // One S3 server (Swift s3api) per run, started by the first test that needs it.
    globalSetup: ["test/support/s3-global-setup.ts"],
  },
})
