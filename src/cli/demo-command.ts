import { fileURLToPath } from "node:url"
import { Effect, References } from "effect"
import { Command, Flag } from "effect/cli"
import { intInRange, nonEmpty } from "./flag-checks.ts"

/** The command's own entry point: the demo's pod containers run it as the image would. */
const entry = fileURLToPath(new URL("../../bin/cluster-backup.js", import.meta.url))

export const demoCommand = Command.make(
  "demo",
  {
    workDir: Flag.String("work-dir").pipe(
      nonEmpty("directory"),
      Flag.optional,
      Flag.withDescription("Directory for everything the demo makes (new or empty; default a temporary one)"),
    ),
    keep: Flag.Boolean("keep").pipe(Flag.withDefault(false), Flag.withDescription("Keep the backup directory at the end")),
    seed: Flag.Int("seed").pipe(Flag.withDefault(1), Flag.withDescription("Seed of the simulated OpenShift state")),
    keys: Flag.Int("keys").pipe(
      intInRange({ min: 0, max: 1_000_000 }),
      Flag.withDefault(2000),
      Flag.withDescription("Extra ~1 KiB keys in etcd, so the snapshot has some size"),
    ),
  },
  (flags) =>
    Effect.promise(() => import("../programs/demo/demo.ts"))
      .pipe(
        Effect.flatMap(({ runDemo }) =>
          Effect.scoped(
            runDemo({
              workDir: flags.workDir._tag === "Some" ? flags.workDir.value : undefined,
              keep: flags.keep,
              seed: flags.seed,
              bulkKeys: flags.keys,
              entry,
            }),
          ),
        ),
      )
      .pipe(
        Effect.asVoid,
        // The demo prints its own account; only warnings and errors of the parts it runs in-process.
        Effect.provideService(References.MinimumLogLevel, "Warn"),
      ),
).pipe(
  Command.withDescription(
    "Run the whole backup cycle on this machine with no cluster: a TLS etcd 3.5 and a simulated OpenShift API, the operator rendering the backup pod, its init containers run from the rendered YAML, verify --test-restore, a re-render after a new revision; then the automated loop: a BackupPolicy makes the operator create backup pods itself, run locally (verify, upload) into a local Swift, list shows them, retention prunes, and the policy's status and alert metric read healthy.",
  ),
)
