import { Flag } from "effect/cli"
import { nonEmpty } from "./flag-checks.ts"

/** `--root`: the host's `/` as the command sees it (`/host` from `oc debug node`); `paths` says what must be under it. */
export const hostRootFlag = (paths: string) =>
  Flag.String("root").pipe(nonEmpty("directory"), Flag.withDefault("/"), Flag.withMetavar("DIR"), Flag.withDescription(`The host's / (${paths})`))

/** `--dry-run` of a host-side plan; `checks` says what it checks besides the preconditions. */
export const planDryRunFlag = (checks: string) =>
  Flag.Boolean("dry-run").pipe(
    Flag.withDefault(false),
    Flag.withDescription(
      `Print the plan, ${checks}check every precondition a real run checks before a change (exit non-zero when it would refuse), list those only their step can check; change nothing`,
    ),
  )
