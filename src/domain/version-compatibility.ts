/**
 * OpenShift release versions and whether a backup may be restored onto a host.
 *
 * OpenShift's restore documentation: "you must use an etcd backup that was taken from the same
 * z-stream release. For example, an OpenShift Container Platform 4.7.2 cluster must use an etcd
 * backup that was taken from 4.7.2." Its example pins the whole x.y.z, so "same z-stream release"
 * means the same release, not merely the same x.y: 4.16.3 onto 4.16.5 is refused too (the
 * operators' manifests and the stored objects differ between z-releases). Build metadata (`+...`)
 * does not name another release (semver); a pre-release does (`4.17.0-rc.1` is not `4.17.0`).
 *
 * The cluster's version comes from ClusterVersion `version` (config.openshift.io/v1), stored as
 * JSON at `/kubernetes.io/config.openshift.io/clusterversions/version`: the newest
 * `status.history[]` entry whose state is `Completed` (history is newest first), else
 * `status.desired.version` while the first install or an update is still partial.
 */
import { Order, Result, Schema } from "effect"
import { parseYamlText } from "./yaml-text.ts"

export interface OpenShiftVersion {
  readonly major: number
  readonly minor: number
  readonly patch: number
  /** Dot-separated identifiers after `-` (`rc.1`, `0.nightly-2024-05-01-111111`); empty for a release. */
  readonly prerelease: ReadonlyArray<string>
  /** As written. */
  readonly text: string
}

const semver = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/

/** Parses `4.16.3`, `4.17.0-rc.1`, `4.16.0-0.nightly-2024-05-01-111111`, `4.15.0-0.okd-2024-03-10-010116`. Never throws. */
export const parseOpenShiftVersion = (text: string): Result.Result<OpenShiftVersion, { readonly message: string }> => {
  const m = semver.exec(text.trim())
  const numbers = m === null ? [] : [m[1]!, m[2]!, m[3]!].map(Number)
  if (m === null || !numbers.every(Number.isSafeInteger)) {
    return Result.fail({ message: `${JSON.stringify(text)} is not an OpenShift version (x.y.z, optionally -pre-release): e.g. 4.16.3 or 4.17.0-rc.1` })
  }
  const [major, minor, patch] = numbers as [number, number, number]
  return Result.succeed({ major, minor, patch, prerelease: m[4] === undefined ? [] : m[4].split("."), text: text.trim() })
}

const numericId = /^(0|[1-9]\d*)$/

const compareIdentifiers = (a: string, b: string): -1 | 0 | 1 => {
  const an = numericId.test(a)
  const bn = numericId.test(b)
  if (an && bn) return Order.BigInt(BigInt(a), BigInt(b))
  if (an !== bn) return an ? -1 : 1 // numeric identifiers sort before alphanumeric ones
  return a < b ? -1 : a > b ? 1 : 0
}

/** Semantic-version precedence: numbers, then a pre-release before its release, identifiers compared one by one. */
export const compareVersions: Order.Order<OpenShiftVersion> = (a, b) => {
  for (const [x, y] of [
    [a.major, b.major],
    [a.minor, b.minor],
    [a.patch, b.patch],
  ] as const) {
    if (x !== y) return x < y ? -1 : 1
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return a.prerelease.length === b.prerelease.length ? 0 : a.prerelease.length === 0 ? 1 : -1
  }
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const c = compareIdentifiers(a.prerelease[i]!, b.prerelease[i]!)
    if (c !== 0) return c
  }
  return Order.Number(a.prerelease.length, b.prerelease.length)
}

/** The same release, which is what OpenShift's "same z-stream release" asks for (see above). */
export const sameRelease = (a: OpenShiftVersion, b: OpenShiftVersion): boolean => compareVersions(a, b) === 0

/** `4.16` of `4.16.3`. */
export const minorStream = (v: OpenShiftVersion): string => `${v.major}.${v.minor}`

export type VersionCheck =
  | { readonly _tag: "Same"; readonly message: string }
  | { readonly _tag: "Mismatch"; readonly allowed: boolean; readonly message: string }
  | { readonly _tag: "Unknown"; readonly message: string }

/**
 * Whether a backup of release `backup` may be restored onto a host running `host`; `undefined`
 * when a side could not be read (then nothing is compared and the message says so).
 * `allowMismatch` is `--allow-version-mismatch`.
 */
export const restoreVersionCheck = (backup: string | undefined, host: string | undefined, allowMismatch: boolean): VersionCheck => {
  if (backup === undefined || host === undefined) {
    const missing = [
      backup === undefined ? "the backup's OpenShift version (not recorded in its manifest)" : undefined,
      host === undefined ? "the host's release (not readable from its static-pod manifests)" : undefined,
    ]
      .filter((s) => s !== undefined)
      .join(" and ")
    return { _tag: "Unknown", message: `could not compare versions: ${missing} unknown; make sure the host runs the release the backup was taken on` }
  }
  const b = parseOpenShiftVersion(backup)
  const h = parseOpenShiftVersion(host)
  if (Result.isFailure(b) || Result.isFailure(h)) {
    const problems = [b, h].flatMap((r) => (Result.isFailure(r) ? [r.failure.message] : []))
    return { _tag: "Unknown", message: `could not compare versions: ${problems.join("; ")}` }
  }
  if (sameRelease(b.success, h.success)) return { _tag: "Same", message: `backup and host are both OpenShift ${b.success.text}` }
  const relation = minorStream(b.success) === minorStream(h.success) ? `another z-release of ${minorStream(b.success)}` : `another minor version`
  const what = `the backup is OpenShift ${b.success.text} and the host runs ${h.success.text} (${relation}); OpenShift restores only a backup of the same z-stream release`
  return allowMismatch
    ? { _tag: "Mismatch", allowed: true, message: `${what}; going ahead because of --allow-version-mismatch` }
    : {
        _tag: "Mismatch",
        allowed: false,
        message: `${what}. Restore a backup taken on ${h.success.text}, or install ${b.success.text} on the host; --allow-version-mismatch overrides this at your own risk`,
      }
}

