/**
 * The text of a restore plan, as `restore --dry-run` prints it: every step with what it requires,
 * what it does (commands as a shell would take them) and what to do if it fails. Same plan, same
 * text: the output is pinned by a golden test.
 */
import { recoveryReason } from "./redeployment.ts"
import { formatRevisionSet } from "./revisions.ts"
import { type HostSteps, runTimePreconditions, type Precondition, type RestoreAction } from "./host-steps.ts"
import { type HostPlan, isStandDown, type RestorePlan, type StandDownPlan } from "./restore-plan.ts"
import type { RevisionBump } from "./revision-bump.ts"

/** A word as a POSIX shell reads it back unchanged. */
export const shellQuote = (word: string): string => (/^[-A-Za-z0-9_./=:@,+%]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`)

const mode = (m: number) => `0${m.toString(8)}`

const bytes = (n: number) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]} (${n} bytes)`
}

export const renderBump = (bump: RevisionBump): string => {
  switch (bump._tag) {
    case "FromRaftIndex":
      return `${bump.amount} (1.2 x the highest raft index ${bump.maxRaftIndex} recorded in ${bump.source === undefined ? "revision.json" : `${bump.source}, where an earlier restore kept it`}, rounded up)`
    case "Default":
      return `${bump.amount} (the default: ${bump.reason})`
    case "Disabled":
      return "none (--no-bump: no --bump-revision, no --mark-compacted)"
  }
}

export const renderAction = (action: RestoreAction): string => {
  switch (action._tag) {
    case "RunCommand":
      return `run      ${action.argv.map(shellQuote).join(" ")}`
    case "CreateDirectory":
      return `mkdir -p ${action.path} (mode ${mode(action.mode)} for missing directories)`
    case "Move":
      return `move     ${action.from} -> ${action.to}${action.acrossFileSystems === true ? " (from another file system: copied through a hidden .cluster-backup-part-, fsynced, renamed; only then the original removed)" : ""}`
    case "CopyFile":
      return `copy     ${action.from} -> ${action.to} (mode ${mode(action.mode)}, via ${action.hiddenPart === true ? "a hidden .part, which the kubelet does not read" : ".part"}, fsync${action.hardLinkWhenSafe === true ? "; a hard link when safe" : ""}${action.checkedAgainstVerifiedSnapshot === true ? "; checked to be the verified snapshot (size, sha256 trailer)" : ""})`
    case "ExtractArchive":
      return [
        `extract  ${action.archive} -> ${action.target} (validated, checked to be the verified tarball (size, sha256), via a staging directory in ${action.target})`,
        ...action.units.map((u) => `         installs ${u}`),
        `         existing ones are moved into ${action.moveExistingTo}`,
      ].join("\n    ")
    case "WaitUntilStopped":
      return `wait     until containers ${action.containers.join(", ")} are gone and ports ${action.ports.join(", ")} are free (at most ${action.timeoutSeconds} s)`
    case "RemoveEmptyDirectory":
      return `rmdir    ${action.path} (only if empty)`
    case "RecordStandDown":
      return `record   stand-down-${action.standDownId} and its ${action.moved.length} moves in ${action.record} (replaced via a hidden .part, fsync): a restore here refuses until etcd has a member here again; stand-down --undo puts back what it moved`
    case "RecordRestoredMember":
      return `record   ${action.member} (device, inode) as restore-${action.restoreId}'s member in ${action.record} (replaced via a hidden .part, fsync): stand-down refuses to move it aside`
  }
}

export const renderPrecondition = (p: Precondition): string => {
  switch (p._tag) {
    case "BackupVerified":
      return `the backup verifies (${p.snapshot}, ${p.resources})`
    case "EtcdutlSupports":
      return `etcdutl supports ${p.flags.join(" and ")}`
    case "EtcdStopped":
      return `etcd is stopped (${p.manifest} absent, no container ${p.containers.join("/")}, ports ${p.ports.join("/")} free)`
    case "PathExists":
      return `${p.path} exists`
    case "PathAbsent":
      return `${p.path} does not exist`
    case "DirectoryEmpty":
      return `${p.path} is empty${p.ignoring.length === 0 ? "" : ` (${p.ignoring.join(", ")} aside)`}`
    case "FreeSpace":
      return `${bytes(p.bytes)}${p.inodes === undefined ? "" : ` and ${p.inodes} inodes`} free on the file system of ${p.path}${p.freedBefore === undefined ? "" : `, counting the ${bytes(p.freedBefore)} earlier steps move off it`}`
    case "IsDirectory":
      return `${p.path} is a directory${p.linkAllowed ? " (or a symbolic link to one)" : ", not a symbolic link"}${p.mayBeAbsent ? ", or absent" : ""}`
  }
}

/** The dry-run text of a plan (ends with a newline). */
export const renderRestorePlan = (plan: RestorePlan): string => {
  const lines: Array<string> = [
    `Restore plan restore-${plan.restoreId}`,
    `  root:       ${plan.root}`,
    `  snapshot:   ${plan.snapshot}`,
    `  resources:  ${plan.resources}`,
    `  revisions:  ${formatRevisionSet(plan.revisions)}`,
    `  member:     ${plan.memberName} at ${plan.peerUrl}`,
    `  token:      ${plan.clusterToken}`,
    `  bump:       ${renderBump(plan.bump)}`,
    `  etcdutl:    ${plan.etcdutl.command} ${plan.etcdutl.version}`,
    "",
  ]
  return renderSteps(lines, plan)
}

