import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
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
