/**
 * backup-resources refuses an API object that is not the one it asked for: a ConfigMap or Secret
 * whose `metadata.name` or `metadata.namespace` differs from the request (an API server or proxy
 * answering with another revision's object, or another namespace's) would otherwise be staged
 * under the requested name. The error names what was asked and what came back; nothing is staged.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import type { OperandName } from "../../../src/domain/operands.ts"
import { backupResources } from "../../../src/programs/backup/backup-resources.ts"
import { Kube } from "../../../src/services/kube/kube.ts"
import { simulatedTransport } from "../../../src/simulation/simulated-transport.ts"
import { loadedCluster, revisions, walk } from "./backup-resources-harness.ts"
import { scopedTempDir } from "../../support/temp-dir.ts"

/** The simulated cluster behind a transport that answers the request for `name` with `doctor` applied to its metadata. */
const doctored = (name: string, doctor: (metadata: Record<string, unknown>) => Record<string, unknown>) => {
  const inner = simulatedTransport(loadedCluster().cluster)
  return Kube.fromTransport({
    ...inner,
    request: (request) =>
      Effect.map(inner.request(request), (body) => {
        if (request.name !== name) return body
        const object = body as { readonly metadata: Record<string, unknown> }
        return { ...object, metadata: doctor(object.metadata) }
      }),
  })
}

const run = (kube: Layer.Layer<Kube>, operand: OperandName) =>
  Effect.gen(function* () {
    const backupDir = join(yield* scopedTempDir("res-identity"), "backup")
    const exit = yield* Effect.exit(
      backupResources({ backupDir, operand, revision: revisions[operand] }).pipe(Effect.provide(Layer.merge(kube, NodeServices.layer))),
    )
    assert.isTrue(Exit.isFailure(exit), "expected backup-resources to fail")
    const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
    const staging = join(backupDir, ".cluster-backup", "staging")
    assert.deepStrictEqual(existsSync(staging) ? [...walk(staging).keys()].filter((p) => p.includes("-pod-")) : [], [])
    assert.isFalse(existsSync(join(backupDir, ".cluster-backup", `resources-${operand}.json`)))
    return (reason as { error: { _tag: string; message: string; requested: string; returned: string } }).error
  })

describe("backup-resources: the object the API returns is the one requested", () => {
  it.effect.each<{
    readonly name: string
    readonly object: string
    readonly doctor: (metadata: Record<string, unknown>) => Record<string, unknown>
    readonly operand: OperandName
    readonly requested?: string
    readonly returned?: string
    readonly says?: string
  }>([
    {
      name: "refuses a ConfigMap of another name (another revision's)",
      object: "config-6",
      doctor: (m) => ({ ...m, name: "config-5" }),
      operand: "kube-scheduler",
      requested: "configmap openshift-kube-scheduler/config-6",
      returned: "configmap openshift-kube-scheduler/config-5",
      says: "asked the API for configmap openshift-kube-scheduler/config-6 and it returned configmap openshift-kube-scheduler/config-5",
    },
    {
      name: "refuses a Secret of another namespace",
      object: "localhost-recovery-client-token-6",
      doctor: (m) => ({ ...m, namespace: "openshift-etcd" }),
      operand: "kube-scheduler",
      requested: "secret openshift-kube-scheduler/localhost-recovery-client-token-6",
      returned: "secret openshift-etcd/localhost-recovery-client-token-6",
    },
    {
      name: "refuses a Secret without a namespace",
      object: "etcd-all-certs-3",
      doctor: ({ namespace: _namespace, ...m }) => m,
      operand: "etcd",
      returned: "secret (no namespace)/etcd-all-certs-3",
    },
    {
      name: "refuses a revision-status ConfigMap of another revision",
      object: "revision-status-3",
      doctor: (m) => ({ ...m, name: "revision-status-2" }),
      operand: "etcd",
      requested: "configmap openshift-etcd/revision-status-3",
    },
  ])("$name", ({ object, doctor, operand, requested, returned, says }) =>
    Effect.gen(function* () {
      const error = yield* run(doctored(object, doctor), operand)
      assert.strictEqual(error._tag, "ApiObjectMismatch")
      if (requested !== undefined) assert.strictEqual(error.requested, requested)
      if (returned !== undefined) assert.strictEqual(error.returned, returned)
      if (says !== undefined) assert.include(error.message, says)
    }),
  )
})
