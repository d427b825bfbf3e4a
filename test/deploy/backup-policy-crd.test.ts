import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fc } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { defaultBackoff } from "../../src/domain/backup-schedule.ts"
import { defaultOperands } from "../../src/domain/operands.ts"
import { emptyPolicyMemory, policyDesiredState } from "../../src/domain/policy-desired-state.ts"
import { backupRequestAnnotation } from "../../src/domain/policy-pod.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"
import { hour, podsArb, revisions, t0 } from "../domain/policy-pods.ts"
import { bad, good, policy, s3 } from "../support/backup-policy-examples.ts"
import { celProblems, celRules, celSyntaxProblems, withDefaults } from "../support/crd-cel.ts"
import { validateK8sObject } from "../support/k8s-validate.ts"
import { loadCrdSchema, type OpenApiSchema, openApiProblems } from "../support/kube-openapi-validator.ts"
import { repoRoot } from "../support/tools.ts"

const file = join(repoRoot, "deploy", "backup-policy-crd.yaml")
interface Column {
  readonly name: string
  readonly jsonPath: string
}
const crd = YAML.parse(readFileSync(file, "utf8")) as {
  metadata: { name: string }
  spec: Record<string, unknown> & { versions: Array<Record<string, unknown> & { additionalPrinterColumns: Array<Column> }> }
}
const { schema } = loadCrdSchema(file, "v1alpha1")

/** What the API server would say about a policy: structural problems, then (defaults applied) broken CEL rules. */
const problems = (obj: unknown) => [...openApiProblems(schema, obj), ...celProblems(schema, withDefaults(schema, obj))]

describe("BackupPolicy CRD", () => {
  it("is a valid apiextensions.k8s.io/v1 CustomResourceDefinition", () => {
    expect(() => validateK8sObject(crd)).not.toThrow()
  })

  it("is cluster-scoped BackupPolicy in backup.openshift.io/v1alpha1 with a status subresource", () => {
    expect(crd.metadata.name).toBe("backuppolicies.backup.openshift.io")
    expect(crd.spec).toMatchObject({
      group: "backup.openshift.io",
      scope: "Cluster",
      names: { kind: "BackupPolicy", plural: "backuppolicies", singular: "backuppolicy", shortNames: ["cbp"] },
    })
    expect(crd.spec.versions).toHaveLength(1)
    expect(crd.spec.versions[0]).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } })
  })

  it("prints Schedule, Last Success, Next Run, State and Age, each from a field the schema declares", () => {
    const columns = crd.spec.versions[0].additionalPrinterColumns as Array<{ name: string; jsonPath: string }>
    expect(columns.map((c) => c.name)).toEqual(["Schedule", "Last Success", "Next Run", "State", "Age"])
    for (const { jsonPath } of columns.filter((c) => !c.jsonPath.startsWith(".metadata"))) {
      const path = jsonPath
        .replace(/\[\?.*\]/, "")
        .split(".")
        .filter(Boolean)
      const declared = path.reduce<OpenApiSchema | undefined>((s, key) => s?.properties?.[key] ?? s?.items?.properties?.[key], schema)
      expect(declared, jsonPath).toBeDefined()
    }
  })

  it("has defaults for the optional knobs", () => {
    const defaulted = withDefaults(schema, policy({ schedule: "0 * * * *", store: s3 })) as { spec: Record<string, unknown> }
    expect(defaulted.spec).toMatchObject({
      onRevisionChange: false,
      minInterval: "1h",
      suspend: false,
      verify: "Full",
      successfulPodsHistoryLimit: 3,
      failedPodsHistoryLimit: 1,
      activeDeadlineSeconds: 3600,
      store: { s3: { forcePathStyle: false } },
    })
  })

  it("admits every schedule the operator takes, the shortest descriptor (@daily) included", () => {
    for (const schedule of ["@daily", "@hourly", "0 * * * *"]) expect(problems(policy({ schedule, store: s3 })), schedule).toEqual([])
    expect(problems(policy({ schedule: "@dai", store: s3 })).join("\n")).toMatch(/schedule/)
  })

  it("every CEL rule parses and carries a message", () => {
    expect(celRules(schema).length).toBeGreaterThanOrEqual(5)
    expect(celSyntaxProblems(schema)).toEqual([])
    for (const { rule } of celRules(schema)) expect(rule.message, rule.rule).toBeTruthy()
  })

  it.each(Object.entries(good))("accepts a policy: %s", (_, obj) => {
    expect(problems(obj)).toEqual([])
  })

  it.each(bad)("refuses a policy with %s", (_, spec, expected) => {
    const found = problems(policy(spec))
    expect(found.join("\n")).toContain(expected)
  })
})

