/**
 * The installer's on-disk layout of one revision of a static pod, which a backup reproduces and a
 * restore extracts into `/etc/kubernetes`:
 *
 *   static-pod-resources/<pod>-<N>/configmaps/<name>/<key>
 *   static-pod-resources/<pod>-<N>/secrets/<name>/<key>
 *   static-pod-resources/<pod>-<N>/<pod>.yaml        (key `pod.yaml` of ConfigMap `<pod>-<N>`)
 *
 * `<name>` is the resource's name without its `-<N>` suffix. Names and keys come from the cluster
 * or from an archive, so only what Kubernetes itself accepts becomes a path; everything else is
 * refused before it can name a file outside the layout.
 */
import { Result, Schema } from "effect"
import { dataKeyProblem, dnsSubdomainMaxLength, dnsSubdomainProblem } from "./k8s-names.ts"
import { defaultOperands, operandList, type Operand, type OperandName, type OperandTable } from "./operands.ts"
import type { Revision, RevisionSet } from "./revisions.ts"

/** The top directory of the layout (relative to `/etc/kubernetes`). */
export const staticPodResourcesDir = "static-pod-resources"

export const ResourceKind = Schema.Literals(["configmap", "secret"])
export type ResourceKind = typeof ResourceKind.Type

/** The directory each kind of resource lives in. */
export const resourceKindDirectory: Readonly<Record<ResourceKind, string>> = { configmap: "configmaps", secret: "secrets" }

/** The pod ConfigMap key holding the static pod manifest. */
export const podManifestKey = "pod.yaml"

/** Mode of every directory of the layout. */
export const directoryMode = 0o700

/** Mode of a data file: 0600, except keys ending in `.sh` (scripts the pod runs): 0755 for ConfigMaps, 0700 for Secrets. */
export const fileMode = (kind: ResourceKind, key: string): number => (key.endsWith(".sh") ? (kind === "configmap" ? 0o755 : 0o700) : 0o600)

/** Mode of `<pod>.yaml`. */
export const podManifestMode = 0o600

/** A name or key Kubernetes would refuse, so it cannot be a path of the layout. */
export class LayoutNameInvalid extends Schema.TaggedError<LayoutNameInvalid>()("LayoutNameInvalid", {
  what: Schema.Literals(["name", "key"]),
  value: Schema.String,
  message: Schema.String,
}) {}

/** Accepts `name` (without revision suffix) when `<name>-<N>` is a valid ConfigMap/Secret name. */
export const validateResourceName = (name: string, revision: Revision): Result.Result<string, LayoutNameInvalid> => {
  const full = `${name}-${revision}`
  const problem =
    dnsSubdomainProblem(name) ?? (full.length > dnsSubdomainMaxLength ? `makes "${full}" longer than ${dnsSubdomainMaxLength} characters` : undefined)
  return problem === undefined
    ? Result.succeed(name)
    : Result.fail(new LayoutNameInvalid({ what: "name", value: name, message: `resource name ${JSON.stringify(name)} ${problem}` }))
}

/** Accepts `key` when Kubernetes accepts it as a ConfigMap/Secret data key. */
export const validateDataKey = (key: string): Result.Result<string, LayoutNameInvalid> => {
  const problem = dataKeyProblem(key)
  return problem === undefined
    ? Result.succeed(key)
    : Result.fail(new LayoutNameInvalid({ what: "key", value: key, message: `data key ${JSON.stringify(key)} ${problem}` }))
}

/** `name` without the `-<N>` suffix of revision N (`etcd-pod-3`, 3 -> `etcd-pod`); `undefined` when it has no such suffix. */
export const stripRevisionSuffix = (name: string, revision: Revision): string | undefined => {
  const suffix = `-${revision}`
  return name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : undefined
}

/** `<pod>-<N>`, the directory name of revision N of an operand. */
export const podDirectoryName = (operand: OperandName, revision: Revision, table: OperandTable = defaultOperands): string =>
  `${table[operand].podConfigMap}-${revision}`

/** `static-pod-resources/<pod>-<N>`. */
export const podDirectory = (operand: OperandName, revision: Revision, table: OperandTable = defaultOperands): string =>
  `${staticPodResourcesDir}/${podDirectoryName(operand, revision, table)}`

