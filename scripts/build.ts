/**
 * `npm run build [-- --outdir DIR]`: what the image runs (deploy/Containerfile). Type-checks the
 * shipped sources, then bundles the command into DIR (default dist/): `cluster-backup.js` and
 * one chunk per subcommand and shared code, loaded on demand as from the sources, with every
 * package inside, so the image needs no node_modules. A bundle starts in less than half the time
 * of the same modules loaded one by one and peaks ~10-15 MiB lower (bench/README.md).
 */
import { execFileSync } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { build, type Plugin } from "esbuild"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const usage = "usage: npm run build [-- --outdir DIR]  (or: bash scripts/with-toolchain.sh node scripts/build.ts [--outdir DIR])\n"
if (process.argv.includes("--help")) {
  process.stdout.write(usage)
  process.exit(0)
}
const at = process.argv.indexOf("--outdir")
const outArg = at === -1 ? join(root, "dist") : process.argv[at + 1]
if (outArg === undefined || outArg.startsWith("-")) {
  process.stderr.write(usage)
  process.exit(2)
}
const outdir = resolve(outArg)

execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" })

/**
 * client-node's config module takes `createConfiguration` and `ServerConfiguration` from its
 * generated index, which re-exports ~760 model classes that esbuild cannot drop: the operator never
 * uses them, yet they were half its Kubernetes chunk and ~10 MiB of its idle RSS
 * (bench/OPERATOR-MEMORY.md). That one import is pointed at the two modules defining those names;
 * should config.js ever import more from the index, esbuild fails on the missing export.
 */
const clientNodeConfigImports: Plugin = {
  name: "client-node-config-imports",
  setup(build) {
    build.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (args) =>
      /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/.test(args.importer)
        ? { path: join(dirname(args.importer), "gen", "config-imports.js"), namespace: "client-node-config-imports" }
        : undefined,
    )
    build.onLoad({ filter: /.*/, namespace: "client-node-config-imports" }, (args) => ({
      contents: 'export { createConfiguration } from "./configuration.js"\nexport { ServerConfiguration } from "./servers.js"\n',
      resolveDir: dirname(args.path),
    }))
  },
}

rmSync(outdir, { recursive: true, force: true })
await build({
  absWorkingDir: root,
  entryPoints: { "cluster-backup": "bin/cluster-backup.js" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22.19",
  chunkNames: "chunks/[name]-[hash]",
  // Some packages are CommonJS and call require(); an ES module has none of its own.
  banner: { js: 'import { createRequire as __cbCreateRequire } from "node:module"; const require = __cbCreateRequire(import.meta.url);' },
  legalComments: "external",
  plugins: [clientNodeConfigImports],
  logLevel: "warning",
})
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string; version: string; license: string }
writeFileSync(
  join(outdir, "package.json"),
  `${JSON.stringify({ name: pkg.name, version: pkg.version, license: pkg.license, type: "module", private: true }, null, 2)}\n`,
)
