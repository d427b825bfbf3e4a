/**
 * The vocabulary of a host plan (a restore's or a stand-down's): what a step does (its actions, with full paths),
 * what must hold before it runs, how it fails and what undoes it. The executor, the checks and the dry run read
 * any plan through these.
 */
import { posix } from "node:path"

/** Something a step does. Paths are full paths (root included). */
export type RestoreAction =
  | { readonly _tag: "RunCommand"; readonly argv: ReadonlyArray<string>; readonly reads: ReadonlyArray<string>; readonly writes: ReadonlyArray<string> }
  /** `mkdir -p`: creates the missing directories (with this mode), leaves existing ones alone. */
  | { readonly _tag: "CreateDirectory"; readonly path: string; readonly mode: number }
  /**
   * rename(2). With `acrossFileSystems` (etcd's data directory is a disk of its own), where the two
   * are on different file systems, a crash-safe copy then removal of the original instead.
   */
  | { readonly _tag: "Move"; readonly from: string; readonly to: string; readonly acrossFileSystems?: true }
  /**
   * A copy through `<to>.part`. With `hardLinkWhenSafe`, a hard link instead when the file system
   * has no reflinks and `from` is a regular file on the same one, owned by the restore's user and
   * with exactly `mode` (the link then changes neither its mode nor who may write it).
   */
  | {
      readonly _tag: "CopyFile"
      readonly from: string
      readonly to: string
      readonly mode: number
      readonly hardLinkWhenSafe?: true
      /**
       * The copy is the snapshot the verification hashed: before it takes its final name it must be a
       * regular file of the restore's user with `mode`, have the verified size and end with the verified
       * sha256 trailer (etcdutl's restore checks the database against that trailer), else it is removed
       * and the step fails.
       */
      readonly checkedAgainstVerifiedSnapshot?: true
      /**
       * Through `.<name>.part` instead: the kubelet runs every file of its manifest directory whose
       * name does not start with a dot as a static pod, a `<name>.part` too (a partial one, or a
       * second etcd pod if the restore were killed before the rename).
       */
      readonly hiddenPart?: true
    }
  /** The backup's tarball, which must have the verified size and sha256 before anything of it is installed. */
  | {
      readonly _tag: "ExtractArchive"
      readonly archive: string
      readonly target: string
      readonly units: ReadonlyArray<string>
      /** Where existing units are moved before being replaced. */
      readonly moveExistingTo: string
    }
  /**
   * Until no container of the pods runs: on the host itself, no process runs one of `programs` and
   * nothing listens on `ports`; with `dataDir`, nothing uses that directory either.
   */
  | {
      readonly _tag: "WaitUntilStopped"
      /** What the messages call the pods (`etcd`, `the control plane`). */
      readonly what: string
      readonly containers: ReadonlyArray<string>
      readonly programs: ReadonlyArray<string>
      readonly ports: ReadonlyArray<number>
      readonly dataDir?: string
      readonly timeoutSeconds: number
    }
  /** rmdir(2): fails unless the directory is empty, so it can never delete data. */
  | { readonly _tag: "RemoveEmptyDirectory"; readonly path: string }
  /**
   * Writes `record` (replacing an older one atomically): the device and inode of the directory
   * `member`, which the next action renames into place (a rename keeps them), with the restore and
   * the backup. A stand-down then refuses to move that member aside.
   */
  | { readonly _tag: "RecordRestoredMember"; readonly record: string; readonly member: string; readonly restoreId: string; readonly backup: string }
  /**
   * Writes `record` (replacing an older one atomically): this stand-down, when, and the moves this run makes (host
   * paths, without the root). A restore on this host then refuses until etcd has a member here again.
   */
  | {
      readonly _tag: "RecordStandDown"
      readonly record: string
      readonly standDownId: string
      readonly moved: ReadonlyArray<{ readonly from: string; readonly to: string }>
    }

