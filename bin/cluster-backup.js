#!/usr/bin/env node
// The package's command. In the repository Node runs the TypeScript sources by type stripping
// (Node >= 22.19); `npm run build` emits the same tree as JavaScript into dist/, which is what the
// image runs: it starts faster and with ~10-30 MiB less memory (bench/README.md).
await import("../src/cli/main.ts")
