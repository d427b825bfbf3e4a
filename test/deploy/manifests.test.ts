import { readFileSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { validateManifestDocuments } from "../support/manifest-validate.ts"
import { repoRoot } from "../support/tools.ts"

const deployDir = join(repoRoot, "deploy")
const kustomization = YAML.parse(readFileSync(join(deployDir, "kustomization.yaml"), "utf8")) as { resources: Array<string> }
// biome-ignore lint/suspicious/noExplicitAny: the assertions walk the parsed manifests ad hoc
const documents = (file: string) => validateManifestDocuments(readFileSync(join(deployDir, file), "utf8")) as Array<Record<string, any>>
const all = kustomization.resources.flatMap(documents)

describe("deploy manifests", () => {
  it("the kustomization lists every manifest in deploy/", () => {
    const manifests = readdirSync(deployDir)
      .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
      .sort()
    expect([...kustomization.resources].sort()).toEqual(manifests)
  })

  it.each(kustomization.resources)("%s validates against the Kubernetes schema", (file) => {
    expect(documents(file).length).toBeGreaterThan(0)
  })

  it("runs the operator as a 2-replica unprivileged Deployment with probes and resource bounds", () => {
    const d = all.find((o) => o.kind === "Deployment")!
    expect(d.spec.replicas).toBe(2)
    const pod = d.spec.template.spec
    const c = pod.containers[0]
    expect(pod.securityContext.runAsNonRoot).toBe(true)
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    expect(pod.hostNetwork).toBeUndefined()
    expect(JSON.stringify(pod)).not.toContain("hostPath")
    expect(c.livenessProbe.httpGet.path).toBe("/healthz")
    expect(c.readinessProbe.httpGet.path).toBe("/readyz")
    expect(c.resources.requests).toBeDefined()
    expect(c.resources.limits.memory).toBeDefined()
    expect(pod.serviceAccountName).toBe("cluster-backup-operator")
  })

  it("no RBAC rule uses a wildcard", () => {
    for (const role of all.filter((o) => o.kind === "Role" || o.kind === "ClusterRole")) {
      for (const rule of role.rules) {
        for (const key of ["apiGroups", "resources", "verbs", "resourceNames"]) expect(rule[key] ?? []).not.toContain("*")
      }
    }
  })
})
