/**
 * render's store flags for web identity and the store's retention: carried into backup-upload's
 * command and environment, or refused as usage errors (exit 2) when they do not fit together.
 */
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import type { BackupPod } from "../../src/domain/pod-spec.ts"
import { runCli } from "../support/run-cli.ts"

const revisions = ["--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"]
const roleArn = "arn:aws:iam::123456789012:role/cluster-backup"
const render = (...args: Array<string>) => runCli(["render", ...revisions, ...args], { timeoutMs: 150_000 })

describe("render with web identity and the store's retention", () => {
  it("puts the role and the rules into backup-upload alone", async () => {
    const run = await render("--store", "s3://backups/c1", "--store-web-identity-role-arn", roleArn, "--store-keep-last", "7", "--store-max-age", "30d")
    expect(run.status, run.stderr).toBe(0)
    const pod = YAML.parse(run.stdout) as BackupPod
    const upload = pod.spec.initContainers.at(-1)!
    expect(upload.command.join(" ")).toContain("--keep-last 7 --max-age 2592000s --leftover-grace 86400s")
    expect(upload.env).toContainEqual({ name: "AWS_ROLE_ARN", value: roleArn })
    expect(pod.spec.initContainers.slice(0, -1).some((c) => JSON.stringify(c).includes(roleArn))).toBe(false)
  }, 180_000)

  it.each([
    ["--store-web-identity-role-arn", ["--store", "s3://backups/c1", "--store-web-identity-role-arn", roleArn, "--store-credentials-secret", "keys"]],
    ["--store-web-identity-role-arn", ["--store", "s3://backups/c1", "--store-web-identity-role-arn", "arn:aws:iam::1:user/x"]],
    ["--store-web-identity-role-arn", ["--store-pvc", "backups", "--store-web-identity-role-arn", roleArn]],
    ["--store-keep-last", ["--store-keep-last", "3"]],
    ["--store-keep-last", ["--store", "s3://backups/c1", "--store-credentials-secret", "keys", "--store-keep-last", "-1"]],
  ])(
    "%s: %j exits 2 naming the flag",
    async (flag, args) => {
      const run = await render(...args)
      expect(run.status, run.output).toBe(2)
      expect(run.stderr).toMatch(new RegExp(`Invalid value for flag ${flag}\\b`))
    },
    180_000,
  )
})