/** A printer column's value: kubectl's JSONPath for the `.a.b` and `[?(@.k=="v")]` forms the CRD uses. */
const column = (jsonPath: string, obj: unknown): unknown => {
  let at: unknown = obj
  for (const [, key, filterKey, filterValue] of jsonPath.matchAll(/\.([A-Za-z]+)|\[\?\(@\.(\w+)=="([^"]+)"\)\]/g)) {
    if (key !== undefined) at = (at as Record<string, unknown> | undefined)?.[key]
    else at = Array.isArray(at) ? at.find((item) => (item as Record<string, unknown>)[filterKey!] === filterValue) : undefined
  }
  return at
}

describe("BackupPolicy CRD and the status the operator writes", () => {
  const columns = crd.spec.versions[0]!.additionalPrinterColumns
  const jsonPathOf = (name: string) => columns.find((c) => c.name === name)!.jsonPath
  const statusSchema = schema.properties!.status!
  const worldArb = fc.record({
    spec: fc.record({
      schedule: fc.constantFrom("0 * * * *", "*/15 * * * *", "30 2 * * *", "not a cron"),
      timeZone: fc.constantFrom("UTC", "Europe/Berlin", "America/New_York"),
      suspend: fc.boolean(),
      onRevisionChange: fc.boolean(),
      verify: fc.constantFrom("None", "Full", "TestRestore"),
      successfulPodsHistoryLimit: fc.integer({ min: 0, max: 4 }),
      failedPodsHistoryLimit: fc.integer({ min: 0, max: 3 }),
    }),
    pods: podsArb("nightly"),
    later: fc.integer({ min: 0, max: 6 * hour }),
    revisionsReadable: fc.boolean(),
    // The newest pod started for a person's request (backup-now): the status records what it came to in lastRequest.
    requested: fc.boolean(),
  })

  it("accepts every status the operator writes (conditions' reasons, times, sizes), and the printer columns read it", () => {
    fc.assert(
      fc.property(worldArb, ({ spec, pods: kept, later, revisionsReadable, requested }) => {
        const request = requested && kept.length > 0 ? { [backupRequestAnnotation]: "r1" } : undefined
        const pods = request === undefined ? kept : kept.map((p, i) => (i === kept.length - 1 ? { ...p, annotations: { ...p.annotations, ...request } } : p))
        const object = {
          metadata: {
            name: "nightly",
            uid: "uid-nightly",
            generation: 1,
            creationTimestamp: formatRfc3339Utc(t0 - 48 * hour),
            resourceVersion: "1",
            ...(request === undefined ? {} : { annotations: request }),
          },
          spec: { store: { pvc: { claimName: "backups" } }, ...spec },
        }
        const desired = policyDesiredState(
          {
            now: t0 + later,
            revisions: revisionsReadable ? Result.succeed(revisions) : Result.fail([]),
            policies: [object],
            pods,
            memory: emptyPolicyMemory,
          },
          {
            namespace: "openshift-etcd",
            podOptions: { image: "quay.io/example/cluster-backup:1" },
            settleMs: 0,
            table: defaultOperands,
            backoff: defaultBackoff,
          },
        )
        const status = JSON.parse(JSON.stringify(desired.policies[0]!.status)) as Record<string, unknown>
        expect(openApiProblems(statusSchema, status, "$.status")).toEqual([])
        if (request !== undefined && pods.at(-1)!.phase !== "Running")
          expect(Object.keys(status.lastRequest as object)).toContain(pods.at(-1)!.phase === "Succeeded" ? "backup" : "failure")
        const written = { ...object, status }
        expect(column(jsonPathOf("State"), written)).toMatch(/^[A-Za-z]+$/)
        const succeeded = pods.some((p) => p.phase === "Succeeded")
        expect(column(jsonPathOf("Last Success"), written) !== undefined, "Last Success").toBe(succeeded)
        const scheduled = spec.schedule !== "not a cron" && !spec.suspend
        if (scheduled) expect(column(jsonPathOf("Next Run"), written), "Next Run").toBeDefined()
        for (const name of ["Last Success", "Next Run"]) {
          const value = column(jsonPathOf(name), written)
          if (value !== undefined) expect(Number.isNaN(Date.parse(value as string)), name).toBe(false)
        }
      }),
      { numRuns: 200 },
    )
  })

  it("the status schema refuses a condition reason with a space or a hyphen (so the check above can fail)", () => {
    const condition = { type: "Ready", status: "False", lastTransitionTime: "2026-12-02T10:00:00Z", message: "m" }
    expect(openApiProblems(statusSchema, { conditions: [{ ...condition, reason: "Backup failed" }] }).join("\n")).toContain("does not match")
    expect(openApiProblems(statusSchema, { conditions: [{ ...condition, reason: "Backup-Failed" }] }).join("\n")).toContain("does not match")
  })
})
