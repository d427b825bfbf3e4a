import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBackupPolicy, type BackupPolicy } from "../../src/domain/backup-policy.ts"
import { parseSizeWithUnit } from "../../src/domain/byte-size.ts"
import { dnsLabelProblem } from "../../src/domain/k8s-names.ts"
import { defaultOperands } from "../../src/domain/operands.ts"
import { backupPodSpecHash, testRestoreResources, type BackupPod } from "../../src/domain/pod-spec.ts"
import {
  backupPodPaths,
  backupPodSelector,
  backupUploadContainerName,
  backupVerifyContainerName,
  backupCreateContainerName,
  specHashAnnotation,
} from "../../src/domain/backup-pod-names.ts"
import {
  backupTriggerAnnotation,
  policyLabelValue,
  policyNameLabel,
  policyPodName,
  renderPolicyBackupPod,
  scheduledTimeAnnotation,
  type PolicyPodInput,
} from "../../src/domain/policy-pod.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { policy as policyObject, s3 as s3Example, pvc as pvcExample } from "../support/backup-policy-examples.ts"
import { validateK8sObject } from "../support/k8s-validate.ts"
import { dnsLabelArb, dnsSubdomainArb, instantArb, revisionSetArb } from "./arbitraries.ts"

const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }
const uid = "6f1c2c1e-3b1a-4c55-9d1f-2b7a9e0c1d2e"

const decoded = (spec: Record<string, unknown>, name = "nightly"): BackupPolicy => {
  const obj = policyObject(spec)
  const r = decodeBackupPolicy({ ...obj, metadata: { name, uid } })
  if (Result.isFailure(r)) throw new Error(String(r.failure))
  return r.success
}

const input = (policy: BackupPolicy, over: Partial<PolicyPodInput> = {}): PolicyPodInput => ({
  policy,
  revisions,
  podOptions: { store: { clusterId: "c0ffee", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600 } },
  table: defaultOperands,
  trigger: "Schedule",
  startedAt: Date.UTC(2026, 11, 2, 15, 14, 0, 250),
  scheduledTime: Date.UTC(2026, 11, 2, 15, 14),
  ...over,
})

const rendered = (i: PolicyPodInput): BackupPod => {
  const r = renderPolicyBackupPod(i)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const byName = (pod: BackupPod, name: string) => [...pod.spec.initContainers, ...pod.spec.containers].find((c) => c.name === name)

const secretVolumes = (pod: BackupPod) => new Set(pod.spec.volumes.filter((v) => "secret" in v || "projected" in v).map((v) => v.name))

const s3StoreArb = fc.record(
  {
    bucket: fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}[a-z0-9]$/),
    prefix: fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,2}$/),
    endpoint: fc.constantFrom("https://s3.example:8443", "http://127.0.0.1:9000"),
    region: fc.constantFrom("us-east-1", "eu-central-1"),
    forcePathStyle: fc.boolean(),
    caBundleConfigMap: dnsSubdomainArb(40).map((name) => ({ name })),
  },
  { requiredKeys: ["bucket"] },
)
const sseArb = fc.oneof(
  fc.constant({}),
  fc.constant({ serverSideEncryption: "AES256" as const }),
  fc.record(
    { serverSideEncryption: fc.constant("aws:kms" as const), kmsKeyId: fc.constantFrom("1234abcd-12ab-34cd-56ef-1234567890ab", "alias/etcd-backups") },
    { requiredKeys: [] },
  ),
)
const s3Arb = fc
  .tuple(
    fc.tuple(s3StoreArb, sseArb).map(([s, sse]) => ({ ...s, ...sse })),
    fc.oneof(
      dnsSubdomainArb(40).map((name) => ({ credentialsSecret: { name } })),
      fc.constant({ webIdentityRoleARN: "arn:aws:iam::123456789012:role/etcd-backup" }),
    ),
  )
  .map(([s, creds]) => ({ s3: { ...s, ...creds } }))
const recipientsArb = fc.record(
  { recipientsSecret: dnsSubdomainArb(40).map((name) => ({ name })), resourcesRecipientsSecret: dnsSubdomainArb(40).map((name) => ({ name })) },
  { requiredKeys: [] },
)
const pvcArb = fc
  .record({ claimName: dnsSubdomainArb(40), subPath: fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,2}$/) }, { requiredKeys: ["claimName"] })
  .map((p) => ({ pvc: p }))
