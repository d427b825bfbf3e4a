/** render's recipients Secrets: carried into backup-upload alone, or refused (exit 2) without a store. */
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import type { BackupPod } from "../../src/domain/pod-spec.ts"
import { runCli } from "../support/run-cli.ts"

const revisions = ["--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"]
const render = (...args: Array<string>) => runCli(["render", ...revisions, ...args], { timeoutMs: 150_000 })

describe("render --store-recipients-secret / --store-resources-recipients-secret", () => {
  it("mounts both Secrets into backup-upload alone, which encrypts to them", async () => {
    const run = await render(
      "--store",
      "s3://backups/c1",
      "--store-credentials-secret",
      "keys",
      "--store-recipients-secret",
      "backup-recipients",
      "--store-resources-recipients-secret",
      "bundle-recipients",
    )
    expect(run.status, run.stderr).toBe(0)
    const pod = YAML.parse(run.stdout) as BackupPod
    const upload = pod.spec.initContainers.at(-1)!
    expect(upload.name).toBe("backup-upload")
    expect(upload.command.join(" ")).toContain("--recipients-file /var/run/secrets/cluster-backup-recipients/recipients")
    expect(upload.command.join(" ")).toContain("--resources-recipients-file /var/run/secrets/cluster-backup-resources-recipients/recipients")
    const others = [...pod.spec.initContainers.slice(0, -1), ...pod.spec.containers]
    expect(others.some((c) => JSON.stringify(c).includes("recipients"))).toBe(false)
  }, 180_000)

  it("without a store, exits 2 naming the flag", async () => {
    const run = await render("--store-recipients-secret", "backup-recipients")
    expect(run.status, run.output).toBe(2)
    expect(run.stderr).toMatch(/Invalid value for flag --store-recipients-secret\b/)
  }, 180_000)
})