/** What must hold right before a step runs. */
export type Precondition =
  | { readonly _tag: "BackupVerified"; readonly snapshot: string; readonly resources: string }
  | { readonly _tag: "EtcdutlSupports"; readonly flags: ReadonlyArray<string> }
  | { readonly _tag: "EtcdStopped"; readonly manifest: string; readonly containers: ReadonlyArray<string>; readonly ports: ReadonlyArray<number> }
  | { readonly _tag: "PathExists"; readonly path: string }
  | { readonly _tag: "PathAbsent"; readonly path: string }
  | { readonly _tag: "DirectoryEmpty"; readonly path: string; readonly ignoring: ReadonlyArray<string> }
  /**
   * With `inodes`, that many inodes free as well (where the file system counts them). With
   * `freedBefore`, earlier steps move that much off the file system first (counted as free).
   */
  | { readonly _tag: "FreeSpace"; readonly path: string; readonly bytes: number; readonly inodes?: number; readonly freedBefore?: number }
  /** A directory the step writes into; a symbolic link to one only where `linkAllowed` (the extraction never follows links). */
  | { readonly _tag: "IsDirectory"; readonly path: string; readonly linkAllowed: boolean; readonly mayBeAbsent: boolean }

/** Preconditions that earlier steps cannot change: check them all before the first step. */
export const isUpfront = (p: Precondition): boolean =>
  p._tag === "BackupVerified" || p._tag === "EtcdutlSupports" || p._tag === "FreeSpace" || p._tag === "IsDirectory"

/** The upfront preconditions of a plan, each once, in the order the steps name them. */
export const upfrontPreconditions = (plan: HostSteps): ReadonlyArray<Precondition> => {
  const seen = new Set<string>()
  return plan.steps
    .flatMap((s) => s.preconditions)
    .filter((p) => {
      const key = JSON.stringify(p)
      if (!isUpfront(p) || seen.has(key)) return false
      seen.add(key)
      return true
    })
}

/** A precondition checked right before its step runs (earlier steps change what it depends on). */
export interface RunTimePrecondition {
  /** 1-based, as the plan numbers its steps. */
  readonly number: number
  readonly step: StepId
  readonly precondition: Precondition
}

export const runTimePreconditions = (plan: HostSteps): ReadonlyArray<RunTimePrecondition> =>
  plan.steps.flatMap((s, i) => s.preconditions.filter((p) => !isUpfront(p)).map((precondition) => ({ number: i + 1, step: s.id, precondition })))

export const stepIds = [
  "check-snapshot",
  "stop-control-plane",
  "wait-control-plane-stopped",
  "stop-etcd",
  "wait-etcd-stopped",
  "set-aside-partial-restores",
  "keep-old-member",
  "keep-revision-json",
  "restore-resources",
  "copy-snapshot",
  "restore-snapshot",
  "install-member",
  "start-etcd",
  "start-control-plane",
] as const
export type StepId = (typeof stepIds)[number]

export interface RestoreStep {
  readonly id: StepId
  readonly title: string
  readonly description: string
  readonly preconditions: ReadonlyArray<Precondition>
  readonly actions: ReadonlyArray<RestoreAction>
  /** Every full path the step reads or changes. */
  readonly touches: ReadonlyArray<string>
  /** What state a failure leaves and how to go back or on. */
  readonly onFailure: string
  /** Actions that put back what the step changed (empty: nothing to put back). */
  readonly undo: ReadonlyArray<RestoreAction>
}

/** What the executor, the checks and the dry run read of any plan: the host and its steps. */
export interface HostSteps {
  readonly root: string
  readonly steps: ReadonlyArray<RestoreStep>
}

/** Paths an action reads or changes. */
export const actionPaths = (action: RestoreAction): ReadonlyArray<string> => {
  switch (action._tag) {
    case "RunCommand":
      return [...action.reads, ...action.writes]
    case "CreateDirectory":
    case "RemoveEmptyDirectory":
      return [action.path]
    case "Move":
    case "CopyFile":
      return [action.from, action.to]
    case "ExtractArchive":
      return [action.archive, ...action.units.map((u) => posix.join(action.target, u)), action.moveExistingTo]
    case "WaitUntilStopped":
      return []
    case "RecordRestoredMember":
      return [action.record, action.member]
    case "RecordStandDown":
      return [action.record]
  }
}

/** A step, with every path its actions and its undo touch. */
export const planStep = (s: Omit<RestoreStep, "touches">): RestoreStep => ({
  ...s,
  touches: [...new Set([...s.actions.flatMap(actionPaths), ...s.undo.flatMap(actionPaths)])],
})
