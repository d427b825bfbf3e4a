/**
 * The files of one operand's revision directory, decided from the resources read from the API
 * (pure: no I/O). Each key of a ConfigMap (`data` and `binaryData`) or Secret becomes
 * `<kind dir>/<name>/<key>` with the installer's mode; the pod ConfigMap's `pod.yaml` key also
 * becomes `<pod>.yaml`. Names and keys Kubernetes would refuse are refused here, before they can
 * name a path. Contents stay `Redacted` so that no log or error can show them.
 */
import { type Redacted, Result, Schema } from "effect"
import {
  podDirectory,
  podManifestKey,
  podManifestMode,
  podManifestPath,
  resourceDirectory,
  resourceFilePath,
  resourceKindDirectory,
  type ResourceKind,
} from "../../domain/archive-layout.ts"
import { defaultOperands, type OperandName, type OperandTable } from "../../domain/operands.ts"
import type { Revision } from "../../domain/revisions.ts"

/** A revisioned ConfigMap or Secret as read, with its name without the `-<N>` suffix. */
export interface FetchedResource {
  readonly kind: ResourceKind
  readonly name: string
  readonly data: Readonly<Record<string, Redacted.Redacted<Uint8Array>>>
  /** ConfigMaps only. */
  readonly binaryData?: Readonly<Record<string, Redacted.Redacted<Uint8Array>>>
}

/** A file to write, path relative to the staging directory. */
export interface PlannedFile {
  readonly path: string
  readonly mode: number
  readonly content: Redacted.Redacted<Uint8Array>
}

export interface RevisionTree {
  /** Every directory to create (the pod directory, its kind directories, one per resource), parents first. */
  readonly directories: ReadonlyArray<string>
  /** Sorted by path. */
  readonly files: ReadonlyArray<PlannedFile>
}

/** A resource whose name or keys cannot be written as the installer's layout. */
export class RevisionContentRefused extends Schema.TaggedError<RevisionContentRefused>()("RevisionContentRefused", {
  operand: Schema.String,
  revision: Schema.Number,
  /** `configmap <name>-<N>` or `secret <name>-<N>`. */
  resource: Schema.String,
  message: Schema.String,
}) {}

/** The pod ConfigMap has no `pod.yaml` key, so the revision has no static pod manifest. */
export class PodManifestMissing extends Schema.TaggedError<PodManifestMissing>()("PodManifestMissing", {
  operand: Schema.String,
  revision: Schema.Number,
  configMap: Schema.String,
  message: Schema.String,
}) {}

const byPath = (a: { readonly path: string }, b: { readonly path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

/**
 * The directories and files of `static-pod-resources/<pod>-<N>/` for `resources` (the ones the
 * revision has). Fails on the first name or key Kubernetes would refuse, on a ConfigMap key in
 * both `data` and `binaryData`, and when the pod ConfigMap is absent or has no `pod.yaml`.
 */
export const planRevisionTree = (
  operand: OperandName,
  revision: Revision,
  resources: ReadonlyArray<FetchedResource>,
  table: OperandTable = defaultOperands,
): Result.Result<RevisionTree, RevisionContentRefused | PodManifestMissing> => {
  const podDir = podDirectory(operand, revision, table)
  const directories = new Set<string>([podDir])
  const files: Array<PlannedFile> = []
  for (const resource of resources) {
    const refuse = (message: string) =>
      Result.fail(
        new RevisionContentRefused({
          operand,
          revision,
          resource: `${resource.kind} ${resource.name}-${revision}`,
          message: `${resource.kind} ${table[operand].namespace}/${resource.name}-${revision} cannot be backed up: ${message}`,
        }),
      )
    const dir = resourceDirectory(operand, revision, resource.kind, resource.name, table)
    if (Result.isFailure(dir)) return refuse(dir.failure.message)
    directories.add(`${podDir}/${resourceKindDirectory[resource.kind]}`)
    directories.add(dir.success)
    const entries: Array<readonly [string, Redacted.Redacted<Uint8Array>]> = [...Object.entries(resource.data), ...Object.entries(resource.binaryData ?? {})]
    const seen = new Set<string>()
    for (const [key, content] of entries) {
      if (seen.has(key)) return refuse(`key ${JSON.stringify(key)} is in both data and binaryData`)
      seen.add(key)
      const file = resourceFilePath(operand, revision, resource.kind, resource.name, key, table)
      if (Result.isFailure(file)) return refuse(file.failure.message)
      files.push({ ...file.success, content })
    }
  }
  const podConfigMap = table[operand].podConfigMap
  const pod = resources.find((r) => r.kind === "configmap" && r.name === podConfigMap)
  const manifest = pod === undefined ? undefined : (pod.data[podManifestKey] ?? pod.binaryData?.[podManifestKey])
  if (manifest === undefined) {
    return Result.fail(
      new PodManifestMissing({
        operand,
        revision,
        configMap: `${podConfigMap}-${revision}`,
        message:
          `ConfigMap ${table[operand].namespace}/${podConfigMap}-${revision} ${pod === undefined ? "was not read" : `has no "${podManifestKey}" key`}: ` +
          `revision ${revision} of ${operand} has no static pod manifest, so it cannot be restored; check the revision's ConfigMaps.`,
      }),
    )
  }
  files.push({ path: podManifestPath(operand, revision, table), mode: podManifestMode, content: manifest })
  return Result.succeed({ directories: [...directories].sort(), files: files.sort(byPath) })
}
