import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { holdWindow } from "../../src/domain/backup-hold.ts"
import { renderBackupPod } from "../../src/domain/pod-spec.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"

const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }

describe("holdWindow", () => {
  test.prop([fc.integer({ min: 1, max: 24 * 3600 }), fc.option(fc.integer({ min: 0, max: 4e12 }), { nil: undefined })])(
    "the rendered pod's hold time, and once backup-hold runs, its end",
    (holdSeconds, startedMs) => {
      const pod = renderBackupPod(revisions, { holdSeconds })
      const statuses = startedMs === undefined ? [] : [{ name: "backup-hold", state: { running: { startedAt: formatRfc3339Utc(startedMs) } } }]
      expect(holdWindow(pod.spec.containers, statuses)).toEqual({
        durationMs: holdSeconds * 1000,
        untilMs: startedMs === undefined ? undefined : startedMs + holdSeconds * 1000,
      })
    },
  )

  it("is unknown for a pod with no backup-hold container, or none with a duration", () => {
    expect(holdWindow([{ name: "other", command: ["hold", "--duration", "1h"] }], [])).toBeUndefined()
    expect(holdWindow([{ name: "backup-hold", command: ["hold"] }], [])).toBeUndefined()
    expect(holdWindow([{ name: "backup-hold", command: ["hold", "--duration", "soon"] }], [])).toBeUndefined()
    expect(holdWindow(undefined, [])).toBeUndefined()
  })
})
