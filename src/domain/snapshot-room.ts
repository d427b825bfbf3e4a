/**
 * Whether backup-init has room for the snapshot. The file system must keep `factor` x the database free (the node's
 * disk, which etcd and the kubelet share: never fill it). A size-limited emptyDir (the backup pod's `/backup`) needs
 * only what the pod puts there: the snapshot (at most the database's size) and the resources, `resourcesAllowance`;
 * the kubelet evicts the pod past the limit. An encrypted upload's ciphertext beside it is checked by backup-upload,
 * which knows the store; the operator's check against etcd's quota counts it too (`backupVolumeBytes`).
 */
import { payloadBytes } from "./age-payload-layout.ts"
import { followRingBytes } from "./multipart-layout.ts"

/** The resources tree, its tarball and the small records beside the snapshot. */
export const resourcesAllowanceBytes = 64 * 2 ** 20

/** What an upload that encrypts the snapshot writes beside it in the backup volume first. */
export type CiphertextBeside =
  | { readonly _tag: "None" }
  /** Into a PersistentVolumeClaim: the whole ciphertext, moved into the claim once written. */
  | { readonly _tag: "Whole" }
  /** To S3: the ring of parts the upload reads the ciphertext in as the encryption writes it. */
  | { readonly _tag: "Ring"; readonly partBytes: number; readonly partsInFlight: number }

export const noCiphertext: CiphertextBeside = { _tag: "None" }

/** The bytes of `beside` for a database of `databaseBytes`. */
export const ciphertextBesideBytes = (databaseBytes: number, beside: CiphertextBeside): number => {
  if (beside._tag === "None") return 0
  const whole = payloadBytes(databaseBytes)
  if (beside._tag === "Whole") return whole
  return Math.min(whole, followRingBytes(whole, beside.partBytes, beside.partsInFlight) ?? whole)
}

/** What the backup volume must hold for a database of `databaseBytes`: its snapshot, what an encrypting upload writes beside it, and the resources. */
export const backupVolumeBytes = (databaseBytes: number, beside: CiphertextBeside): number =>
  databaseBytes + ciphertextBesideBytes(databaseBytes, beside) + resourcesAllowanceBytes

/** The largest database a volume of `limitBytes` holds a backup of (0 when none). */
export const largestDatabaseBytes = (limitBytes: number, beside: CiphertextBeside): number => {
  if (backupVolumeBytes(0, beside) > limitBytes) return 0
  // What the volume needs grows with the database: the largest that fits is found by halving.
  let fits = 0
  let fails = limitBytes + 1
  while (fails - fits > 1) {
    const mid = Math.floor((fits + fails) / 2)
    if (backupVolumeBytes(mid, beside) <= limitBytes) fits = mid
    else fails = mid
  }
  return fits
}

/** The emptyDir's size limit and what it already holds. */
export interface VolumeRoom {
  readonly limitBytes: number
  readonly usedBytes: number
}

export interface SnapshotRoomInput<V extends VolumeRoom> {
  readonly databaseBytes: number
  readonly factor: number
  readonly fileSystemAvailableBytes: number
  /** The backup directory's volume, when it has a size limit. */
  readonly volume?: V | undefined
}

export type SnapshotRoom<V extends VolumeRoom> =
  | { readonly _tag: "Fits" }
  | { readonly _tag: "DiskTooSmall"; readonly neededBytes: number; readonly availableBytes: number }
  | { readonly _tag: "VolumeLimitTooSmall"; readonly neededBytes: number; readonly availableBytes: number; readonly volume: V }

export const snapshotRoom = <V extends VolumeRoom>(input: SnapshotRoomInput<V>): SnapshotRoom<V> => {
  const diskNeeded = Math.ceil(input.databaseBytes * input.factor)
  if (input.fileSystemAvailableBytes < diskNeeded) {
    return { _tag: "DiskTooSmall", neededBytes: diskNeeded, availableBytes: input.fileSystemAvailableBytes }
  }
  if (input.volume === undefined) return { _tag: "Fits" }
  // The ciphertext beside it is backup-upload's to check.
  const volumeNeeded = backupVolumeBytes(input.databaseBytes, noCiphertext)
  const volumeAvailable = Math.max(0, input.volume.limitBytes - input.volume.usedBytes)
  return volumeAvailable < volumeNeeded
    ? { _tag: "VolumeLimitTooSmall", neededBytes: volumeNeeded, availableBytes: volumeAvailable, volume: input.volume }
    : { _tag: "Fits" }
}