const retentionArb = fc.record(
  {
    keepLast: fc.integer({ min: 1, max: 100 }),
    keepDaily: fc.integer({ min: 1, max: 100 }),
    keepWeekly: fc.integer({ min: 1, max: 100 }),
    keepMonthly: fc.integer({ min: 1, max: 100 }),
    maxAge: fc.constantFrom("30d", "1h30m", "400d", "90s"),
    maxTotalSize: fc.constantFrom("50Gi", "500Mi", "2G", "1536Ki", "1500K"),
  },
  { requiredKeys: [] },
)
const specArb = fc.record(
  {
    schedule: fc.constant("0 * * * *"),
    store: fc
      .tuple(fc.oneof(s3Arb, pvcArb), recipientsArb)
      .map(([store, recipients]) => ("s3" in store ? { s3: { ...store.s3, ...recipients } } : { pvc: { ...store.pvc, ...recipients } })),
    retention: retentionArb.filter((r) => Object.keys(r).length > 0),
    verify: fc.constantFrom("None", "Full", "TestRestore"),
    activeDeadlineSeconds: fc.integer({ min: 60, max: 86_400 }),
  },
  { requiredKeys: ["schedule", "store"] },
)
const policyArb = fc
  .tuple(specArb, dnsSubdomainArb(253), fc.uuid())
  .map(([spec, name, id]) => ({ ...decoded(spec as Record<string, unknown>, name), metadata: { name, uid: id } }))
const triggerArb = fc.constantFrom("Schedule", "CatchUp", "RevisionChange", "Retry") as fc.Arbitrary<PolicyPodInput["trigger"]>

describe("policyPodName", () => {
  test.prop([dnsSubdomainArb(253), instantArb])("is a DNS-1123 label of at most 63 characters, the same for the same policy and second", (name, at) => {
    const pod = policyPodName(name, at)
    expect(dnsLabelProblem(pod)).toBeUndefined()
    expect(pod.length).toBeLessThanOrEqual(63)
    expect(policyPodName(name, at - (((at % 1000) + 1000) % 1000))).toBe(pod)
  })

  test.prop([dnsSubdomainArb(253), dnsSubdomainArb(253), instantArb, instantArb])("differs for different policies or seconds", (a, b, t, u) => {
    fc.pre(a !== b || Math.floor(t / 1000) !== Math.floor(u / 1000))
    expect(policyPodName(a, t)).not.toBe(policyPodName(b, u))
  })

  it("reads as the policy and the UTC second it started", () => {
    expect(policyPodName("nightly", Date.UTC(2026, 11, 2, 15, 14, 0, 250))).toBe("backup-nightly-20261202-151400")
  })

  it("keeps two policies apart that differ only by a dot", () => {
    expect(policyPodName("a.b", 0)).not.toBe(policyPodName("a-b", 0))
  })

  test.prop([dnsSubdomainArb(253)])("the policy label value is a valid label value of at most 63 characters", (name) => {
    const v = policyLabelValue(name)
    expect(v.length).toBeLessThanOrEqual(63)
    expect(v).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/)
    if (name.length <= 63) expect(v).toBe(name)
  })
})

