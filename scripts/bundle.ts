/**
 * Bundles the command into `outdir`: `cluster-backup.js` and one chunk per subcommand and shared
 * code (in `chunks/`), loaded on demand as from the sources, with every package inside, and a
 * package.json. Used by `npm run build` (after type-checking) and by the test run, whose CLI
 * processes start from a bundle in half the time.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { build, type Plugin } from "esbuild"

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

/**
 * etcd3 (which the demo seeds its etcd with) loads its gRPC definitions at run time from
 * `${__dirname}/../proto`, and an ES module has no `__dirname`: the demo failed as soon as it
 * loaded. That one path is pointed at the bundle's own copy of those files (`proto/`, beside
 * `chunks/`), resolved by the chunk's `require` (the banner's, made from the chunk's own URL;
 * `import.meta` itself would turn the CommonJS file into an ES module). Should etcd3 load them
 * otherwise, the bundle fails to build rather than to run.
 */
const etcd3ProtoPath: Plugin = {
  name: "etcd3-proto-path",
  setup(build) {
    build.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8")
      // biome-ignore lint/suspicious/noTemplateCurlyInString: etcd3's source text, matched as it is
      const loaded = "`${__dirname}/../proto/rpc.proto`"
      if (!source.includes(loaded)) throw new Error(`${args.path} no longer loads ${loaded}: see etcd3ProtoPath in scripts/bundle.ts`)
      return { contents: source.replace(loaded, 'require.resolve("../proto/rpc.proto")'), loader: "js" }
    })
  },
}

export const bundleCommand = async (root: string, outdir: string): Promise<void> => {
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
    plugins: [clientNodeConfigImports, etcd3ProtoPath],
    logLevel: "warning",
  })
  cpSync(join(root, "node_modules", "etcd3", "proto"), join(outdir, "proto"), { recursive: true })
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string; version: string; license: string }
  writeFileSync(
    join(outdir, "package.json"),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, license: pkg.license, type: "module", private: true }, null, 2)}\n`,
  )
}
