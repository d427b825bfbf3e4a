#!/usr/bin/env node
// The package's command. Sources are TypeScript run by Node's type stripping (Node >= 22.19).
await import("../src/cli/main.ts")