/** The dry-run text of a stand-down (ends with a newline). */
export const renderStandDownPlan = (plan: StandDownPlan): string =>
  renderSteps([`Stand-down plan stand-down-${plan.standDownId}`, `  root:       ${plan.root}`, ""], plan)

/** A plan's header lines, then its steps, each with what it requires, does, and how to go back or on. */
const renderSteps = (header: ReadonlyArray<string>, plan: HostSteps): string => {
  const lines = [...header]
  plan.steps.forEach((s, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${s.id}: ${s.title}`)
    lines.push(`    ${s.description}`)
    for (const p of s.preconditions) lines.push(`    requires ${renderPrecondition(p)}`)
    for (const a of s.actions) lines.push(`    ${renderAction(a)}`)
    lines.push(`    if it fails: ${s.onFailure}`)
    if (s.undo.length > 0) {
      lines.push("    to undo:")
      for (const a of s.undo) lines.push(`      ${renderAction(a)}`)
    }
    lines.push("")
  })
  lines.push("Nothing is deleted: old data and replaced files are moved aside and kept.")
  return `${lines.join("\n")}\n`
}

/** One check made before any change: what was required, and why it is not met (undefined: met). */
export interface PreflightCheck {
  readonly what: string
  readonly unmet?: string | undefined
}

/** A check as the restore prints it, dry or real. */
/** What a host's record says for a check that a flag can override: nothing against (`detail` says why), or a finding that blocks. */
export type RecordVerdict =
  | { readonly _tag: "Clear"; readonly detail: string }
  | { readonly _tag: "Blocks"; readonly finding: string; readonly consequence: string }

/** A check a host's record can block and `flag` override: unmet with the finding, its consequence and the flag, unless `overridden`. */
export const overridableCheck = (what: string, verdict: RecordVerdict, flag: string, overridden: boolean, goingOn: string): PreflightCheck =>
  verdict._tag === "Clear"
    ? { what: `${what} (${verdict.detail})` }
    : overridden
      ? { what: `${what}: ${verdict.finding}; ${flag} given, ${goingOn}` }
      : { what, unmet: `${verdict.finding}. ${verdict.consequence}, pass ${flag}` }

export const renderPreflightCheck = (c: PreflightCheck): string => `check    ${c.what}: ${c.unmet === undefined ? "ok" : `NOT MET (${c.unmet})`}`

/**
 * The end of a run that changed nothing on the host. A backup downloaded from a store for it is
 * kept (`kept`, its directory: a rerun reuses it), and said so, since it may take GiBs.
 */
export const nothingChanged = (kept: string | undefined): string =>
  kept === undefined
    ? "Nothing was changed."
    : `Nothing on the host was changed; the backup downloaded for it is kept in ${kept} (a rerun reuses it; remove it when no longer needed).`

/** What OpenShift's procedure does on the other control-plane hosts before cluster-restore.sh, which a restore cannot see from here. */
const beforeTheRealRun =
  "Before the real run, on every other control-plane host: cluster-backup stand-down (it stops the etcd, kube-apiserver, kube-controller-manager and kube-scheduler pods and moves etcd's data aside; README: After the restore)."

/** After a stand-down: the restore on the recovery host. */
export const afterStandDown =
  "Then, once every other control-plane host is stood down: cluster-backup restore <backup> on the recovery host (README: After the restore)."

/**
 * What the dry run adds after the plan: every check a real run makes before changing anything,
 * with its outcome now, then the preconditions only their step can check, then the verdict.
 */
export const renderPreflight = (plan: HostPlan, checks: ReadonlyArray<PreflightCheck>, keptDownload?: string): string => {
  const refused = checks.filter((c) => c.unmet !== undefined)
  const lines = [
    "",
    "Checked now, as a real run checks them before changing anything:",
    ...checks.map((c) => `  ${renderPreflightCheck(c)}`),
    "Checked at run time, right before their step (earlier steps change what they depend on):",
    ...runTimePreconditions(plan).map((r) => `  ${String(r.number).padStart(2)}. ${r.step}: ${renderPrecondition(r.precondition)}`),
    refused.length === 0
      ? `Dry run: every check that can be made now passes; a real run would start. ${nothingChanged(keptDownload)}`
      : `Dry run: a real run would refuse before any change (${refused.length} of ${checks.length} checks not met). ${nothingChanged(keptDownload)}`,
    isStandDown(plan) ? afterStandDown : beforeTheRealRun,
  ]
  return `${lines.join("\n")}\n`
}

/**
 * What OpenShift's procedure for restoring to a previous cluster state does once cluster-restore.sh is done, printed
 * after a real run: the kubelets restarted, their certificate requests approved, then every operator's new revision
 * (`redeploy`, with this restore's reason, so a rerun asks nothing twice), and at last what the recovery kept removed (`prune-host`).
 */
export const renderNextSteps = (restoreId: string): string =>
  [
    "Next, as in OpenShift's procedure for restoring to a previous cluster state (README: After the restore):",
    "  1. restart the kubelet on every control-plane host: systemctl restart kubelet.service",
    "  2. approve the nodes' pending certificate signing requests: oc get csr; oc adm certificate approve <name>",
    `  3. once the API answers, have every operator roll out a new revision, etcd first: cluster-backup redeploy --reason ${recoveryReason(restoreId)}`,
    "  4. once the cluster is healthy and a new backup of it has verified, give back the space of what the recovery kept, on every control-plane host: cluster-backup prune-host (what was kept over 7 days ago; --dry-run lists it)",
  ].join("\n")
