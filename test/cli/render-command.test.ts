import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { cliEntry } from "../support/tools.ts"

const cli = (...args: Array<string>) => spawnSync(process.execPath, [cliEntry, ...args], { encoding: "utf8" })

describe("cluster-backup render", () => {
  it("prints exactly the domain's pod YAML for --revisions, without a cluster", () => {
    const run = cli("render", "--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7", "--image", "registry.example/cluster-backup:1")
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(
      renderBackupPodYaml(
        { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 },
        { image: "registry.example/cluster-backup:1" },
      ),
    )
  })

  it("refuses incomplete --revisions, naming what is missing", () => {
    const run = cli("render", "--revisions", "etcd=3")
    expect(run.status).not.toBe(0)
    expect(run.stdout).toBe("")
    expect(run.stderr).toContain("no revision for kube-apiserver")
  })

  it("refuses a bad hold duration before rendering", () => {
    const run = cli("render", "--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7", "--hold-duration", "forever")
    expect(run.status).not.toBe(0)
    // The CLI shows its help with the error; no pod YAML is printed.
    expect(run.stdout).not.toContain('kind: "Pod"')
    expect(run.stdout + run.stderr).toContain('"forever" is not a duration')
  })

  it("carries --etcd-prefix into the pod's backup-init, and refuses one that is not a prefix (usage error)", () => {
    const revisions = "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"
    const run = cli("render", "--revisions", revisions, "--etcd-prefix", "/registry")
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(renderBackupPodYaml({ etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }, { etcdPrefix: "/registry" }))
    expect(run.stdout).toMatch(/- "--etcd-prefix"\n\s+- "\/registry"/)
    expect(cli("render", "--revisions", revisions).stdout).not.toContain("--etcd-prefix")
    const bad = cli("render", "--revisions", revisions, "--etcd-prefix", "/registry/")
    expect(bad.status).toBe(2)
    expect(bad.stdout).not.toContain('kind: "Pod"')
    expect(bad.stdout + bad.stderr).toContain("Invalid value for flag --etcd-prefix")
  })
})
