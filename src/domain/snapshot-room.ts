/**
 * Whether backup-init has room for the snapshot. The file system must keep `factor` x the database free (the node's
 * disk, which etcd and the kubelet share: never fill it). A size-limited emptyDir (the backup pod's `/backup`) needs
 * only what the pod puts there: the snapshot (at most the database's size) and the resources, `resourcesAllowance`;
 * the kubelet evicts the pod past the limit. An encrypted upload's ciphertext beside it is checked by backup-upload,
 * which knows the store.
 */

/** The resources tree, its tarball and the small records beside the snapshot. */
export const resourcesAllowanceBytes = 64 * 2 ** 20

/** The snapshots of the database the volume holds at once: two while an upload encrypting into a claim writes the ciphertext beside it. */
export const snapshotsInVolume = (ciphertextBesideSnapshot: boolean): number => (ciphertextBesideSnapshot ? 2 : 1)

/** What the backup volume must hold for a database of `databaseBytes`: its snapshots and the resources. */
export const backupVolumeBytes = (databaseBytes: number, ciphertextBesideSnapshot: boolean): number =>
  databaseBytes * snapshotsInVolume(ciphertextBesideSnapshot) + resourcesAllowanceBytes

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
  const volumeNeeded = backupVolumeBytes(input.databaseBytes, false)
  const volumeAvailable = Math.max(0, input.volume.limitBytes - input.volume.usedBytes)
  return volumeAvailable < volumeNeeded
    ? { _tag: "VolumeLimitTooSmall", neededBytes: volumeNeeded, availableBytes: volumeAvailable, volume: input.volume }
    : { _tag: "Fits" }
}
