import { describe, expect, it } from "vitest"
import type { BackupManifest } from "../../src/domain/backup-manifest.ts"
import { listedJson, listTable } from "../../src/cli/list-command.ts"
import type { ListedBackup } from "../../src/programs/store/store-list.ts"

const manifest = {
  createdAt: "2026-01-02T03:04:05Z",
  verdict: "consistent",
  etcd: { revision: 4242 },
  revisions: { requested: { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 } },
  files: { snapshot: { size: 10 }, resources: { size: 20 } },
  cluster: { openshiftVersion: "4.16.3", clusterId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", etcdVersion: "3.5.16" },
} as unknown as BackupManifest

const listed = (m: BackupManifest | undefined): ListedBackup =>
  ({ completeness: { _tag: "Complete", id: "2026-01-02_030405", bytes: 30 }, manifest: m }) as unknown as ListedBackup

describe("list shows the OpenShift version a backup's manifest records", () => {
  it("in the table's OPENSHIFT column, '-' when the manifest records none", () => {
    const table = listTable([listed(manifest), listed({ ...manifest, cluster: undefined } as unknown as BackupManifest)]).split("\n")
    expect(table[0]).toMatch(/VERDICT\s+OPENSHIFT\s+ETCD-REV/)
    expect(table[1]).toMatch(/consistent\s+4\.16\.3\s+4242/)
    expect(table[2]).toMatch(/consistent\s+-\s+4242/)
  })

  it("and in --json with the cluster ID", () => {
    expect(listedJson(listed(manifest))).toMatchObject({ openshiftVersion: "4.16.3", clusterId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" })
    expect(listedJson(listed(undefined))).toMatchObject({ openshiftVersion: null, clusterId: null })
  })
})

describe("list shows whether verify passed a backup", () => {
  it("in the VERIFIED column and the json's verified and verifyMode", () => {
    const checked = { ...listed(manifest), verified: "TestRestore" } as ListedBackup
    const table = listTable([checked, listed(manifest)]).split("\n")
    expect(table[0]).toMatch(/^ID\s+STATE\s+VERIFIED\s+CREATED/)
    expect(table[1]).toMatch(/complete\s+test-restore\s+2026-01-02T03:04:05Z/)
    expect(table[2]).toMatch(/complete\s+no\s+2026-01-02T03:04:05Z/)
    expect(listedJson(checked)).toMatchObject({ verified: true, verifyMode: "TestRestore" })
    expect(listedJson(listed(manifest))).toMatchObject({ verified: false, verifyMode: null })
  })
})