/** `static-pod-resources/<pod>-<N>/<pod>.yaml`. */
export const podManifestPath = (operand: OperandName, revision: Revision, table: OperandTable = defaultOperands): string =>
  `${podDirectory(operand, revision, table)}/${table[operand].podConfigMap}.yaml`

const resourcePath = (operand: OperandName, revision: Revision, kind: ResourceKind, name: string, table: OperandTable): string =>
  `${podDirectory(operand, revision, table)}/${resourceKindDirectory[kind]}/${name}`

/** `static-pod-resources/<pod>-<N>/<configmaps|secrets>/<name>`. */
export const resourceDirectory = (
  operand: OperandName,
  revision: Revision,
  kind: ResourceKind,
  name: string,
  table: OperandTable = defaultOperands,
): Result.Result<string, LayoutNameInvalid> => Result.map(validateResourceName(name, revision), (n) => resourcePath(operand, revision, kind, n, table))

export interface LayoutFile {
  readonly path: string
  readonly mode: number
}

/** Path and mode of key `key` of resource `name` (without suffix) of revision N of an operand. */
export const resourceFilePath = (
  operand: OperandName,
  revision: Revision,
  kind: ResourceKind,
  name: string,
  key: string,
  table: OperandTable = defaultOperands,
): Result.Result<LayoutFile, LayoutNameInvalid> =>
  Result.flatMap(resourceDirectory(operand, revision, kind, name, table), (dir) =>
    Result.map(validateDataKey(key), (k) => ({ path: `${dir}/${k}`, mode: fileMode(kind, k) })),
  )

/** A resource the table says revision N of an operand has. */
export interface ExpectedResource {
  readonly operand: OperandName
  readonly kind: ResourceKind
  readonly name: string
  readonly optional: boolean
  /** `static-pod-resources/<pod>-<N>/<kind dir>/<name>`. */
  readonly path: string
}

const listedResources = (operand: Operand, kind: ResourceKind) => (kind === "configmap" ? operand.configMaps : operand.secrets)

/** Every resource directory the table expects for `revisions`, in operand then table order. */
export const expectedResources = (revisions: RevisionSet, table: OperandTable = defaultOperands): ReadonlyArray<ExpectedResource> =>
  operandList(table).flatMap((operand) =>
    ResourceKind.literals.flatMap((kind) =>
      listedResources(operand, kind).map((r) => ({
        operand: operand.name,
        kind,
        name: r.name,
        optional: r.optional,
        path: resourcePath(operand.name, revisions[operand.name], kind, r.name, table),
      })),
    ),
  )

// ---------------------------------------------------------------------------------------------
// Confining archive entries

/** What a path inside the layout is. `directory` tells whether it names a directory. */
export type LayoutEntry =
  | { readonly kind: "root"; readonly directory: true }
  | { readonly kind: "pod-directory"; readonly directory: true; readonly operand: OperandName }
  | { readonly kind: "pod-manifest"; readonly directory: false; readonly operand: OperandName; readonly mode: number }
  | { readonly kind: "resource-kind-directory"; readonly directory: true; readonly operand: OperandName; readonly resourceKind: ResourceKind }
  | {
      readonly kind: "resource-directory"
      readonly directory: true
      readonly operand: OperandName
      readonly resourceKind: ResourceKind
      readonly name: string
      /** Whether the operand table names this resource (an unlisted one is allowed but worth a warning). */
      readonly listed: boolean
    }
  | {
      readonly kind: "resource-file"
      readonly directory: false
      readonly operand: OperandName
      readonly resourceKind: ResourceKind
      readonly name: string
      readonly key: string
      readonly listed: boolean
      readonly mode: number
    }

/** An archive entry outside the layout for the backup's revisions; `reason` says why. */
export class EntryOutsideLayout extends Schema.TaggedError<EntryOutsideLayout>()("EntryOutsideLayout", {
  path: Schema.String,
  reason: Schema.String,
  message: Schema.String,
}) {}

