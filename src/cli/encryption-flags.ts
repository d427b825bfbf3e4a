/**
 * age encryption on the command line: `backup-upload`'s recipients files (the tarball's may
 * differ: the key bundle can be opened by fewer people) and the identity files of `download`,
 * `verify` and `restore`. Files are read before anything is uploaded or downloaded, so a file
 * that cannot be used is said first.
 */
import { Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { readIdentityFiles } from "../services/crypto/age-identity-files.ts"
import { readRecipientsFile } from "../services/crypto/recipients-file.ts"
import { nonEmpty } from "./flag-checks.ts"

export const recipientsFlags = {
  recipientsFile: Flag.String("recipients-file").pipe(
    nonEmpty("file"),
    Flag.optional,
    Flag.withMetavar("FILE"),
    Flag.withDescription(
      "Encrypt the backup's files with age to these recipients (one age1... per line, # comments, as age -R) before they leave: stored as <file>.age",
    ),
  ),
  resourcesRecipientsFile: Flag.String("resources-recipients-file").pipe(
    nonEmpty("file"),
    Flag.optional,
    Flag.withMetavar("FILE"),
    Flag.withDescription("The static-pod resources tarball's own recipients (it holds the cluster's private keys); default: --recipients-file's"),
  ),
}

export interface RecipientsFlagValues {
  readonly recipientsFile: Option.Option<string>
  readonly resourcesRecipientsFile: Option.Option<string>
}

/** The recipients of each file; a file without any is stored as it is. */
export const readUploadRecipients = (flags: RecipientsFlagValues) =>
  Effect.gen(function* () {
    const snapshot = Option.isSome(flags.recipientsFile) ? yield* readRecipientsFile(flags.recipientsFile.value) : undefined
    const resources = Option.isSome(flags.resourcesRecipientsFile) ? yield* readRecipientsFile(flags.resourcesRecipientsFile.value) : snapshot
    if (snapshot === undefined && resources !== undefined) {
      yield* Effect.logWarning(
        "only the resources tarball is encrypted (--resources-recipients-file): the etcd snapshot, which holds every Secret of the cluster (readable unless encrypted at rest), is stored plain; give --recipients-file to encrypt it too",
      )
    }
    return { snapshot, resources }
  })

export const identityFlags = {
  identity: Flag.String("identity").pipe(
    nonEmpty("file"),
    Flag.atLeast(0),
    Flag.withMetavar("FILE"),
    Flag.withDescription("An age identity file (age-keygen's, AGE-SECRET-KEY-1... lines) to decrypt an encrypted backup with; repeatable"),
  ),
  allowExposedIdentity: Flag.Boolean("allow-exposed-identity").pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription("Use identity files that group or others can read (refused by default: chmod 600 them)"),
  ),
}

export interface IdentityFlagValues {
  readonly identity: ReadonlyArray<string>
  readonly allowExposedIdentity: boolean
}

/** The identities of every --identity file (undefined when none is given). */
export const readGivenIdentities = (flags: IdentityFlagValues) =>
  flags.identity.length === 0 ? Effect.succeed(undefined) : readIdentityFiles(flags.identity, { allowExposed: flags.allowExposedIdentity })
