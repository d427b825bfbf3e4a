/**
 * Bad command lines are usage errors (exit 2, the flag named, before anything runs), and values
 * that only turn out unusable when the command acts (a file where a directory should be made) are
 * ordinary failures (exit 1) with the reason: never "unexpected failure", never a stack trace.
 * Every row was a crash, a hang or a silent acceptance before.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/run-cli.ts"

const work = mkdtempSync(join(tmpdir(), "cb-usage-"))
const aFile = join(work, "a-file")
writeFileSync(aFile, "not a directory\n")
const aFifo = join(work, "a-fifo")
execFileSync("mkfifo", [aFifo])

const revisions = ["--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"]
const unreachableEtcd = ["--etcd-endpoints", "http://127.0.0.1:1"]

const usageErrors: ReadonlyArray<readonly [flag: string, args: ReadonlyArray<string>]> = [
  ["--etcd-endpoints", ["backup-init", "--etcd-endpoints", "https://127.0.0.1:99999"]],
  ["--etcd-endpoints", ["backup-init", "--etcd-endpoints", "https://127.0.0.1:0"]],
  ["--etcd-endpoints", ["backup-init", "--etcd-endpoints", "ftp://etcd:2379"]],
  ["--etcd-endpoints", ["backup-init", "--etcd-endpoints", "https://a:2379,http://b:2379"]],
  ["--etcd-endpoints", ["backup-init", "--etcd-endpoints", " , "]],
  ["--etcd-endpoints", ["backup-init", "--etcd-endpoints", "https://[nope:2379"]],
  ["--etcd-cacert", ["backup-init", "--etcd-cacert", ""]],
  ["--stall-timeout", ["backup-init", "--stall-timeout", "0s"]],
  ["--backup-dir", ["backup-init", "--backup-dir", ""]],
  ["--backup-dir", ["backup-resources", "--backup-dir", "", "--operand", "etcd", "--revision", "1"]],
  ["--revision", ["backup-resources", "--operand", "etcd", "--revision", "-1"]],
  ["--backup-dir", ["backup-create", "--backup-dir", "", ...revisions]],
  ["--backup-dir", ["hold", "--backup-dir", ""]],
  ["--duration", ["hold", "--duration", "0s"]],
  ["--metrics-port", ["operator", "--metrics-port", "70000"]],
  ["--metrics-port", ["operator", "--metrics-port", "-1"]],
  ["--resync", ["operator", "--resync", "0s"]],
  ["--hold-duration", ["operator", "--hold-duration", "0s"]],
  ["--namespace", ["operator", "--namespace", ""]],
  ["--lease-name", ["operator", "--lease-name", " "]],
  ["--kubeconfig", ["operator", "--kubeconfig", ""]],
  ["--hold-duration", ["render", ...revisions, "--hold-duration", "0s"]],
  ["--image", ["render", ...revisions, "--image", ""]],
  ["--operand-resources", ["render", ...revisions, "--operand-resources", ""]],
  ["--keys", ["demo", "--keys", "-1"]],
  ["--keys", ["demo", "--keys", "1000001"]],
  ["--work-dir", ["demo", "--work-dir", ""]],
  ["--scratch-dir", ["verify", work, "--scratch-dir", ""]],
  ["<dir>", ["verify", ""]],
  ["<dir>", ["restore", "", "--dry-run"]],
  ["--root", ["restore", work, "--root", "", "--dry-run"]],
  ["--member-name", ["restore", work, "--member-name", "", "--dry-run"]],
  ["--node-ip", ["restore", work, "--node-ip", "10.0.0.300", "--dry-run"]],
  ["--restore-id", ["restore", work, "--restore-id", "../../etc", "--dry-run"]],
]

const failures: ReadonlyArray<readonly [what: string, args: ReadonlyArray<string>, expected: string]> = [
  [
    "demo --work-dir naming a file",
    ["demo", "--work-dir", aFile],
    `error: --work-dir: cannot create directory ${aFile}: ${aFile} exists and is not a directory`,
  ],
  [
    "backup-init --backup-dir under /proc",
    ["backup-init", "--backup-dir", "/proc/cluster-backup-nope", ...unreachableEtcd],
    "error: cannot create directory /proc/cluster-backup-nope: ENOENT: its parent exists but refuses new directories",
  ],
  [
    "backup-init --backup-dir under a file",
    ["backup-init", "--backup-dir", join(aFile, "backup"), ...unreachableEtcd],
    `${aFile} exists and is not a directory: check the path [BackupFileError]`,
  ],
  ["render --operand-resources naming a missing file", ["render", ...revisions, "--operand-resources", join(work, "missing.yaml")], "ENOENT"],
  // Both were read forever; the kubeconfig synchronously, so that not even a signal ended it.
  [
    "render --operand-resources naming a FIFO",
    ["render", ...revisions, "--operand-resources", aFifo],
    `--operand-resources: ${aFifo} is not a regular file (FIFO)`,
  ],
  [
    "render --kubeconfig naming a FIFO",
    ["render", "--kubeconfig", aFifo],
    `cannot use the Kubernetes configuration from ${aFifo}: ${aFifo} is not a regular file [KubeConfigInvalid]`,
  ],
  ["operator --kubeconfig naming a device", ["operator", "--kubeconfig", "/dev/zero"], "/dev/zero is not a regular file [KubeConfigInvalid]"],
  [
    "backup-init --etcd-cacert naming a FIFO",
    ["backup-init", "--backup-dir", join(work, "backup"), "--etcd-endpoints", "https://127.0.0.1:1", "--etcd-cacert", aFifo],
    `error: cannot read ${aFifo}: it is not a regular file: check the mounted etcd client certificate, key and CA bundle paths. [EtcdCredentialsUnreadable]`,
  ],
]

const noCrash = (output: string) => {
  expect(output).not.toContain("unexpected failure")
  expect(output).not.toMatch(/TypeError|RangeError|\n\s+at /)
}

describe("usage errors", () => {
  it.concurrent.each(usageErrors)(
    "%s: %j exits 2 naming the flag or argument",
    async (flag, args) => {
      const run = await runCli(args)
      const output = run.stdout + run.stderr
      expect(run.status, output).toBe(2)
      const named = flag.startsWith("--") ? `flag ${flag}\\b` : `argument ${flag}`
      expect(run.stderr).toMatch(new RegExp(`(?:Invalid|Missing) value for ${named}`))
      noCrash(output)
    },
    120_000,
  )

  it.concurrent("an accepted value is no usage error: --metrics-port 0 means any free port (the operator then fails for want of a cluster)", async () => {
    const run = await runCli(["operator", "--metrics-port", "0"])
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("[KubeConfigInvalid]")
    noCrash(run.stdout + run.stderr)
  }, 120_000)
})

describe("values unusable when the command acts", () => {
  it.concurrent.each(failures)(
    "%s exits 1 with the reason, promptly",
    async (_what, args, expected) => {
      const started = Date.now()
      const run = await runCli(args)
      expect(run.status, run.stderr).toBe(1)
      expect(run.stderr).toContain(expected)
      noCrash(run.stdout + run.stderr)
      // Node's recursive mkdir spun at 100% CPU forever under /proc; generous for a loaded machine.
      expect(Date.now() - started).toBeLessThan(100_000)
    },
    150_000,
  )
})
