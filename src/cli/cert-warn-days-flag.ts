import { Flag } from "effect/cli"
import { intInRange } from "./flag-checks.ts"

/** `--cert-warn-days`: the certificate check's warning horizon (backup-create, verify). */
export const certWarnDaysFlag = Flag.Int("cert-warn-days").pipe(
  intInRange({ min: 0, max: 36_500 }),
  Flag.withDefault(30),
  Flag.withMetavar("N"),
  Flag.withDescription("Warn about every certificate of the bundle that expires within N days (an expired one, or a CA bundle with no valid CA, fails)"),
)
