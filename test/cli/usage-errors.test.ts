/**
 * Bad command lines are usage errors (exit 2, the flag named, before anything runs), and values
 * that only turn out unusable when the command acts (a file where a directory should be made) are
 * ordinary failures (exit 1) with the reason: never "unexpected failure", never a stack trace.
 * Every row was a crash, a hang or a silent acceptance before.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const work = tempDir("usage")
const aFile = join(work, "a-file")
writeFileSync(aFile, "not a directory\n")
const aFifo = join(work, "a-fifo")
execFileSync("mkfifo", [aFifo])

const revisions = ["--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"]
const unreachableEtcd = ["--etcd-endpoints", "http://127.0.0.1:1"]

/** `command flag value rest` for each flag and each of its bad values. */
const flagCases = (
  command: ReadonlyArray<string>,
  badValues: Readonly<Record<string, ReadonlyArray<string>>>,
  rest: ReadonlyArray<string> = [],
): Array<readonly [flag: string, args: ReadonlyArray<string>]> =>
  Object.entries(badValues).flatMap(([flag, values]) => values.map((value) => [flag, [...command, flag, value, ...rest]] as const))

const usageErrors: ReadonlyArray<readonly [flag: string, args: ReadonlyArray<string>]> = [
  ...flagCases(["backup-init"], {
    "--etcd-endpoints": ["https://127.0.0.1:99999", "https://127.0.0.1:0", "ftp://etcd:2379", "https://a:2379,http://b:2379", " , ", "https://[nope:2379"],
    "--etcd-cacert": [""],
    "--stall-timeout": ["0s"],
    "--backup-dir": [""],
  }),
  ...flagCases(["backup-resources"], { "--backup-dir": [""] }, ["--operand", "etcd", "--revision", "1"]),
  ...flagCases(["backup-resources", "--operand", "etcd"], { "--revision": ["-1"] }),
  // Exited 1 ([ResourceOverridesInvalid], not naming the flag) after the command had started.
  ...flagCases(["backup-resources", "--operand", "etcd", "--revision", "1"], { "--operand-resources-json": ["{bad", "[]"] }),
  ...flagCases(["backup-create", ...revisions], { "--operand-resources-json": ["{bad"] }),
  // -1h was read as the flags -1 -h: the help, exit 0, nothing pruned.
  ...flagCases(["prune", work], { "--max-age": ["-1h"], "--leftover-grace": ["-30m"], "--keep-last": ["-3"] }),
  // A leftover grace without a rule tunes a prune that never runs: prune said only "--keep-last missing",
  // backup-upload (exit 1 on the missing backup here, else 0) and render (exit 0) ignored it silently.
  ...flagCases(["prune", work], { "--leftover-grace": ["0", "1h"] }),
  // A bare number is seconds: `--older-than 7` or `--leftover-grace 24` meant as days or hours removed what should stay.
  ...flagCases(["prune", work, "--keep-last", "1"], { "--leftover-grace": ["24"], "--max-age": ["0"] }),
  ...flagCases(["backup-upload", "--store", work, "--backup-dir", work, "--keep-last", "1"], { "--leftover-grace": ["24"], "--max-total-size": ["50"] }),
  ...flagCases(["render", ...revisions, "--store-pvc", "backups", "--cluster-id", "c1", "--store-keep-last", "1"], {
    "--store-leftover-grace": ["24"],
    "--store-max-total-size": ["50"],
  }),
  ...flagCases(["prune-host", "--root", work], { "--older-than": ["7"] }),
  ...flagCases(["backup-upload", "--store", work, "--backup-dir", work], { "--leftover-grace": ["1h"] }),
  ...flagCases(["render", ...revisions, "--store-pvc", "backups", "--cluster-id", "c1"], { "--store-leftover-grace": ["1h"] }),
  // A store location or prefix no store can have exited 1 ([StoreLocationInvalid]) after the command had started.
  ["<store>", ["list", "s3://backups"]],
  ["<store>", ["list", "s3://Not_A_Bucket/p"]],
  // Was taken for a directory ./s3:/backups/p, which did not exist.
  ["<store>", ["list", "s3:/backups/p"]],
  ["<store>", ["download", "s3://backups", "2026-01-02_030405", join(work, "download")]],
  ["<dir>", ["prune", "s3://backups", "--keep-last", "1"]],
  ["<dir>", ["verify", "s3://backups", "--backup-id", "2026-01-02_030405"]],
  ...flagCases(["list", "s3://backups"], { "--prefix": ["a/../b"], "--cluster-id": ["a/b"] }),
  ...flagCases(["backup-upload", "--backup-dir", work], { "--store": ["s3://backups"] }),
  ...flagCases(["backup-upload", "--store", work, "--backup-dir", work], { "--store-name": ["pvc://", "pvc://claim/", "no-scheme", "pvc://a b"] }),
  ...flagCases(["backup-create"], { "--backup-dir": [""] }, revisions),
  // Exited 1 ([RevisionsFlagInvalid]) after the command had started, not as a usage error.
  ...flagCases(["backup-create", "--backup-dir", work], { "--revisions": ["etcd=3", "etcd=0,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"] }),
  ...flagCases(["render"], { "--revisions": ["", "etcd=x", "etcd=3,kube-foo=1"] }),
  // A bare number is seconds: hold --duration 2 meant as hours ended the pod, and its emptyDir with the backup, after 2 s.
  ...flagCases(["hold"], { "--backup-dir": [""], "--duration": ["0s", "2"] }),
  ...flagCases(["operator"], {
    "--metrics-port": ["70000", "-1"],
    "--resync": ["0s"],
    "--min-interval": ["1"],
    "--hold-duration": ["0s"],
    "--namespace": ["", "Openshift_Etcd"],
    "--lease-name": [" "],
    "--kubeconfig": [""],
    "--context": [" "],
    // 0 would delete the newest ended pod, the one backup-status reads.
    "--successful-pods-history-limit": ["0"],
    "--failed-pods-history-limit": ["0", "-1"],
  }),
  // A bare number is seconds: backup-now --timeout 2 meant as hours would fail a backup that takes more than 2 s.
  ...flagCases(["backup-now", "nightly"], { "--timeout": ["2", "0s"], "--poll-interval": ["1ms"], "--context": [""] }),
  ["<policy>", ["backup-now", "Nightly_Backups"]],
  ...flagCases(["backup-pod"], {
    "--timeout": ["2", "0s"],
    "--poll-interval": ["1ms"],
    "--namespace": ["Not_A_Namespace"],
    "--pod": ["", "Not_A_Pod"],
    "--copy-to": [""],
  }),
  // Without --copy-to the pod would be deleted with the only copy of its backup.
  ["--delete-after-copy", ["backup-pod", "--delete-after-copy"]],
  // A bare number is seconds: --hold-duration 1 meant as an hour ended the only way to the backup after a second.
  ...flagCases(["render", ...revisions], { "--hold-duration": ["0s", "1"], "--image": [""], "--operand-resources": [""] }),
  // A bare number is seconds: --upload-deadline 30 meant as minutes failed every backup's upload after 30 s.
  ...flagCases(["render", ...revisions, "--store", "s3://backups"], { "--upload-deadline": ["30"] }),
  // Exited 1 ([BackupPodOptionsInvalid], naming the option's key, not the flag) after the command had started.
  ...flagCases(["render", ...revisions], { "--namespace": ["openshift_etcd"], "--backup-volume-size": ["20 GiB", "lots"] }),
  ...flagCases(["demo"], { "--keys": ["-1", "1000001"], "--work-dir": [""] }),
  ...flagCases(["verify", work], { "--scratch-dir": [""], "--timestamp": ["2026-12-07", "2026-02-30_000000"] }),
  ...flagCases(["restore", work, "--dry-run"], { "--timestamp": ["latest"] }),
  ...flagCases(["backup-resources", "--operand", "etcd", "--backup-dir", work], { "--revision": ["0", "2147483648"] }),
  ["<dir>", ["verify", ""]],
  ["<dir>", ["restore", "", "--dry-run"]],
  ...flagCases(["restore", work], { "--root": [""], "--member-name": [""], "--node-ip": ["10.0.0.300"], "--restore-id": ["../../etc"] }, ["--dry-run"]),
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
      // What was expected, in words: not the schema's regular expression nor its bounds.
      expect(run.stderr).not.toContain("Schema validation failed")
      noCrash(output)
    },
    120_000,
  )

  // The check ran on the decoded milliseconds, so the message quoted "500" for --hold-duration 500ms: 500 seconds, to a reader.
  it.concurrent.each([
    ["render", ...revisions, "--hold-duration", "500ms"],
    ["backup-upload", "--store", work, "--backup-dir", work, "--deadline", "500ms"],
  ])("a duration below the flag's minimum is quoted as typed: %j", async (...args) => {
    const run = await runCli(args)
    expect(run.status, run.stderr).toBe(2)
    expect(run.stderr).toMatch(/Invalid value for flag --[a-z-]+: "500ms"\. Expected: a duration of at least 1s/)
  })

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
