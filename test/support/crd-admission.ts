/**
 * The simulated cluster's admission from the CRDs in deploy/ (the API server's part the simulation leaves to tests, as
 * the schema validators are dev dependencies): defaults applied, then the structural schema and the CEL rules checked.
 */
import { join } from "node:path"
import { Result } from "effect"
import { invalid } from "../../src/simulation/simulated-validation.ts"
import type { Admission, Obj } from "../../src/simulation/simulated-cluster.ts"
import { celProblems, withDefaults } from "./crd-cel.ts"
import { loadCrdSchema, openApiProblems } from "./kube-openapi-validator.ts"
import { repoRoot } from "./tools.ts"

/** A validator's `$.spec.x: message` line as the API's cause: field `spec.x`. */
const asCause = (problem: string) => {
  const at = problem.indexOf(": ")
  return { field: problem.slice(0, at).replace(/^\$\.?/, ""), message: problem.slice(at + 2) }
}

/** Admission for the custom resources of `files` (deploy/-relative); other types pass as they are. */
export const crdAdmission = (files: ReadonlyArray<{ readonly file: string; readonly version: string }>): Admission => {
  const crds = files.map(({ file, version }) => loadCrdSchema(join(repoRoot, "deploy", file), version))
  return (type, object, name) => {
    const crd = crds.find((c) => c.group === type.group && c.plural === type.resource)
    if (crd === undefined) return Result.succeed(object)
    const defaulted = withDefaults(crd.schema, object) as Obj
    const problems = [...openApiProblems(crd.schema, defaulted), ...celProblems(crd.schema, defaulted)]
    return problems.length === 0 ? Result.succeed(defaulted) : Result.fail(invalid(type, name, problems.map(asCause)))
  }
}

/** The BackupPolicy CRD's admission. */
export const backupPolicyAdmission = (): Admission => crdAdmission([{ file: "backup-policy-crd.yaml", version: "v1alpha1" }])
