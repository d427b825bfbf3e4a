/**
 * No image is built here: the Containerfile is read and held to what the backup pod needs of it —
 * etcd 3.5's etcd and etcdutl, from Debian trixie's packages at a pinned version that is the one
 * scripts/setup.sh installs for the tests, fetched in a build stage of its own with only the two
 * binaries copied into the image, where backup-verify names them.
 */
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { backupPodPaths } from "../../src/domain/backup-pod-names.ts"
import { repoRoot } from "../support/tools.ts"

const containerfile = readFileSync(join(repoRoot, "deploy", "Containerfile"), "utf8")
const setup = readFileSync(join(repoRoot, "scripts", "setup.sh"), "utf8")

/** The instructions (continuation lines joined, comments dropped), split into stages at each FROM. */
const stages = containerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"))
  .reduce<Array<Array<string>>>((acc, line) => {
    if (line.startsWith("FROM ")) acc.push([line])
    else acc.at(-1)?.push(line)
    return acc
  }, [])

const etcdStage = stages.find((s) => / AS etcd$/.test(s[0]!))
const finalStage = stages.at(-1)!
const pinned = /^ARG ETCD_DEBIAN_VERSION=(\S+)$/.exec(etcdStage?.find((l) => l.startsWith("ARG ETCD_DEBIAN_VERSION=")) ?? "")?.[1]

describe("deploy/Containerfile carries etcd 3.5 for backup-verify", () => {
  it("fetches etcd-server and etcd-client from Debian trixie in a stage of its own, at a pinned Debian version", () => {
    expect(etcdStage?.[0]).toMatch(/^FROM docker\.io\/library\/debian:trixie(-slim)? AS etcd$/)
    expect(pinned).toMatch(/^3\.5\.\d+-\d+$/)
    const run = etcdStage!.filter((l) => l.startsWith("RUN ")).join(" ")
    const arg = "$" + "{ETCD_DEBIAN_VERSION}"
    expect(run).toContain(`apt-get download "etcd-server=${arg}" "etcd-client=${arg}"`)
  })

  it("pins the same etcd version scripts/setup.sh installs for the tests", () => {
    const tested = /^CB_ETCD_VERSION="([^"]+)"$/m.exec(setup)?.[1]
    expect(tested).toBeDefined()
    expect(pinned?.split("-")[0]).toBe(tested)
    expect(setup).toMatch(/trixie/)
    expect(setup).toContain('"etcd-server=$CB_ETCD_VERSION*" "etcd-client=$CB_ETCD_VERSION*"')
  })

  it("copies only etcd and etcdutl into the image, where backup-verify runs them (on PATH)", () => {
    const copies = finalStage.filter((l) => l.startsWith("COPY --from=etcd "))
    expect(copies).toHaveLength(1)
    const [, , ...paths] = copies[0]!.split(/\s+/)
    const target = paths.pop()!
    expect(paths.map((p) => p.split("/").at(-1)).sort()).toEqual(["etcd", "etcdutl"])
    expect(`${target.replace(/\/$/, "")}`).toBe(dirname(backupPodPaths.etcdBinary))
    expect(dirname(backupPodPaths.etcdutlBinary)).toBe(dirname(backupPodPaths.etcdBinary))
    // node's images put /usr/local/bin on PATH; the image sets no other.
    expect(finalStage.some((l) => l.startsWith("ENV PATH="))).toBe(false)
    expect(finalStage.filter((l) => l.startsWith("COPY --from=")).every((l) => /^COPY --from=(build|etcd) /.test(l))).toBe(true)
  })

  it("the build stage runs only files it copied in: an npm script's scripts/ files (with-toolchain.sh, setup.sh) are not there", () => {
    const buildStage = stages.find((s) => / AS build$/.test(s[0]!))!
    const copied = buildStage
      .filter((l) => l.startsWith("COPY ") && !l.startsWith("COPY --from="))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .map((p) => p.replace(/^\.\//, "").replace(/\/$/, ""))
    const npmScripts = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).scripts as Record<string, string>
    // Each RUN with the npm scripts it calls spelled out: what the shell actually runs.
    const commands = buildStage
      .filter((l) => l.startsWith("RUN "))
      .map((l) => l.replace(/npm run (?:--silent )?([\w-]+)/g, (_m, name: string) => npmScripts[name] ?? `missing-npm-script-${name}`))
    const run = commands.flatMap((c) => [...c.matchAll(/(?:^|\s)((?:scripts|bin|src)\/[\w./-]+)/g)].map((m) => m[1]!))
    // And the scripts those import (scripts/build.ts bundles with scripts/bundle.ts).
    const withImports = (path: string): Array<string> =>
      path.startsWith("scripts/") && path.endsWith(".ts")
        ? [
            path,
            ...[...readFileSync(join(repoRoot, path), "utf8").matchAll(/^import [^"]* from "(\.\/[\w./-]+)"$/gm)].flatMap((m) =>
              withImports(join(dirname(path), m[1]!)),
            ),
          ]
        : [path]
    const needed = run.flatMap(withImports)
    expect(needed).toContain("scripts/bundle.ts")
    expect(commands.join(" ")).not.toContain("missing-npm-script-")
    for (const path of needed)
      expect(
        copied.some((c) => path === c || path.startsWith(`${c}/`)),
        `${path} is run but not copied`,
      ).toBe(true)
  })

  it("the runtime image is still the last stage, running cluster-backup as a numeric non-root user", () => {
    expect(finalStage[0]).toMatch(/^FROM docker\.io\/library\/node:24-/)
    expect(finalStage).toContain("USER 65532:65532")
  })
})
