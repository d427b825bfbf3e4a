import { Flag } from "effect/cli"
import { defaultCertWarnDays } from "../domain/certificate-checks.ts"
import { intInRange } from "./flag-checks.ts"

/** `--cert-warn-days`: the certificate check's warning horizon (backup-create, verify). */
export const certWarnDaysFlag = Flag.Int("cert-warn-days").pipe(
  intInRange({ min: 0, max: 36_500 }),
  Flag.withDefault(defaultCertWarnDays),
  Flag.withMetavar("N"),
  Flag.withDescription(
    `Warn about every certificate of the bundle that expires within N days (default ${defaultCertWarnDays}; an expired one, or a CA bundle with no valid CA, fails)`,
  ),
)
