/**
 * A replaced resource list (`--operand-resources`) travels from `render` into the backup pod's
 * commands, and `backup-resources` / `backup-create` run with the pod's own arguments back up
 * exactly the listed resources.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { decodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { defaultOperands, operandTableWithOverrides } from "../../src/domain/operands.ts"
import { formatRevisionSet } from "../../src/domain/revisions.ts"
import { kubeconfigYaml, startSimulatedApiServer } from "../../src/simulation/simulated-api-server.ts"
import { loadedCluster, revisions, writeFakeSnapshot } from "../programs/backup/backup-resources-harness.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const dir = tempDir("operand-resources")

const cli = (...args: Array<string>) => runCli(args)

const overridesYaml = `operands:
  kube-scheduler:
    configMaps:
${defaultOperands["kube-scheduler"].configMaps.map((r) => `      - {name: ${r.name}, optional: ${r.optional}}`).join("\n")}
      - {name: extra-scheduler-config, optional: false}
`

describe("replaced resource lists", () => {
  it("reach the backup pod's commands, which back up the extra resource; a bad file is refused", async () => {
    const file = join(dir, "resources.yaml")
    writeFileSync(file, overridesYaml)
    const rendered = await cli("render", "--revisions", formatRevisionSet(revisions), "--operand-resources", file)
    expect(rendered.status, rendered.stderr).toBe(0)
    const pod = YAML.parse(rendered.stdout) as { spec: { initContainers: Array<{ name: string; command: Array<string> }> } }
    const commandOf = (name: string) => pod.spec.initContainers.find((c) => c.name === name)!.command
    for (const name of ["backup-ks-resources", "backup-create"]) expect(commandOf(name)).toContain("--operand-resources-json")
    expect(commandOf("backup-init")).not.toContain("--operand-resources-json")

    // The cluster's revisions hold the extra ConfigMap (the fixture follows the same table).
    const table = Result.getOrThrow(operandTableWithOverrides(overridesYaml))
    const { cluster } = loadedCluster({ table })
    const server = await startSimulatedApiServer(cluster)
    try {
      const kubeconfig = join(dir, "kubeconfig")
      writeFileSync(kubeconfig, kubeconfigYaml({ url: server.url, token: server.token }), { mode: 0o600 })
      const backupDir = join(dir, "backup")
      // Each container's own arguments, with the pod's paths pointed at this test's directory.
      const local = (name: string) =>
        commandOf(name)
          .slice(1)
          .map((a) => (a === "/backup" ? backupDir : a))
      for (const name of ["backup-etcd-resources", "backup-kas-resources", "backup-kcm-resources", "backup-ks-resources"]) {
        const run = await cli(...local(name), "--kubeconfig", kubeconfig)
        expect(run.status, run.stderr).toBe(0)
      }
      await Effect.runPromise(writeFakeSnapshot(backupDir, revisions).pipe(Effect.provide(NodeServices.layer)))
      const created = await cli(...local("backup-create"))
      expect(created.status, created.stderr).toBe(0)
      const manifest = Result.getOrThrow(decodeBackupManifest(created.stdout))
      const extra = manifest.entries.filter((e) => e.path.includes("/configmaps/extra-scheduler-config/"))
      expect(extra.length).toBeGreaterThan(0)
    } finally {
      await server.close()
    }

    writeFileSync(file, "operands:\n  kube-scheduler:\n    configMaps: [{name: Not_A_Name, optional: false}]\n")
    const bad = await cli("render", "--revisions", formatRevisionSet(revisions), "--operand-resources", file)
    expect(bad.status).not.toBe(0)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toContain("operands.kube-scheduler.configMaps")
  })
})
