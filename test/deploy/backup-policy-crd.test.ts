import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
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

const policy = (spec: Record<string, unknown>, status?: Record<string, unknown>) => ({
  apiVersion: "backup.openshift.io/v1alpha1",
  kind: "BackupPolicy",
  metadata: { name: "nightly" },
  spec,
  ...(status === undefined ? {} : { status }),
})
/** What the API server would say about a policy: structural problems, then (defaults applied) broken CEL rules. */
const problems = (obj: unknown) => [...openApiProblems(schema, obj), ...celProblems(schema, withDefaults(schema, obj))]

const s3 = { s3: { bucket: "etcd-backups", prefix: "prod", region: "eu-central-1", credentialsSecret: { name: "backup-s3" } } }
const pvc = { pvc: { claimName: "etcd-backups", subPath: "cluster-a" } }

const good = {
  "nightly to S3 in Berlin time, with retention and test restores": policy(
    {
      schedule: "30 2 * * *",
      timeZone: "Europe/Berlin",
      store: s3,
      retention: { keepLast: 7, keepDaily: 14, keepWeekly: 8, keepMonthly: 12, maxAge: "400d", maxTotalSize: "50Gi" },
      verify: "TestRestore",
    },
    {
      observedGeneration: 3,
      conditions: [
        { type: "Ready", status: "True", reason: "Healthy", message: "last backup 2h ago", lastTransitionTime: "2026-05-01T00:30:00Z", observedGeneration: 3 },
        { type: "Degraded", status: "False", reason: "AsExpected", message: "", lastTransitionTime: "2026-05-01T00:30:00Z" },
      ],
      lastScheduleTime: "2026-05-01T00:30:00Z",
      nextScheduleTime: "2026-05-02T00:30:00Z",
      lastSuccessfulBackup: {
        id: "2026-05-01_003000",
        location: "s3://etcd-backups/prod/2026-05-01_003000",
        time: "2026-05-01T00:31:12Z",
        pod: "cluster-backup-7kq2x",
        revisions: { etcd: 7, kubeApiserver: 12, kubeControllerManager: 5, kubeScheduler: 4 },
        etcdRevision: 918273,
        snapshotBytes: 104857600,
        resourcesBytes: 81920,
        totalBytes: 104939520,
        verdict: "consistent",
        verified: true,
      },
      lastFailure: { time: "2026-04-30T00:30:40Z", pod: "cluster-backup-x1", reason: "StoreUnreachable", message: "PUT s3://... timed out" },
    },
  ),
  "revision changes only, into a PVC": policy({ onRevisionChange: true, minInterval: "30m", store: pvc }),
  "a schedule and a PVC, nothing else": policy({ schedule: "0 */6 * * *", store: { pvc: { claimName: "backups" } } }),
  "S3 with web identity and a private CA, suspended": policy({
    schedule: "0 * * * *",
    suspend: true,
    store: {
      s3: {
        bucket: "b.example",
        endpoint: "https://s3.example:8443",
        forcePathStyle: true,
        caBundleConfigMap: { name: "s3-ca" },
        webIdentityRoleARN: "arn:aws:iam::123456789012:role/etcd-backup",
      },
    },
  }),
}

const bad: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
  ["both store kinds", { schedule: "0 * * * *", store: { ...s3, ...pvc } }, "exactly one store kind"],
  ["no store kind", { schedule: "0 * * * *", store: {} }, "exactly one store kind"],
  ["no store", { schedule: "0 * * * *" }, 'missing required field "store"'],
  ["no trigger", { store: pvc }, "needs a trigger"],
  ["onRevisionChange false and no schedule", { onRevisionChange: false, store: pvc }, "needs a trigger"],
  ["keepLast 0", { schedule: "0 * * * *", store: pvc, retention: { keepLast: 0 } }, "below the minimum 1"],
  ["empty retention", { schedule: "0 * * * *", store: pvc, retention: {} }, "at least one rule"],
  ["empty timeZone", { schedule: "0 * * * *", timeZone: "", store: pvc }, "shorter than 1"],
  ["unknown verify mode", { schedule: "0 * * * *", store: pvc, verify: "Quick" }, "is not one of"],
  ["an escaping subPath", { schedule: "0 * * * *", store: { pvc: { claimName: "c", subPath: "a/../../etc" } } }, "no '..' component"],
  ["an absolute subPath", { schedule: "0 * * * *", store: { pvc: { claimName: "c", subPath: "/etc" } } }, "no '..' component"],
  [
    "static keys and web identity",
    { schedule: "0 * * * *", store: { s3: { ...s3.s3, webIdentityRoleARN: "arn:aws:iam::123456789012:role/r" } } },
    "are alternatives",
  ],
  ["a misspelt field", { schedule: "0 * * * *", store: pvc, scheduel: "0 * * * *" }, "unknown field"],
  ["minInterval in words", { onRevisionChange: true, minInterval: "1 hour", store: pvc }, "does not match"],
  ["maxTotalSize in GB", { schedule: "0 * * * *", store: pvc, retention: { maxTotalSize: "50GB" } }, "does not match"],
  ["a negative history limit", { schedule: "0 * * * *", store: pvc, failedPodsHistoryLimit: -1 }, "below the minimum 0"],
  ["an S3 bucket name with capitals", { schedule: "0 * * * *", store: { s3: { bucket: "Backups" } } }, "does not match"],
]

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