/**
 * Classifies an archive entry path against the layout of `revisions`. Accepted: exactly the
 * directories and files of the layout above (a trailing `/` marks a directory and is only allowed
 * on directories; one leading `./` is tolerated). Everything else is refused with the reason:
 * absolute paths, `.`/`..`/empty segments, other top directories, another revision of an
 * operand, unknown subdirectories, names or keys Kubernetes would refuse, deeper paths.
 * A directory may appear with or without the trailing `/`: callers check that the entry's type
 * (directory or regular file) matches `directory`, and refuse links and devices themselves.
 */
export const classifyEntry = (path: string, revisions: RevisionSet, table: OperandTable = defaultOperands): Result.Result<LayoutEntry, EntryOutsideLayout> => {
  const refuse = (reason: string) =>
    Result.fail(
      new EntryOutsideLayout({
        path,
        reason,
        message: `archive entry ${JSON.stringify(path)} is outside the backup layout: ${reason}`,
      }),
    )
  if (path.startsWith("/")) return refuse("absolute path")
  const relative = path.startsWith("./") ? path.slice(2) : path
  const directory = relative.endsWith("/")
  const segments = (directory ? relative.slice(0, -1) : relative).split("/")
  for (const segment of segments) {
    if (segment === "") return refuse("empty path segment")
    if (segment === "." || segment === "..") return refuse(`"${segment}" path segment`)
  }
  const accept = (entry: LayoutEntry): Result.Result<LayoutEntry, EntryOutsideLayout> =>
    directory && !entry.directory ? refuse("a file of the layout written as a directory") : Result.succeed(entry)

  const [top, podDir, kindDir, name, key, ...rest] = segments
  if (top !== staticPodResourcesDir) return refuse(`not under ${staticPodResourcesDir}/`)
  if (podDir === undefined) return accept({ kind: "root", directory: true })

  const operand = operandList(table).find((o) => podDir === podDirectoryName(o.name, revisions[o.name], table))
  if (operand === undefined) {
    const other = operandList(table).find((o) => /^[0-9]+$/.test(podDir.slice(o.podConfigMap.length + 1)) && podDir.startsWith(`${o.podConfigMap}-`))
    return refuse(
      other === undefined
        ? `"${podDir}" is not the directory of an operand`
        : `"${podDir}" is not revision ${revisions[other.name]} of ${other.name}, the revision this backup holds`,
    )
  }
  const revision = revisions[operand.name]
  if (kindDir === undefined) return accept({ kind: "pod-directory", directory: true, operand: operand.name })
  if (name === undefined && kindDir === `${operand.podConfigMap}.yaml`) {
    return accept({ kind: "pod-manifest", directory: false, operand: operand.name, mode: podManifestMode })
  }
  const resourceKind = ResourceKind.literals.find((k) => resourceKindDirectory[k] === kindDir)
  if (resourceKind === undefined) {
    return refuse(`"${kindDir}" is neither configmaps/, secrets/ nor ${operand.podConfigMap}.yaml`)
  }
  if (name === undefined) return accept({ kind: "resource-kind-directory", directory: true, operand: operand.name, resourceKind })
  const validName = validateResourceName(name, revision)
  if (Result.isFailure(validName)) return refuse(validName.failure.message)
  const listed = listedResources(operand, resourceKind).some((r) => r.name === name)
  if (key === undefined) return accept({ kind: "resource-directory", directory: true, operand: operand.name, resourceKind, name, listed })
  if (rest.length > 0) return refuse("deeper than <kind>/<name>/<key>")
  const validKey = validateDataKey(key)
  if (Result.isFailure(validKey)) return refuse(validKey.failure.message)
  if (directory) return refuse("a data key written as a directory")
  return accept({
    kind: "resource-file",
    directory: false,
    operand: operand.name,
    resourceKind,
    name,
    key,
    listed,
    mode: fileMode(resourceKind, key),
  })
}

/** Whether `path` is inside the layout of `revisions` (see `classifyEntry`). */
export const isAllowedEntry = (path: string, revisions: RevisionSet, table: OperandTable = defaultOperands): boolean =>
  Result.isSuccess(classifyEntry(path, revisions, table))
