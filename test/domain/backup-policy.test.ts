import { join } from "node:path"
import { fc, test } from "@fast-check/vitest"
import { Result, type Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  BackupFailure,
  BackupPolicySpec,
  BackupPolicyStatus,
  decodeBackupPolicy,
  PolicyCondition,
  PolicyRetention,
  PolicyStore,
  PvcStore,
  S3Store,
  SuccessfulBackup,
} from "../../src/domain/backup-policy.ts"
import { good, policy, pvc } from "../support/backup-policy-examples.ts"
import { loadCrdSchema, type OpenApiSchema } from "../support/kube-openapi-validator.ts"
import { repoRoot } from "../support/tools.ts"

const { schema: crd } = loadCrdSchema(join(repoRoot, "deploy", "backup-policy-crd.yaml"), "v1alpha1")
const at = (path: ReadonlyArray<string>): OpenApiSchema | undefined =>
  path.reduce<OpenApiSchema | undefined>((s, key) => s?.properties?.[key] ?? s?.items?.properties?.[key], crd)
const keys = (s: { readonly fields: Readonly<Record<string, Schema.Top>> }) => Object.keys(s.fields).sort()

describe("BackupPolicy Schema", () => {
  it.each([
    ["spec", BackupPolicySpec],
    ["spec.store", PolicyStore],
    ["spec.store.s3", S3Store],
    ["spec.store.pvc", PvcStore],
    ["spec.retention", PolicyRetention],
    ["status", BackupPolicyStatus],
    ["status.conditions", PolicyCondition],
    ["status.lastSuccessfulBackup", SuccessfulBackup],
    ["status.lastFailure", BackupFailure],
  ] as const)("%s has exactly the CRD's fields", (path, struct) => {
    const node = at(path.split("."))
    const declared = node?.items ?? node
    expect(Object.keys(declared?.properties ?? {}).sort()).toEqual(keys(struct))
    const required = struct.ast.propertySignatures.filter((p) => !p.type.context?.isOptional).map((p) => String(p.name))
    expect([...(declared?.required ?? [])].sort()).toEqual(required.sort())
  })

  it.each(Object.entries(good))("decodes a policy the CRD accepts: %s", (_, obj) => {
    expect(Result.isSuccess(decodeBackupPolicy(obj))).toBe(true)
  })

  it("refuses a bad field, naming it", () => {
    const r = decodeBackupPolicy(policy({ schedule: "0 * * * *", store: pvc, verify: "Quick", retention: { keepLast: 0 } }))
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(String(r.failure)).toContain("verify")
      expect(String(r.failure)).toContain("keepLast")
    }
  })

  test.prop([fc.integer({ min: -5, max: 100 }), fc.constantFrom("None", "Full", "TestRestore", "full", "")])(
    "accepts history limits and verify modes exactly where the CRD does",
    (limit, verify) => {
      const ok = Result.isSuccess(decodeBackupPolicy(policy({ schedule: "0 * * * *", store: pvc, failedPodsHistoryLimit: limit, verify })))
      const crdAccepts = limit >= 0 && (at(["spec", "verify"])?.enum ?? []).includes(verify)
      expect(ok).toBe(crdAccepts)
    },
  )
})
