import { posix } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  baseOrWithRunId,
  hostLayout,
  isKeptRevisionJsonName,
  isSnapshotCopyName,
  partialRestoreId,
  pathsToObserve,
  staticPodManifestsInPlace,
  stopPathsToObserve,
  unique,
} from "../../src/domain/host-layout.ts"
import { revisionSetArb } from "./arbitraries.ts"

const uuidArb = fc.uuid({ version: 4 })

describe("host layout", () => {
  it("kept names are those keep-revision-json and copy-snapshot give", () => {
    expect(isKeptRevisionJsonName("revision.json")).toBe(true)
    expect(isKeptRevisionJsonName("revision.json.0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71")).toBe(true)
    expect(isKeptRevisionJsonName("revision.json.part")).toBe(false)
    expect(isKeptRevisionJsonName("revision.json.bak")).toBe(false)
    expect(isSnapshotCopyName("snapshot.db")).toBe(true)
    expect(isSnapshotCopyName(".snapshot.db.part")).toBe(false)
  })

  it("property: the name `unique` gives is one `baseOrWithRunId` recognises, and a taken one is never given again", () => {
    fc.assert(
      fc.property(fc.constantFrom<string>("snapshot.db", "revision.json", "member"), uuidArb, fc.boolean(), (base, id, taken) => {
        const existing = new Set(taken ? [base] : [])
        const name = unique(base, id, existing)
        expect(baseOrWithRunId(base, name)).toBe(true)
        expect(existing.has(name)).toBe(false)
      }),
    )
  })

  it("property: a base followed by anything but a run id is not one of its names", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (suffix) => {
        fc.pre(!/^\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(suffix))
        expect(baseOrWithRunId("revision.json", `revision.json${suffix}`)).toBe(false)
      }),
    )
  })

  it("recognises only restore-<uuid> as an interrupted restore's output directory", () => {
    expect(partialRestoreId("restore-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71")).toBe("0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71")
    for (const name of [
      "restore-",
      "restore-x",
      "member",
      "restore-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71.bak",
      "xrestore-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71",
      "restore-0B2F6C1E-7D4A-4C1B-9A53-2F0E8D6C4B71",
    ]) {
      expect(partialRestoreId(name), name).toBeUndefined()
    }
  })

  it("property: a restore observes every path a stand-down does, and only absolute host paths", () => {
    fc.assert(
      fc.property(revisionSetArb, fc.array(uuidArb, { maxLength: 3 }), (revisions, partial) => {
        const restore = pathsToObserve(revisions, undefined, partial)
        for (const p of stopPathsToObserve(undefined, partial)) expect(restore).toContain(p)
        for (const p of restore) expect(posix.isAbsolute(p) && posix.normalize(p) === p).toBe(true)
        for (const id of partial) expect(restore).toContain(posix.join(hostLayout.keptDataDir, `failed-restore-${id}`))
      }),
    )
  })
})

describe("staticPodManifestsInPlace", () => {
  const manifests = ["etcd-pod.yaml", "kube-apiserver-pod.yaml", "kube-controller-manager-pod.yaml", "kube-scheduler-pod.yaml"].map((m) =>
    posix.join(hostLayout.manifestsDir, m),
  )
  it("property: true exactly when the four static pod manifests are all among the paths found, whatever else is", () => {
    fc.assert(
      fc.property(fc.subarray(manifests), fc.subarray(stopPathsToObserve().filter((p) => !manifests.includes(p))), (found, others) => {
        expect(staticPodManifestsInPlace([...others, ...found])).toBe(found.length === manifests.length)
      }),
    )
  })
})
