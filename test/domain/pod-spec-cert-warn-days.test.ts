/**
 * `--cert-warn-days` as a pod option: render and the operator carry it into backup-create and backup-verify; absent, the
 * commands keep their default; out of range, the options are refused.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { renderBackupPod, renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { decodeBackupPodOptions } from "../../src/domain/backup-pod-options.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { runCli } from "../support/run-cli.ts"

const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }
const commandOf = (pod: ReturnType<typeof renderBackupPod>, name: string) => pod.spec.initContainers.find((c) => c.name === name)?.command

describe("the pod's --cert-warn-days", () => {
  it("goes to backup-create and backup-verify when set, and nowhere when not", () => {
    const set = renderBackupPod(revisions, { certWarnDays: 45, verify: "TestRestore" })
    for (const name of ["backup-create", "backup-verify"]) {
      const command = commandOf(set, name) ?? []
      expect(command.slice(command.indexOf("--cert-warn-days"), command.indexOf("--cert-warn-days") + 2)).toEqual(["--cert-warn-days", "45"])
    }
    const unset = renderBackupPod(revisions, { verify: "Full" })
    expect(unset.spec.initContainers.flatMap((c) => c.command)).not.toContain("--cert-warn-days")
  })

  it("is refused outside 0..36500 days", () => {
    expect(Result.isSuccess(decodeBackupPodOptions({ certWarnDays: 0 }))).toBe(true)
    expect(Result.isFailure(decodeBackupPodOptions({ certWarnDays: -1 }))).toBe(true)
    expect(Result.isFailure(decodeBackupPodOptions({ certWarnDays: 1.5 }))).toBe(true)
  })

  it("render --cert-warn-days prints the domain's pod with it", async () => {
    const run = await runCli(["render", "--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7", "--cert-warn-days", "14"])
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toBe(renderBackupPodYaml(revisions, { certWarnDays: 14 }))
  })
})
