/**
 * Whether the backup pod's `/backup` volume (its emptyDir `sizeLimit`, `--backup-volume-size`) holds a
 * backup of a database grown to etcd's quota, the most it can reach (etcd refuses writes past it): the
 * snapshot, the resources' allowance and, when the upload encrypts, what it writes beside the snapshot
 * (the whole ciphertext for a PersistentVolumeClaim, a ring of parts for S3). The operator checks it
 * before any pod runs: in the pod, backup-init and backup-upload refuse only once the database has
 * outgrown the volume, weeks later perhaps.
 */
import { Result, Schema } from "effect"
import { formatBytes } from "./byte-format.ts"
import { quantityBytes } from "./k8s-quantity.ts"
import { defaultPodOptions } from "./backup-pod-options.ts"
import { parseByteSize } from "./byte-size.ts"
import {
  backupVolumeBytes,
  type CiphertextBeside,
  ciphertextBesideBytes,
  largestDatabaseBytes,
  noCiphertext,
  resourcesAllowanceBytes,
} from "./snapshot-room.ts"

const GiB = 2 ** 30

/** The etcd CRD's default for `spec.backendQuotaGiB`. */
export const defaultEtcdQuotaGiB = 8

const EtcdQuotaSpec = Schema.Struct({
  spec: Schema.optionalKey(Schema.Struct({ backendQuotaGiB: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))) })),
})
const decodeQuotaSpec = Schema.decodeUnknownResult(EtcdQuotaSpec)

/**
 * etcd's backend quota in bytes from the etcd operator CR (`etcds.operator.openshift.io/cluster`,
 * `spec.backendQuotaGiB`; the CRD's default when it is not set); undefined when there is no CR or it
 * says something else.
 */
export const etcdQuotaBytes = (etcdCr: unknown): number | undefined => {
  if (etcdCr === undefined) return undefined
  const decoded = decodeQuotaSpec(etcdCr)
  return Result.isSuccess(decoded) ? (decoded.success.spec?.backendQuotaGiB ?? defaultEtcdQuotaGiB) * GiB : undefined
}

export interface QuotaRoomInput {
  readonly quotaBytes: number
  /** The `/backup` emptyDir's size limit as the pod spec gives it (`20Gi`). */
  readonly volumeSizeLimit: string
  /** What the upload writes beside the snapshot when it encrypts it. */
  readonly ciphertextBeside: CiphertextBeside
  /** Where `quotaBytes` comes from: the etcd CR (the default), or the CRD's default where no cluster was read. */
  readonly quotaSource?: QuotaSource
}

/** The etcd CR's `spec.backendQuotaGiB`, or the CRD's default where no cluster was read (render --revisions). */
export type QuotaSource = "cluster" | "default"

const quotaWhence = (source: QuotaSource | undefined, quotaBytes: number): string =>
  source === "default"
    ? `the default quota of ${formatBytes(quotaBytes)} (spec.backendQuotaGiB's default; with --revisions no cluster is read)`
    : `its quota of ${formatBytes(quotaBytes)} (spec.backendQuotaGiB of etcds.operator.openshift.io/cluster)`

/** What the volume must hold for a database at the quota. */
export const quotaBackupBytes = (input: Pick<QuotaRoomInput, "quotaBytes" | "ciphertextBeside">): number =>
  backupVolumeBytes(input.quotaBytes, input.ciphertextBeside)

/** The bytes the volume lacks to hold a backup of a database at the quota (0 when it holds one); undefined when the limit is not a size. */
export const quotaShortfallBytes = (input: QuotaRoomInput): number | undefined => {
  const limitBytes = quantityBytes(input.volumeSizeLimit)
  return limitBytes === undefined ? undefined : Math.max(0, quotaBackupBytes(input) - limitBytes)
}

const besideWhat = (quotaBytes: number, beside: CiphertextBeside): string => {
  switch (beside._tag) {
    case "None":
      return "the snapshot"
    case "Whole":
      return "the snapshot and its ciphertext (the upload encrypts into a PersistentVolumeClaim)"
    case "Ring":
      return `the snapshot and the ${formatBytes(ciphertextBesideBytes(quotaBytes, beside))} of its ciphertext the upload to S3 reads it in (a part more than the ${beside.partsInFlight} in flight)`
  }
}

/** A Warning's message when the volume cannot hold a backup of a database at etcd's quota; undefined when it can (or the limit is not a size). */
export const backupVolumeBelowQuota = (input: QuotaRoomInput): string | undefined => {
  const limitBytes = quantityBytes(input.volumeSizeLimit)
  const needed = quotaBackupBytes(input)
  if (limitBytes === undefined || limitBytes >= needed) return undefined
  const largestDatabase = largestDatabaseBytes(limitBytes, input.ciphertextBeside)
  return `the backup pod's /backup volume (--backup-volume-size ${input.volumeSizeLimit}) cannot hold a backup of etcd at ${quotaWhence(input.quotaSource, input.quotaBytes)}: ${besideWhat(input.quotaBytes, input.ciphertextBeside)} and ${formatBytes(resourcesAllowanceBytes)} for the resources take ${formatBytes(needed)}. ${largestDatabase === 0 ? `No backup fits in ${formatBytes(limitBytes)}` : `Backups fail once the database is larger than ${formatBytes(largestDatabase)}`}; give the operator (or render) a --backup-volume-size of at least ${Math.ceil(needed / GiB)}Gi`
}

/** The store a backup pod uploads to, as far as the room it takes in `/backup` goes. */
export interface PodUploadStore {
  readonly claimName?: string | undefined
  readonly recipientsSecret?: string | undefined
  /** The multipart part size (`16Mi`) and parts in flight of an upload to S3. */
  readonly partSize: string
  readonly partsInFlight: number
}

/** What the pod's upload writes beside the snapshot: nothing unless it encrypts the snapshot. */
export const ciphertextBesideOf = (store: PodUploadStore | undefined): CiphertextBeside => {
  if (store?.recipientsSecret === undefined) return noCiphertext
  if (store.claimName !== undefined) return { _tag: "Whole" }
  return { _tag: "Ring", partBytes: Result.getOrThrow(parseByteSize(store.partSize)), partsInFlight: store.partsInFlight }
}

/**
 * What a backup pod rendered with this volume limit (the pod spec's default when not given) and store lacks at etcd's
 * quota (`quotaShortfallBytes`) and the Warning, when the quota is known.
 */
export const podQuotaRoom = (
  quotaBytes: number | undefined,
  volumeSizeLimit: string | undefined,
  store: PodUploadStore | undefined,
  quotaSource: QuotaSource = "cluster",
): { readonly shortfallBytes: number | undefined; readonly warning: string | undefined } | undefined => {
  if (quotaBytes === undefined) return undefined
  const input = {
    quotaBytes,
    volumeSizeLimit: volumeSizeLimit ?? defaultPodOptions.backupVolumeSizeLimit,
    ciphertextBeside: ciphertextBesideOf(store),
    quotaSource,
  }
  return { shortfallBytes: quotaShortfallBytes(input), warning: backupVolumeBelowQuota(input) }
}
