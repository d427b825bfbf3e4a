import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { hold } from "../../../src/programs/backup/hold.ts"
import { tempDir } from "../../support/temp-dir.ts"

const dir = tempDir("hold-program")

/** The messages `hold` logs for a 1 ms hold of `dir`, with the namespace file at `namespaceFile`. */
const holdMessages = (namespaceFile: string) =>
  Effect.gen(function* () {
    const messages: Array<string> = []
    const capture = Logger.make(({ message }) => {
      messages.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    yield* hold({ backupDir: dir, durationMs: 1, namespaceFile }).pipe(Effect.provide(Logger.layer([capture])))
    return messages
  }).pipe(Effect.provide(NodeServices.layer))

describe("hold", () => {
  it.live("its oc cp line names the pod's own namespace (a --namespace other than openshift-etcd)", () =>
    Effect.gen(function* () {
      const file = join(dir, "namespace")
      writeFileSync(file, "backups-test")
      const messages = yield* holdMessages(file)
      expect(messages.find((m) => m.includes("oc cp"))).toContain(`'oc cp -c backup-hold backups-test/<pod>:${dir} ./backup'`)
    }),
  )

  it.live("without a ServiceAccount mount it leaves the namespace for the reader to fill in", () =>
    Effect.gen(function* () {
      const messages = yield* holdMessages(join(dir, "absent"))
      expect(messages.find((m) => m.includes("oc cp"))).toContain(`'oc cp -c backup-hold <namespace>/<pod>:${dir} ./backup'`)
    }),
  )
})
