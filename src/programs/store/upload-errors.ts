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
