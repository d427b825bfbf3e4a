import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { backupPodHistoryDeletions } from "../../src/domain/backup-pod-history.ts"
import type { BackupPodView } from "../../src/domain/backup-pod-outcome.ts"

const t0 = Date.UTC(2026, 11, 7, 10)
const view = (name: string, createdAt: number, phase: string, extra: Partial<BackupPodView> = {}): BackupPodView => ({
  name,
  createdAt,
  revisions: undefined,
  phase,
  reason: undefined,
  message: undefined,
  initContainers: [],
  ...extra,
})

const podArb = fc.record({
  name: fc.stringMatching(/^cluster-backup-[a-z0-9]{1,3}$/),
  createdAt: fc.integer({ min: t0, max: t0 + 10 * 3_600_000 }),
  phase: fc.constantFrom("Pending", "Running", "Succeeded", "Failed", "Unknown"),
  policy: fc.option(fc.constant("nightly"), { nil: undefined }),
  deleting: fc.boolean(),
})
const podsArb = fc.uniqueArray(podArb, { selector: (p) => p.name, maxLength: 12 }).map((ps) => ps.map((p) => view(p.name, p.createdAt, p.phase, p)))
const limitsArb = fc.record({ successful: fc.integer({ min: 0, max: 4 }), failed: fc.integer({ min: 0, max: 4 }) })

const newestFirst = (pods: ReadonlyArray<BackupPodView>) => [...pods].sort((a, b) => b.createdAt! - a.createdAt! || b.name.localeCompare(a.name))

describe("backupPodHistoryDeletions: properties", () => {
  test.prop([podsArb, limitsArb])("deletes only ended pods made from cluster-backup-pod, none being deleted", (pods, limits) => {
    const byName = new Map(pods.map((p) => [p.name, p]))
    for (const name of backupPodHistoryDeletions(pods, limits)) {
      const p = byName.get(name)!
      expect(["Succeeded", "Failed"]).toContain(p.phase)
      expect(p.policy).toBeUndefined()
      expect(p.deleting).toBe(false)
    }
  })

  test.prop([podsArb, limitsArb])("keeps exactly the newest `limit` (at least 1) of each ended phase", (pods, limits) => {
    const deleted = new Set(backupPodHistoryDeletions(pods, limits))
    for (const [phase, limit] of [
      ["Succeeded", limits.successful],
      ["Failed", limits.failed],
    ] as const) {
      const candidates = newestFirst(pods.filter((p) => p.phase === phase && p.policy === undefined && !p.deleting))
      expect(candidates.filter((p) => !deleted.has(p.name))).toEqual(candidates.slice(0, Math.max(1, limit)))
    }
  })

  test.prop([podsArb, limitsArb])("once they are deleted, nothing more is (a second sync deletes nothing)", (pods, limits) => {
    const deleted = new Set(backupPodHistoryDeletions(pods, limits))
    expect(
      backupPodHistoryDeletions(
        pods.filter((p) => !deleted.has(p.name)),
        limits,
      ),
    ).toEqual([])
  })

  test.prop([podsArb, limitsArb, fc.nat()])("never the pod named to keep; oldest first", (pods, limits, i) => {
    const keep = pods.length === 0 ? undefined : pods[i % pods.length]!.name
    const deletions = backupPodHistoryDeletions(pods, limits, keep)
    expect(deletions).not.toContain(keep)
    const times = deletions.map((name) => pods.find((p) => p.name === name)!.createdAt!)
    expect(times).toEqual([...times].sort((a, b) => a - b))
  })
})

describe("backupPodHistoryDeletions", () => {
  it("with the defaults' limits, deletes the fourth Succeeded pod and the second Failed one, oldest first", () => {
    const pods = [
      view("cluster-backup-a", t0, "Succeeded"),
      view("cluster-backup-b", t0 + 1, "Failed"),
      view("cluster-backup-c", t0 + 2, "Succeeded"),
      view("cluster-backup-d", t0 + 3, "Succeeded"),
      view("cluster-backup-e", t0 + 4, "Succeeded"),
      view("cluster-backup-f", t0 + 5, "Failed"),
      view("cluster-backup-g", t0 + 6, "Running"),
      view("backup-nightly-1", t0 - 1, "Succeeded", { policy: "nightly" }),
    ]
    expect(backupPodHistoryDeletions(pods, { successful: 3, failed: 1 })).toEqual(["cluster-backup-a", "cluster-backup-b"])
  })
})