const ClusterVersionDocument = Schema.Struct({
  spec: Schema.optionalKey(Schema.Struct({ clusterID: Schema.optionalKey(Schema.String) })),
  status: Schema.optionalKey(
    Schema.Struct({
      desired: Schema.optionalKey(Schema.Struct({ version: Schema.optionalKey(Schema.String) })),
      history: Schema.optionalKey(Schema.Array(Schema.Struct({ state: Schema.optionalKey(Schema.String), version: Schema.optionalKey(Schema.String) }))),
    }),
  ),
})
const decodeClusterVersion = Schema.decodeUnknownResult(ClusterVersionDocument, { onExcessProperty: "ignore" })

export interface ClusterVersionFacts {
  /** Undefined when neither a completed history entry nor a desired version is present. */
  readonly version: string | undefined
  /** Where `version` came from: a completed update, or only the desired (in progress) one. */
  readonly source: "completed" | "desired" | undefined
  readonly clusterId: string | undefined
}

/** The version and cluster ID of a ClusterVersion object (the JSON stored in etcd, or the object parsed from it). */
export const clusterVersionFacts = (object: unknown): Result.Result<ClusterVersionFacts, { readonly message: string }> => {
  let value: unknown = object
  if (typeof object === "string") {
    try {
      value = JSON.parse(object)
    } catch {
      return Result.fail({ message: "ClusterVersion version: the stored value is not JSON" })
    }
  }
  const decoded = decodeClusterVersion(value)
  if (Result.isFailure(decoded)) return Result.fail({ message: `ClusterVersion version: unexpected shape (${decoded.failure.message.split("\n")[0]})` })
  const cv = decoded.success
  const completed = cv.status?.history?.find((h) => h.state === "Completed" && h.version !== undefined && h.version !== "")?.version
  const desired = cv.status?.desired?.version
  const clusterId = cv.spec?.clusterID === "" ? undefined : cv.spec?.clusterID
  if (completed !== undefined) return Result.succeed({ version: completed, source: "completed", clusterId })
  if (desired !== undefined && desired !== "") return Result.succeed({ version: desired, source: "desired", clusterId })
  return Result.succeed({ version: undefined, source: undefined, clusterId })
}

const StaticPod = Schema.Struct({ metadata: Schema.Struct({ labels: Schema.Struct({ revision: Schema.String }) }) })
const decodeStaticPod = Schema.decodeUnknownResult(StaticPod, { onExcessProperty: "ignore" })

/**
 * The revision a static pod manifest (`/etc/kubernetes/manifests/<pod>.yaml`, YAML or JSON) runs:
 * its `revision` label, which the installer sets to the revision it installed.
 */
export const staticPodRevision = (text: string): Result.Result<number, { readonly message: string }> => {
  const doc = parseYamlText(text, { schema: "failsafe" })
  if (Result.isFailure(doc)) return Result.fail({ message: `not a pod manifest (${doc.failure.message})` })
  const pod = decodeStaticPod(doc.success)
  const revision =
    Result.isSuccess(pod) && /^[1-9]\d{0,8}$/.test(pod.success.metadata.labels.revision) ? Number(pod.success.metadata.labels.revision) : undefined
  return revision === undefined ? Result.fail({ message: "it has no metadata.labels.revision of a positive number" }) : Result.succeed(revision)
}

/** The pre-releases OpenShift publishes (4.17.0-rc.1, -ec.2, -fc.0). */
const publishedPrerelease = /^(rc|ec|fc)\.\d+$/

/**
 * The host's OpenShift release as its pod ConfigMap's `version` key records it (the operator writes
 * its version there with every revision): one version, optionally ending in a newline. Only a
 * release (x.y.z, or a published rc/ec/fc pre-release) tells the z-stream: a build string such as
 * 4.16.0-202406131906.p0.g1a2b3c4.assembly.stream.el9 names the branch an operator was built from,
 * which every z-release of 4.16 may print, so comparing it would refuse a restore onto the right host.
 */
export const hostReleaseOf = (versionFile: string): Result.Result<string, { readonly message: string }> => {
  const text = versionFile.endsWith("\n") ? versionFile.slice(0, -1) : versionFile
  const parsed = parseOpenShiftVersion(text)
  if (Result.isFailure(parsed) || parsed.success.text !== text)
    return Result.fail({ message: `${JSON.stringify(text.slice(0, 80))} is not an OpenShift version` })
  const pre = parsed.success.prerelease.join(".")
  return pre === "" || publishedPrerelease.test(pre)
    ? Result.succeed(text)
    : Result.fail({ message: `${JSON.stringify(text.slice(0, 80))} is a build version, not a release: it does not tell the host's z-stream` })
}
