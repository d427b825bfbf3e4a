/** Why backup-upload stored no complete backup, besides the store's own errors. */
import { Schema } from "effect"

export class BackupToUploadInvalid extends Schema.TaggedError<BackupToUploadInvalid>()("BackupToUploadInvalid", {
  path: Schema.String,
  message: Schema.String,
}) {}

export class UploadDeadlineExceeded extends Schema.TaggedError<UploadDeadlineExceeded>()("UploadDeadlineExceeded", {
  store: Schema.String,
  deadlineMs: Schema.Number,
  message: Schema.String,
}) {}

export class StoreTooSmall extends Schema.TaggedError<StoreTooSmall>()("StoreTooSmall", {
  store: Schema.String,
  neededBytes: Schema.Number,
  availableBytes: Schema.Number,
  message: Schema.String,
}) {}

export class BackupDirTooSmall extends Schema.TaggedError<BackupDirTooSmall>()("BackupDirTooSmall", {
  path: Schema.String,
  neededBytes: Schema.Number,
  availableBytes: Schema.Number,
  message: Schema.String,
}) {}

/**
 * backup-upload with --trusted-key stored a backup no trusted key signed: the store's retention would count it untrusted
 * (removed before any trusted backup, never the newest kept), so no prune ran and the run fails instead of passing for a
 * backup its own retention does not keep.
 */
export class UploadedBackupUntrusted extends Schema.TaggedError<UploadedBackupUntrusted>()("UploadedBackupUntrusted", {
  store: Schema.String,
  id: Schema.String,
  message: Schema.String,
}) {}
