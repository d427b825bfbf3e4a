import { test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBackupPodOptions, defaultPodOptions } from "../../src/domain/backup-pod-options.ts"
import { optionsArb } from "./pod-options-arbitraries.ts"

describe("decodeBackupPodOptions", () => {
  it("fills in the defaults", () => {
    expect(decodeBackupPodOptions({})).toEqual(Result.succeed(defaultPodOptions))
    expect(decodeBackupPodOptions({ holdSeconds: 600 })).toEqual(Result.succeed({ ...defaultPodOptions, holdSeconds: 600 }))
  })

  test.prop([optionsArb], { numRuns: 200 })("accepts every valid option set unchanged", (options) => {
    expect(decodeBackupPodOptions(options)).toEqual(Result.succeed(options))
  })

  it.each<[string, Record<string, unknown>, string]>([
    ["a namespace with dots", { namespace: "openshift.etcd" }, "namespace"],
    ["a blank in the image", { image: "quay.io/x y" }, "image"],
    ["an unknown pull policy", { imagePullPolicy: "Sometimes" }, "imagePullPolicy"],
    ["a plain-http endpoint", { etcdEndpoints: "http://etcd:2379" }, "etcdEndpoints"],
    ["a zero hold", { holdSeconds: 0 }, "holdSeconds"],
    ["a fractional deadline", { activeDeadlineSeconds: 7200.5 }, "activeDeadlineSeconds"],
    ["a deadline that kills the holding pod", { holdSeconds: 7000 }, "activeDeadlineSeconds"],
    ["a bad size limit", { backupVolumeSizeLimit: "20 GB" }, "backupVolumeSizeLimit"],
    ["an unknown resource", { resources: { requests: { gpu: "1" } } }, "resources.requests.gpu"],
    ["an unknown option", { hostNetwork: true }, "hostNetwork"],
  ])("refuses %s, naming the key", (_what, input, key) => {
    const r = decodeBackupPodOptions(input)
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure._tag).toBe("BackupPodOptionsInvalid")
      expect(r.failure.key).toBe(key)
      expect(r.failure.message).toContain(key)
    }
  })
})