describe("renderPolicyBackupPod", () => {
  test.prop([policyArb, revisionSetArb, triggerArb, instantArb], { numRuns: 150 })(
    "any valid policy renders a valid, deterministic pod owned by the policy",
    (policy, set, trigger, startedAt) => {
      const i = input(policy, { revisions: set, trigger, startedAt })
      const pod = rendered(i)
      validateK8sObject(pod)
      expect(rendered(i)).toEqual(pod)
      expect(pod.metadata.name).toBe(policyPodName(policy.metadata.name, startedAt))
      expect(pod.metadata.generateName).toBeUndefined()
      expect(pod.metadata.ownerReferences).toEqual([
        {
          apiVersion: "backup.openshift.io/v1alpha1",
          kind: "BackupPolicy",
          name: policy.metadata.name,
          uid: policy.metadata.uid,
          controller: true,
        },
      ])
      expect(pod.metadata.labels[policyNameLabel]).toBe(policyLabelValue(policy.metadata.name))
      for (const term of backupPodSelector.split(",")) {
        const [k, v] = term.split("=")
        expect(pod.metadata.labels[k!]).toBe(v)
      }
      expect(pod.metadata.annotations[backupTriggerAnnotation]).toBe(trigger)
      expect(pod.metadata.annotations[specHashAnnotation]).toBe(backupPodSpecHash(pod))
      expect(pod.spec.activeDeadlineSeconds).toBe(policy.spec.activeDeadlineSeconds ?? 3600)
    },
  )

  test.prop([policyArb], { numRuns: 100 })(
    "with the operator's trusted keys ConfigMap, backup-upload's prune trusts its keys exactly when the policy has a retention rule, backup-verify whenever it verifies",
    (policy) => {
      const podOptions = { ...input(policy).podOptions, signingKeySecret: "signing", trustedKeysConfigMap: "trusted-keys" }
      const pod = rendered(input(policy, { podOptions }))
      const upload = byName(pod, backupUploadContainerName)!
      const r = policy.spec.retention
      const hasRule = r !== undefined && Object.values(r).some((v) => v !== undefined)
      expect(upload.command.includes("--trusted-key")).toBe(hasRule)
      const verifies = policy.spec.verify !== undefined && policy.spec.verify !== "None"
      expect(byName(pod, "backup-verify")?.command.includes("--trusted-key") ?? false).toBe(verifies)
      expect(pod.spec.volumes.filter((v) => v.name === "trusted-keys")).toHaveLength(hasRule || verifies ? 1 : 0)
    },
  )

  test.prop([policyArb], { numRuns: 100 })("store credentials reach only backup-upload", (policy) => {
    const pod = rendered(input(policy))
    const secrets = secretVolumes(pod)
    for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
      const mounted = c.volumeMounts.filter((m) => secrets.has(m.name) && m.name !== "etcd-client" && m.name !== "signing-key")
      if (c.name !== backupUploadContainerName) expect(mounted).toEqual([])
      if (c.name !== backupUploadContainerName) expect((c.env ?? []).filter((e) => e.name.startsWith("AWS_"))).toEqual([])
    }
  })

  test.prop([policyArb], { numRuns: 100 })(
    "backup-upload writes its report to the termination log, prunes by the policy's rules and encrypts to its recipients",
    (policy) => {
      const pod = rendered(input(policy))
      const upload = byName(pod, backupUploadContainerName)!
      const flag = (name: string) => {
        const at = upload.command.indexOf(name)
        return at < 0 ? undefined : upload.command[at + 1]
      }
      expect(flag("--report-file")).toBe("/dev/termination-log")
      const r = policy.spec.retention
      expect(flag("--keep-last")).toBe(r?.keepLast === undefined ? undefined : String(r.keepLast))
      expect(flag("--keep-daily")).toBe(r?.keepDaily === undefined ? undefined : String(r.keepDaily))
      expect(flag("--max-age") !== undefined).toBe(r?.maxAge !== undefined)
      // Rendered with a unit, the same size: backup-upload refuses a bare number.
      const size = flag("--max-total-size")
      expect(size === undefined ? undefined : Result.getOrThrow(parseSizeWithUnit(size))).toBe(
        r?.maxTotalSize === undefined ? undefined : Result.getOrThrow(parseSizeWithUnit(r.maxTotalSize)),
      )
      if (policy.spec.store.pvc !== undefined) {
        expect(flag("--store")).toBe(backupPodPaths.storeDir)
        expect(flag("--prefix")).toBe(policy.spec.store.pvc.subPath)
        // The report names the claim (the CRD's pvc://claim/subPath/id), not the pod's mount path.
        expect(flag("--store-name")).toBe(`pvc://${policy.spec.store.pvc.claimName}`)
      } else {
        expect(flag("--store-name")).toBeUndefined()
        expect(flag("--store")).toBe(
          `s3://${policy.spec.store.s3!.bucket}${policy.spec.store.s3!.prefix === undefined ? "" : `/${policy.spec.store.s3!.prefix}`}`,
        )
      }
      expect(flag("--s3-sse")).toBe(policy.spec.store.s3?.serverSideEncryption)
      expect(flag("--s3-sse-kms-key-id")).toBe(policy.spec.store.s3?.kmsKeyId)
      const kind = policy.spec.store.s3 ?? policy.spec.store.pvc!
      expect(flag("--recipients-file") !== undefined).toBe(kind.recipientsSecret !== undefined)
      expect(flag("--resources-recipients-file") !== undefined).toBe(kind.resourcesRecipientsSecret !== undefined)
      // The upload cannot outlive the pod.
      expect(Number(flag("--deadline")!.replace("s", ""))).toBeLessThanOrEqual(pod.spec.activeDeadlineSeconds)
    },
  )

  test.prop([policyArb], { numRuns: 100 })("a verify policy verifies after backup-create and before backup-upload", (policy) => {
    const pod = rendered(input(policy))
    const names = pod.spec.initContainers.map((c) => c.name)
    const verify = byName(pod, backupVerifyContainerName)
    const mode = policy.spec.verify ?? "None"
    if (mode === "None") {
      expect(verify).toBeUndefined()
      return
    }
    expect(names.indexOf(backupVerifyContainerName)).toBe(names.indexOf(backupCreateContainerName) + 1)
    expect(names.indexOf(backupUploadContainerName)).toBe(names.indexOf(backupVerifyContainerName) + 1)
    expect(verify!.command).toContain("--report-out")
    expect(verify!.command.at(-1)).toBe(backupPodPaths.backupDir)
    expect(verify!.command.includes("--test-restore")).toBe(mode === "TestRestore")
    if (mode === "TestRestore") {
      expect(verify!.command).toEqual(expect.arrayContaining(["--etcd", backupPodPaths.etcdBinary, "--etcdutl", backupPodPaths.etcdutlBinary]))
      expect(verify!.resources).toEqual(testRestoreResources)
      expect(verify!.volumeMounts.map((m) => m.mountPath)).toContain(backupPodPaths.verifyScratchDir)
    }
  })

  it("records the trigger and the scheduled time; a revision-change run has no scheduled time", () => {
    const p = decoded({ schedule: "0 * * * *", store: pvcExample })
    expect(rendered(input(p)).metadata.annotations[scheduledTimeAnnotation]).toBe("2026-12-02T15:14:00Z")
    const revisionRun = rendered(input(p, { trigger: "RevisionChange", scheduledTime: undefined }))
    expect(revisionRun.metadata.annotations[scheduledTimeAnnotation]).toBeUndefined()
    expect(revisionRun.metadata.annotations[backupTriggerAnnotation]).toBe("RevisionChange")
  })

  it("refuses a KMS key with AES256 (SSE-S3), naming the field", () => {
    const p = decoded({ schedule: "0 * * * *", store: { s3: { ...s3Example.s3, serverSideEncryption: "AES256", kmsKeyId: "k1" } } })
    const r = renderPolicyBackupPod(input(p))
    expect(Result.isFailure(r) && r.failure.message).toMatch(/spec\.store.*a KMS key goes with aws:kms/)
  })

  it("refuses a policy without a uid, naming metadata.uid", () => {
    const p = decoded({ schedule: "0 * * * *", store: pvcExample })
    const r = renderPolicyBackupPod(input({ ...p, metadata: { name: "nightly" } }))
    expect(Result.isFailure(r) && r.failure.key).toBe("metadata.uid")
  })

  it("refuses an s3 store without a prefix when the operator knows no cluster ID, saying what to give", () => {
    const p = decoded({ schedule: "0 * * * *", store: { s3: { bucket: "etcd-backups", credentialsSecret: { name: "s" } } } })
    const r = renderPolicyBackupPod(input(p, { podOptions: {} }))
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) expect(r.failure.message).toMatch(/BackupPolicy nightly: spec\.store.*prefix/)
  })

  it("sends at the policy's bandwidth limit, else the operator's; one too slow for the operator's parts in flight to S3 is refused, naming the field", () => {
    const limitOf = (pod: BackupPod) => {
      const command = byName(pod, backupUploadContainerName)!.command
      return command.includes("--bandwidth-limit") ? command[command.indexOf("--bandwidth-limit") + 1] : undefined
    }
    const upload = { partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600, bandwidthLimit: "40Mi" }
    const own = decoded({ schedule: "0 * * * *", store: { ...s3Example, bandwidthLimit: "20Mi" } })
    expect(limitOf(rendered(input(own, { upload })))).toBe("20Mi")
    expect(limitOf(rendered(input(own)))).toBe("20Mi")
    const none = decoded({ schedule: "0 * * * *", store: s3Example })
    expect(limitOf(rendered(input(none, { upload })))).toBe("40Mi")
    expect(limitOf(rendered(input(none)))).toBeUndefined()

    const slow = decoded({ schedule: "0 * * * *", store: { ...s3Example, bandwidthLimit: "64Ki" } })
    const refused = renderPolicyBackupPod(input(slow, { upload }))
    expect(Result.isFailure(refused) && refused.failure).toMatchObject({ key: "spec.store.bandwidthLimit" })
    expect(Result.isFailure(refused) && refused.failure.message).toContain(
      "BackupPolicy nightly: spec.store.bandwidthLimit is too slow for an S3 store: at 64.0 KiB/s, 4 parts of 16.0 MiB in flight take 17m4s to send",
    )
    // To a volume, no multipart upload waits on it.
    const onVolume = decoded({ schedule: "0 * * * *", store: { ...pvcExample, bandwidthLimit: "64Ki" } })
    expect(limitOf(rendered(input(onVolume, { upload })))).toBe("64Ki")
    const tooLow = decoded({ schedule: "0 * * * *", store: { ...pvcExample, bandwidthLimit: "63Ki" } })
    const low = renderPolicyBackupPod(input(tooLow))
    expect(Result.isFailure(low) && low.failure.message).toBe(`BackupPolicy nightly: spec.store.bandwidthLimit "63Ki" is below the lowest limit, 64Ki a second`)
  })

  it("renders the example S3 policy with the operator's transfer settings", () => {
    const p = decoded({ schedule: "0 * * * *", store: s3Example, verify: "Full" })
    const pod = rendered(input(p, { podOptions: { store: { partSize: "32Mi", partsInFlight: 2, deadlineSeconds: 600 } } }))
    const upload = byName(pod, backupUploadContainerName)!
    expect(upload.command).toEqual(expect.arrayContaining(["--store", "s3://etcd-backups/prod", "--part-size", "32Mi", "--parts-in-flight", "2"]))
    expect(upload.command).toEqual(expect.arrayContaining(["--deadline", "600s", "--s3-region", "eu-central-1"]))
    expect(byName(pod, backupVerifyContainerName)!.command).not.toContain("--test-restore")
  })

  test.prop([fc.boolean(), fc.option(fc.constantFrom("c0ffee", "cluster-b"), { nil: undefined })])(
    "the operator's upload settings and cluster ID reach the pod whether or not the operator has a store of its own",
    (ownStore, clusterId) => {
      const store = ownStore ? { store: { claimName: "own", clusterId: "own-id", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600 } } : {}
      const upload = { partSize: "48Mi", partsInFlight: 3, deadlineSeconds: 900, bandwidthLimit: "20Mi", clusterId }
      const command = byName(
        rendered(input(decoded({ schedule: "0 * * * *", store: pvcExample }), { podOptions: store, upload })),
        backupUploadContainerName,
      )!.command
      expect(command).toEqual(expect.arrayContaining(["--part-size", "48Mi", "--parts-in-flight", "3", "--deadline", "900s", "--bandwidth-limit", "20Mi"]))
      const at = command.indexOf("--cluster-id")
      expect(at === -1 ? undefined : command[at + 1]).toBe(clusterId)
    },
  )

  it("gives backup-upload (upload and prune) the operator's proxy variables, and no other container", () => {
    const proxyEnv = { HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: ".svc" }
    const pod = rendered(input(decoded({ schedule: "0 * * * *", store: s3Example, verify: "Full" }), { podOptions: { proxyEnv } }))
    expect(byName(pod, backupUploadContainerName)!.env).toEqual(
      expect.arrayContaining([
        { name: "HTTPS_PROXY", value: "http://proxy.corp:3128" },
        { name: "NO_PROXY", value: ".svc" },
      ]),
    )
    const others = [...pod.spec.initContainers, ...pod.spec.containers].filter((c) => c.name !== backupUploadContainerName)
    expect(others.flatMap((c) => (c.env ?? []).map((e) => e.name)).filter((n) => /proxy/i.test(n))).toEqual([])
  })

  // The grace reached a policy's pod only when the operator had store retention rules of its own
  // (it lived in the operator's store.retention, which exists only with a rule).
  test.prop([
    fc.option(fc.integer({ min: 0, max: 30 * 86_400 }), { nil: undefined }),
    fc.constantFrom(undefined, { claimName: "backups" }, { claimName: "backups", retention: { keepLast: 3, leftoverGraceSeconds: 7200 } }),
    fc.boolean(),
  ])("a policy with retention prunes with the operator's leftover grace, whatever the operator's own store and rules", (grace, own, withRetention) => {
    const operatorStore = own === undefined ? {} : { store: { clusterId: "c0ffee", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600, ...own } }
    const podOptions = { ...operatorStore, ...(grace === undefined ? {} : { storeLeftoverGraceSeconds: grace }) }
    const spec = { schedule: "0 * * * *", store: pvcExample, ...(withRetention ? { retention: { keepLast: 2 } } : {}) }
    const command = byName(rendered(input(decoded(spec), { podOptions })), backupUploadContainerName)!.command
    const at = command.indexOf("--leftover-grace")
    expect(at === -1 ? undefined : command[at + 1]).toBe(withRetention && grace !== undefined ? `${grace}s` : undefined)
  })

  test.prop([dnsLabelArb(20)])("the pod runs in the operator's namespace", (namespace) => {
    const pod = rendered(input(decoded({ schedule: "0 * * * *", store: pvcExample }), { podOptions: { namespace } }))
    expect(pod.metadata.namespace).toBe(namespace)
  })
})
