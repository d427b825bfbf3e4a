/**
 * Validates deploy/'s manifests: built-in kinds through k8s-validate.ts, custom resources against the
 * openAPIV3Schema of their CRD (the project's own in deploy/, the prometheus-operator's in test/support/crds/),
 * with the API server's defaults and CEL rules applied as in crd-cel.ts.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import * as YAML from "yaml"
import { celProblems, withDefaults } from "./crd-cel.ts"
import { K8sValidationError, validateK8sObject } from "./k8s-validate.ts"
import { loadCrdSchema, type OpenApiSchema, openApiProblems } from "./kube-openapi-validator.ts"
import { repoRoot } from "./tools.ts"

const crdFiles = [
  join(repoRoot, "deploy", "backup-policy-crd.yaml"),
  ...readdirSync(join(repoRoot, "test", "support", "crds")).map((f) => join(repoRoot, "test", "support", "crds", f)),
]
const versionOf = (file: string): string => (file.includes("monitoring.coreos.com") ? "v1" : "v1alpha1")
const customKinds = new Map<string, OpenApiSchema>(
  crdFiles.map((file) => {
    const crd = loadCrdSchema(file, versionOf(file))
    return [`${crd.group}/${versionOf(file)}/${crd.kind}`, crd.schema] as const
  }),
)

/** Every problem with a custom resource of a known CRD; undefined when `obj` is not one. */
export const customResourceProblems = (obj: Record<string, unknown>): ReadonlyArray<string> | undefined => {
  const schema = customKinds.get(`${String(obj.apiVersion)}/${String(obj.kind)}`)
  if (schema === undefined) return undefined
  return [...openApiProblems(schema, obj), ...celProblems(schema, withDefaults(schema, obj))]
}

/** Every document of a (multi-document) YAML text, each validated; throws on the first invalid one. */
export const validateManifestDocuments = (text: string): ReadonlyArray<unknown> =>
  YAML.parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0)
      throw new K8sValidationError(
        "YAML document",
        doc.errors.map((e) => e.message),
      )
    const obj = doc.toJS() as Record<string, unknown> | null
    if (obj === null) return []
    const custom = customResourceProblems(obj)
    if (custom === undefined) validateK8sObject(obj)
    else if (custom.length > 0) throw new K8sValidationError(`${String(obj.kind)}`, custom)
    return [obj]
  })
