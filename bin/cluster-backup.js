#!/usr/bin/env node
// The package's command. In the repository Node runs the TypeScript sources by type stripping
// (Node >= 22.19); `npm run build` bundles them into dist/, which is what the image runs: it starts
// in half the time and with ~30 MiB less memory (bench/README.md).
try {
  await import("../src/cli/main.ts")
} catch (error) {
  // An older Node (or one with stripping turned off) fails on the first .ts import; the bundle never does.
  if (error?.code !== "ERR_UNKNOWN_FILE_EXTENSION") throw error
  const which = process.features.typescript === false ? "with type stripping turned off" : "too old to run TypeScript"
  process.stderr.write(
    `error: cluster-backup runs from its TypeScript sources, which needs Node 22.19 or later with type stripping; ${process.execPath} is Node ${process.version}, ${which}. ` +
      "Run it as `bash scripts/cluster-backup.sh ARGS` (the project's own Node, installed by scripts/setup.sh), or put Node >= 22.19 first on PATH [NodeCannotRunTypeScript]\n",
  )
  process.exitCode = 1
}
