import { describe, expect, it } from "vitest"
import type { BackupManifest } from "../../src/domain/backup-manifest.ts"
import { listedJson, listTable, strayFormWarnings } from "../../src/cli/list-command.ts"
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
  ({ completeness: { _tag: "Complete", id: "2026-01-02_030405", bytes: 30, extra: [], strayForms: [] }, manifest: m, signed: false }) as unknown as ListedBackup

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
    expect(table[0]).toMatch(/^ID\s+STATE\s+VERIFIED\s+ENCRYPTED\s+SIGNED\s+CREATED/)
    expect(table[1]).toMatch(/complete\s+test-restore\s+no\s+no\s+2026-01-02T03:04:05Z/)
    expect(table[2]).toMatch(/complete\s+no\s+no\s+no\s+2026-01-02T03:04:05Z/)
    expect(listedJson(checked)).toMatchObject({ verified: true, verifyMode: "TestRestore" })
    expect(listedJson(listed(manifest))).toMatchObject({ verified: false, verifyMode: null })
  })
})

describe("list shows the other forms of a complete backup's files left beside them", () => {
  const stray = (file: string, encrypted: boolean) => ({ key: `p/2026-01-02_030405/${file}`, file, size: 7, modifiedAt: 1, encrypted })
  const withStrays = (strays: ReadonlyArray<ReturnType<typeof stray>>): ListedBackup =>
    ({
      ...listed(manifest),
      completeness: { _tag: "Complete", id: "2026-01-02_030405", bytes: 30, newestAt: 1, extra: strays.map((o) => o.file), strayForms: strays },
    }) as ListedBackup

  it("plain copies beside the .age files (the file in the clear) and .age copies beside plain files: in STATE, --json and a warning", () => {
    const plain = withStrays([stray("snapshot_2026-01-02_030405.db", false), stray("static_kuberesources_2026-01-02_030405.tar.gz", false)])
    const age = withStrays([stray("snapshot_2026-01-02_030405.db.age", true)])
    const clean = withStrays([])
    const table = listTable([plain, age, clean]).split("\n")
    expect(table[1]).toMatch(/ complete, 2 plain copies beside\s+no\s+no\s+no\s+2026-01-02T03:04:05Z/)
    expect(table[2]).toMatch(/ complete, 1 \.age copy beside\s+no\s+no\s+no\s+2026-01-02T03:04:05Z/)
    expect(table[3]).toMatch(/ complete\s+no\s+no\s+no\s+2026-01-02T03:04:05Z/)
    expect(listedJson(plain).strayForms).toEqual([
      { file: "snapshot_2026-01-02_030405.db", size: 7, encrypted: false },
      { file: "static_kuberesources_2026-01-02_030405.tar.gz", size: 7, encrypted: false },
    ])
    expect(listedJson(clean).strayForms).toEqual([])
    const warnings = strayFormWarnings([plain, age, clean])
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toContain(
      "plain copies of files it stores encrypted (snapshot_2026-01-02_030405.db, static_kuberesources_2026-01-02_030405.tar.gz: in the clear)",
    )
    expect(warnings[1]).toContain(".age copies of files it stores plain (snapshot_2026-01-02_030405.db.age)")
    expect(warnings[0]).toContain("prune removes them")
  })
})

describe("list shows a backup whose manifest the store archived", () => {
  it("as incomplete with the reason in the table, and archived in --json", () => {
    const archived = {
      completeness: {
        _tag: "Incomplete",
        id: "2026-01-02_030405",
        bytes: 30,
        newestAt: 0,
        reasons: ["backup-manifest.json is unreadable: the store archived it (InvalidObjectState): restore it (S3 RestoreObject) to read it"],
        unreadableManifest: true,
        archivedManifest: true,
      },
      manifest: undefined,
    } as unknown as ListedBackup
    expect(listTable([archived])).toMatch(/incomplete: backup-manifest\.json is unreadable: the store archived it/)
    expect(listedJson(archived)).toMatchObject({ complete: false, archived: true })
    expect(listedJson(listed(manifest))).toMatchObject({ archived: false })
  })
})

describe("list shows whether a backup is stored encrypted and signed", () => {
  const fingerprint = (c: string) => c.repeat(64)
  const encrypted = (snapshot: boolean, resources: boolean) =>
    ({
      ...manifest,
      files: {
        snapshot: { size: 10, ...(snapshot ? { encrypted: { recipientsSha256: fingerprint("a") } } : {}) },
        resources: { size: 20, ...(resources ? { encrypted: { recipientsSha256: fingerprint("b") } } : {}) },
      },
    }) as unknown as BackupManifest

  it("ENCRYPTED: age for both files, the one stored encrypted, or no; SIGNED: whether its signature is stored; '-' without a manifest", () => {
    const rows = [
      { ...listed(encrypted(true, true)), signed: true },
      listed(encrypted(false, true)),
      listed(encrypted(true, false)),
      listed(encrypted(false, false)),
    ] as ReadonlyArray<ListedBackup>
    const incomplete = {
      completeness: { _tag: "Incomplete", id: "2026-01-03_000000", bytes: 1, newestAt: 0, reasons: ["no backup-manifest.json"] },
      manifest: undefined,
      signed: false,
    } as unknown as ListedBackup
    const table = listTable([...rows, incomplete]).split("\n")
    expect(table[1]).toMatch(/complete\s+no\s+age\s+yes\s+2026/)
    expect(table[2]).toMatch(/complete\s+no\s+resources\s+no\s+2026/)
    expect(table[3]).toMatch(/complete\s+no\s+snapshot\s+no\s+2026/)
    expect(table[4]).toMatch(/complete\s+no\s+no\s+no\s+2026/)
    expect(table[5]).toMatch(/\s-\s+-\s+-\s+-/)
    expect(listedJson(rows[0]!)).toMatchObject({ encryption: { snapshot: fingerprint("a"), resources: fingerprint("b") }, signed: true })
    expect(listedJson(rows[1]!)).toMatchObject({ encryption: { snapshot: null, resources: fingerprint("b") }, signed: false })
    expect(listedJson(incomplete)).toMatchObject({ encryption: null, signed: false })
  })
})

describe("list --trusted-key says whether a trusted key signed each complete backup", () => {
  it("SIGNED trusted or untrusted, and in --json trusted with the reason; null without the keys", () => {
    const signed = { ...listed(manifest), signed: true } as ListedBackup
    const other = { ...listed(manifest), completeness: { ...listed(manifest).completeness, id: "2026-01-03_000000" } } as ListedBackup
    const trust = new Map([
      ["2026-01-02_030405", { id: "2026-01-02_030405", trusted: true as const, keyId: "k1" }],
      ["2026-01-03_000000", { id: "2026-01-03_000000", trusted: false as const, why: "its manifest is not signed" }],
    ])
    const table = listTable([signed, other], trust).split("\n")
    expect(table[1]).toMatch(/complete\s+no\s+no\s+trusted\s+2026/)
    expect(table[2]).toMatch(/complete\s+no\s+no\s+untrusted\s+2026/)
    expect(listedJson(signed, trust)).toMatchObject({ signed: true, trusted: true, untrustedWhy: null })
    expect(listedJson(other, trust)).toMatchObject({ signed: false, trusted: false, untrustedWhy: "its manifest is not signed" })
    expect(listedJson(signed)).toMatchObject({ trusted: null, untrustedWhy: null })
    expect(listTable([signed]).split("\n")[1]).toMatch(/complete\s+no\s+no\s+yes\s+2026/)
  })
})
