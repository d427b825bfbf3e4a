/**
 * The layering, read from the sources' import statements: bin → cli → programs → services →
 * domain, with the simulation beside services (tests and the demo use it), and no arrow back.
 * Type-only imports count as arrows too: a type is still a dependency of the source.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./support/tools.ts"

interface Import {
  /** Relative to the repository (`src/domain/x.ts`), or the package name (`effect`, `node:fs`). */
  readonly target: string
  readonly typeOnly: boolean
  readonly dynamic: boolean
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : [],
  )

// Statements start a line; a doc comment's lines start with " *", so examples in comments are not read.
const staticImport = /^(import|export)(\s+type)?\b[^"]*?\bfrom\s*"([^"]+)"|^import\s*"([^"]+)"/gm
const dynamicImport = /\bimport\(\s*"([^"]+)"\s*\)/g

const importsOf = (file: string): Array<Import> => {
  const text = readFileSync(join(repoRoot, file), "utf8")
  const target = (specifier: string) => (specifier.startsWith(".") ? relative(repoRoot, resolve(repoRoot, dirname(file), specifier)) : specifier)
  return [
    ...[...text.matchAll(staticImport)].map((m) => ({ target: target(m[3] ?? m[4]!), typeOnly: m[2] !== undefined, dynamic: false })),
    ...[...text.matchAll(dynamicImport)].map((m) => ({ target: target(m[1]!), typeOnly: false, dynamic: true })),
  ]
}

const files = [...sourceFiles("bin"), ...sourceFiles("src")]
const graph = new Map(files.map((file) => [file, importsOf(file)]))

/** `bin`, `cli`, `programs`, `services`, `domain` or `simulation`; a package is `package`. */
const layerOf = (target: string): string => {
  if (target.startsWith("bin/")) return "bin"
  const m = /^src\/([^/]+)\//.exec(target)
  return m === null ? "package" : m[1]!
}

/** What each layer may import besides packages (domain: see `domainPackages`). */
const allowed: Readonly<Record<string, ReadonlyArray<string>>> = {
  bin: ["cli"],
  cli: ["cli", "programs", "services", "domain"],
  programs: ["programs", "services", "domain"],
  simulation: ["simulation", "services", "domain"],
  services: ["services", "domain"],
  domain: ["domain"],
}
/** The demo runs the whole cycle on a simulated cluster: the one program that may use the simulation. */
const simulationUsers = /^src\/programs\/demo\//
/** The domain is pure: effect, and modules it calls only for pure functions (hashes, YAML text, IP and path syntax). */
const domainPackages = /^(effect(\/.*)?|yaml|node:crypto|node:net|node:path)$/

describe("the layering", () => {
  it("reads the import statements of every source file", () => {
    expect(files.length).toBeGreaterThan(100)
    expect(graph.get("src/simulation/simulated-kube.ts")?.map((i) => i.target)).toContain("src/services/kube/kube.ts")
    expect(graph.get("src/cli/root-command.ts")?.some((i) => i.dynamic && i.target === "src/cli/demo-command.ts")).toBe(true)
  })

  it("has no arrow back: bin → cli → programs → services → domain, the simulation beside services, only the demo using it", () => {
    const backArrows = [...graph].flatMap(([file, imports]) => {
      const from = layerOf(file)
      return imports
        .filter((i) => {
          const to = layerOf(i.target)
          if (to === "package") return false
          if (to === "simulation" && from === "programs") return !simulationUsers.test(file)
          return !(allowed[from] ?? []).includes(to)
        })
        .map((i) => `${file} imports ${i.target}`)
    })
    expect(backArrows).toEqual([])
  })

  it("keeps the domain pure: it imports only effect and modules used for pure functions", () => {
    const impure = [...graph]
      .filter(([file]) => layerOf(file) === "domain")
      .flatMap(([file, imports]) =>
        imports.filter((i) => layerOf(i.target) === "package" && !domainPackages.test(i.target)).map((i) => `${file} imports ${i.target}`),
      )
    expect(impure).toEqual([])
  })
})

describe("the live command", () => {
  /** Every source file that loading `entry` can load, following dynamic imports but not `except`, nor type-only imports. */
  const reachable = (entry: string, except: ReadonlyArray<string>): Set<string> => {
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file) || except.includes(file) || !graph.has(file)) return
      seen.add(file)
      for (const i of graph.get(file)!) if (!i.typeOnly) visit(i.target)
    }
    visit(entry)
    return seen
  }
  const simulation = (set: Set<string>) => [...set].filter((f) => layerOf(f) === "simulation")

  it("carries no simulation: no subcommand but demo reaches src/simulation", () => {
    const live = reachable("bin/cluster-backup.js", ["src/cli/demo-command.ts"])
    expect(live.has("src/services/kube/kube.ts")).toBe(true)
    expect(simulation(live)).toEqual([])
  })

  it("reaches the simulation through the demo command (the walk follows dynamic imports)", () => {
    expect(simulation(reachable("bin/cluster-backup.js", []))).toContain("src/simulation/simulated-cluster.ts")
  })
})
