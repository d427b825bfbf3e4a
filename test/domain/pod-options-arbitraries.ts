import { fc } from "@fast-check/vitest"
import type { BackupPodOptions } from "../../src/domain/backup-pod-options.ts"
import { dnsLabelArb, dnsSubdomainArb } from "./arbitraries.ts"

const quantityArb = fc.tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom("", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti")).map(([n, u]) => `${n}${u}`)
export const optionsArb: fc.Arbitrary<BackupPodOptions> = fc
  .record({
    namespace: dnsLabelArb(30),
    image: fc
      .tuple(dnsSubdomainArb(30), dnsLabelArb(10), fc.stringMatching(/^[0-9]+\.[0-9]+\.[0-9]+$/))
      .map(([registry, repo, tag]) => `${registry}/${repo}:${tag}`),
    imagePullPolicy: fc.constantFrom("Always", "IfNotPresent", "Never"),
    serviceAccountName: dnsSubdomainArb(60),
    etcdEndpoints: fc
      .array(fc.tuple(dnsSubdomainArb(40), fc.integer({ min: 1, max: 65535 })), { minLength: 1, maxLength: 3 })
      .map((eps) => eps.map(([h, p]) => `https://${h}:${p}`).join(",")),
    etcdPrefix: fc.constantFrom("/kubernetes.io", "/registry", "/a/b"),
    holdSeconds: fc.integer({ min: 1, max: 86_400 }),
    extraDeadline: fc.integer({ min: 300, max: 86_400 }),
    backupVolumeSizeLimit: quantityArb,
    tmpVolumeSizeLimit: quantityArb,
    resources: fc.record(
      {
        requests: fc.record({ cpu: quantityArb, memory: quantityArb, "ephemeral-storage": quantityArb }, { requiredKeys: [] }),
        limits: fc.record({ cpu: quantityArb, memory: quantityArb }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
    priorityClassName: fc.option(dnsSubdomainArb(60), { nil: undefined }),
  })
  .map(({ extraDeadline, priorityClassName, ...o }) => ({
    ...o,
    activeDeadlineSeconds: o.holdSeconds + extraDeadline,
    ...(priorityClassName === undefined ? {} : { priorityClassName }),
  }))
