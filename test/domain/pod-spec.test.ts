import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { operandList, operandNames } from "../../src/domain/operands.ts"
import {
  backupPodSpecHash,
  backupPodYaml,
  renderBackupPod,
  renderBackupPodYaml,
  revisionsOfBackupPod,
  type BackupContainer,
  type BackupPod,
} from "../../src/domain/pod-spec.ts"
import { decodeBackupPodOptions, type BackupPodOptions } from "../../src/domain/backup-pod-options.ts"
import {
  backupPodPaths,
  backupVerifyContainerName,
  storeCredentialsMode,
  revisionLabel,
  revisionsAnnotation,
  specHashAnnotation,
} from "../../src/domain/backup-pod-names.ts"
import { uploadMemoryMi, type BackupStoreOptions } from "../../src/domain/pod-store-options.ts"
import { proxySecretName, proxyVariableNames } from "../../src/domain/pod-proxy-env.ts"
import { parseRevisionsFlag, type RevisionSet } from "../../src/domain/revisions.ts"
import { decodeVolumeSizeLimits, volumeSizeLimitsEnv } from "../../src/domain/volume-size-limits.ts"
import { quantityBytes } from "../../src/domain/k8s-quantity.ts"
import { k8sValidationProblems, validateK8sObject } from "../support/k8s-validate.ts"
import { dnsSubdomainArb, revisionSetArb } from "./arbitraries.ts"
import { optionsArb } from "./pod-options-arbitraries.ts"

const goldenPath = join(import.meta.dirname, "golden", "default-backup-pod.yaml")
const s3GoldenPath = join(import.meta.dirname, "golden", "s3-store-backup-pod.yaml")
const s3ProxyGoldenPath = join(import.meta.dirname, "golden", "s3-proxy-backup-pod.yaml")
const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }

const defaultVolumeLimits = { name: "CLUSTER_BACKUP_VOLUME_SIZE_LIMITS", value: '{"/backup":21474836480,"/tmp":67108864}' }

const volumeLimitsOf = (c: BackupContainer) => {
  const env = c.env?.find((e) => e.name === volumeSizeLimitsEnv)
  return Result.getOrThrow(decodeVolumeSizeLimits(env !== undefined && "value" in env ? env.value : undefined))
}

const allContainers = (pod: BackupPod): ReadonlyArray<BackupContainer> => [...pod.spec.initContainers, ...pod.spec.containers]
const flag = (c: BackupContainer, name: string): string | undefined => {
  const i = c.command.indexOf(name)
  return i < 0 ? undefined : c.command[i + 1]
}

describe("renderBackupPod", () => {
  it("matches the golden default pod byte for byte", () => {
    const yaml = renderBackupPodYaml(revisions)
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(goldenPath, yaml)
    expect(yaml).toBe(readFileSync(goldenPath, "utf8"))
  })

  it("the golden pod is a valid Kubernetes Pod", () => {
    expect(k8sValidationProblems(YAML.parse(readFileSync(goldenPath, "utf8")))).toEqual([])
  })

  it("runs the init containers in the contract's order, then the holding container", () => {
    const pod = renderBackupPod(revisions)
    expect(pod.spec.initContainers.map((c) => c.name)).toEqual([
      "backup-init",
      "backup-etcd-resources",
      "backup-kas-resources",
      "backup-kcm-resources",
      "backup-ks-resources",
      "backup-create",
    ])
    expect(pod.spec.containers.map((c) => c.name)).toEqual(["backup-hold"])
  })

  test.prop([revisionSetArb, optionsArb], { numRuns: 100 })("passes --etcd-prefix to backup-init only, and only when it is not OpenShift's", (set, options) => {
    const pod = renderBackupPod(set, options)
    const [init, ...others] = allContainers(pod)
    expect(flag(init!, "--etcd-prefix")).toBe(options.etcdPrefix === "/kubernetes.io" ? undefined : options.etcdPrefix)
    for (const c of others) expect(c.command).not.toContain("--etcd-prefix")
  })

  test.prop([revisionSetArb, optionsArb, fc.constantFrom("Full" as const, "TestRestore" as const)], { numRuns: 100 })(
    "a test-restoring backup-verify reads the restored member under the pod's --etcd-prefix, as backup-init read the cluster",
    (set, options, verify) => {
      const pod = renderBackupPod(set, { ...options, verify })
      const verifier = pod.spec.initContainers.find((c) => c.name === backupVerifyContainerName)!
      // Else it looks for the operator CRs and counts the keys under /kubernetes.io: every backup of such a cluster failed.
      const expected = verify === "TestRestore" && options.etcdPrefix !== "/kubernetes.io" ? options.etcdPrefix : undefined
      expect(flag(verifier, "--etcd-prefix")).toBe(expected)
      expect(verifier.command.at(-1)).toBe(backupPodPaths.backupDir)
    },
  )

  test.prop([revisionSetArb, optionsArb, fc.constantFrom(undefined, "Full" as const, "TestRestore" as const)], { numRuns: 100 })(
    "tells each container the size limit of every emptyDir it writes to, in bytes, which statfs inside the pod does not show",
    (set, options, verify) => {
      const pod = renderBackupPod(set, { ...options, store: s3Store, ...(verify === undefined ? {} : { verify }) })
      const sizeLimits = new Map(pod.spec.volumes.flatMap((v) => ("emptyDir" in v ? [[v.name, v.emptyDir.sizeLimit] as const] : [])))
      for (const c of allContainers(pod)) {
        const expected = Object.fromEntries(
          c.volumeMounts.filter((m) => m.readOnly !== true && sizeLimits.has(m.name)).map((m) => [m.mountPath, quantityBytes(sizeLimits.get(m.name)!)]),
        )
        expect(volumeLimitsOf(c)).toEqual(expected)
        expect(Object.keys(expected)).toContain(backupPodPaths.backupDir)
      }
      const verifier = pod.spec.initContainers.find((c) => c.name === backupVerifyContainerName)
      const verifierLimits = verifier === undefined ? {} : volumeLimitsOf(verifier)
      expect(backupPodPaths.verifyScratchDir in verifierLimits).toBe(verify === "TestRestore")
    },
  )

  it("refuses an etcd prefix that is not one", () => {
    for (const etcdPrefix of ["registry", "/registry/", "/my registry"]) {
      const decoded = decodeBackupPodOptions({ etcdPrefix })
      expect(Result.isFailure(decoded)).toBe(true)
      if (Result.isFailure(decoded)) expect(decoded.failure.key).toBe("etcdPrefix")
    }
  })

  it("gives each container exactly the contract's command", () => {
    const commands = allContainers(renderBackupPod(revisions)).map((c) => c.command.join(" "))
    expect(commands).toEqual([
      "cluster-backup backup-init --backup-dir /backup --etcd-endpoints https://etcd.openshift-etcd.svc:2379 --etcd-cert /var/run/secrets/etcd-client/tls.crt --etcd-key /var/run/secrets/etcd-client/tls.key --etcd-cacert /var/run/configmaps/etcd-ca/ca-bundle.crt",
      "cluster-backup backup-resources --backup-dir /backup --operand etcd --revision 3",
      "cluster-backup backup-resources --backup-dir /backup --operand kube-apiserver --revision 7",
      "cluster-backup backup-resources --backup-dir /backup --operand kube-controller-manager --revision 7",
      "cluster-backup backup-resources --backup-dir /backup --operand kube-scheduler --revision 7",
      "cluster-backup backup-create --backup-dir /backup --revisions etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7 --report-file /dev/termination-log",
      "cluster-backup hold --backup-dir /backup --duration 3600s",
    ])
  })

  it("runs unprivileged: no host access, non-root, read-only root, no capabilities, RuntimeDefault seccomp", () => {
    const pod = renderBackupPod(revisions, { priorityClassName: "system-cluster-critical" })
    const text = JSON.stringify(pod)
    for (const word of ["hostPath", "hostNetwork", "hostPID", "hostIPC", "privileged", "hostPort"]) expect(text).not.toContain(word)
    expect(pod.spec.securityContext).toEqual({ fsGroup: 65532, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } })
    for (const c of allContainers(pod)) {
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      })
      expect(c.volumeMounts).toContainEqual({ name: "backup", mountPath: "/backup" })
      expect(c.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" })
    }
    expect(pod.spec.restartPolicy).toBe("Never")
    expect(pod.spec.priorityClassName).toBe("system-cluster-critical")
    expect(renderBackupPod(revisions).spec.priorityClassName).toBeUndefined()
  })

  it("mounts the etcd credentials read-only, into backup-init only", () => {
    const pod = renderBackupPod(revisions)
    const withCredentials = allContainers(pod).filter((c) => c.volumeMounts.some((m) => m.name === "etcd-client" || m.name === "etcd-ca"))
    expect(withCredentials.map((c) => c.name)).toEqual(["backup-init"])
    expect(withCredentials[0]!.volumeMounts.filter((m) => m.name.startsWith("etcd"))).toEqual([
      { name: "etcd-client", mountPath: backupPodPaths.etcdClientDir, readOnly: true },
      { name: "etcd-ca", mountPath: backupPodPaths.etcdCaDir, readOnly: true },
    ])
    expect(pod.spec.volumes).toEqual([
      { name: "backup", emptyDir: { sizeLimit: "20Gi" } },
      { name: "etcd-client", secret: { secretName: "etcd-client" } },
      { name: "etcd-ca", configMap: { name: "etcd-ca-bundle" } },
      { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
    ])
  })

  it("uses generateName in openshift-etcd, so `oc create -f -` works again and again", () => {
    const pod = renderBackupPod(revisions)
    expect(pod.metadata.generateName).toBe("cluster-backup-")
    expect("name" in pod.metadata).toBe(false)
    expect(pod.metadata.namespace).toBe("openshift-etcd")
    expect(pod.spec.serviceAccountName).toBe("cluster-backup")
    expect(pod.spec.activeDeadlineSeconds).toBe(7200)
  })

  test.prop([revisionSetArb, optionsArb], { numRuns: 60 })("every rendered pod is a valid Kubernetes Pod", (set, options) => {
    const pod = renderBackupPod(set, options)
    validateK8sObject(pod)
    validateK8sObject(YAML.parse(backupPodYaml(pod)))
  })

  test.prop([revisionSetArb, optionsArb], { numRuns: 150 })("names exactly the given revisions: flags, labels and annotation", (set, options) => {
    const pod = renderBackupPod(set, options)
    const byOperand = Object.fromEntries(
      operandList().map((o) => {
        const c = pod.spec.initContainers.find((x) => x.name === `backup-${o.short}-resources`)!
        expect(flag(c, "--operand")).toBe(o.name)
        return [o.name, Number(flag(c, "--revision"))]
      }),
    )
    expect(byOperand).toEqual(set)
    const create = pod.spec.initContainers.at(-1)!
    expect(parseRevisionsFlag(flag(create, "--revisions")!)).toEqual(Result.succeed(set))
    expect(parseRevisionsFlag(pod.metadata.annotations[revisionsAnnotation]!)).toEqual(Result.succeed(set))
    for (const name of operandNames) expect(pod.metadata.labels[revisionLabel(name)]).toBe(String(set[name]))
    expect(revisionsOfBackupPod(pod)).toEqual(set)
    expect(revisionsOfBackupPod(YAML.parse(backupPodYaml(pod)))).toEqual(set)
    for (const c of allContainers(pod)) {
      expect(c.image).toBe(options.image)
      expect(c.command[0]).toBe("cluster-backup")
    }
    expect(flag(pod.spec.containers[0]!, "--duration")).toBe(`${options.holdSeconds}s`)
    expect(flag(pod.spec.initContainers[0]!, "--etcd-endpoints")).toBe(options.etcdEndpoints)
  })

  test.prop([revisionSetArb, optionsArb], { numRuns: 80 })("is deterministic: same input, same bytes, whatever the options' key order", (set, options) => {
    const reversed = Object.fromEntries(Object.entries(options).reverse()) as BackupPodOptions
    const yaml = renderBackupPodYaml(set, options)
    expect(renderBackupPodYaml(set, options)).toBe(yaml)
    expect(renderBackupPodYaml({ ...set }, reversed)).toBe(yaml)
    expect(YAML.parse(yaml)).toEqual(JSON.parse(JSON.stringify(renderBackupPod(set, options))))
    expect(YAML.parse(yaml, { version: "1.1" })).toEqual(YAML.parse(yaml))
  })

  test.prop([revisionSetArb, revisionSetArb, optionsArb], { numRuns: 150 })(
    "the spec hash covers the pod without itself and changes with the revisions",
    (a, b, options) => {
      const pod = renderBackupPod(a, options)
      const hash = pod.metadata.annotations[specHashAnnotation]!
      expect(hash).toMatch(/^[0-9a-f]{64}$/)
      expect(backupPodSpecHash(pod)).toBe(hash)
      const other = renderBackupPod(b, options).metadata.annotations[specHashAnnotation]
      expect(other === hash).toBe(operandNames.every((o) => a[o] === b[o]))
      const tampered: BackupPod = { ...pod, spec: { ...pod.spec, activeDeadlineSeconds: pod.spec.activeDeadlineSeconds + 1 } }
      expect(backupPodSpecHash(tampered)).not.toBe(hash)
    },
  )

  it("reads no revisions from objects that do not carry them", () => {
    for (const junk of [undefined, null, "pod", {}, { metadata: {} }, { metadata: { annotations: { [revisionsAnnotation]: "etcd=3" } } }]) {
      expect(revisionsOfBackupPod(junk)).toBeUndefined()
    }
  })
})

describe("the validation helper can fail", () => {
  // biome-ignore lint/suspicious/noExplicitAny: the cases mutate the rendered JSON by path, which no static type describes
  const pod = () => JSON.parse(JSON.stringify(renderBackupPod(revisions))) as Record<string, any>

  // biome-ignore lint/suspicious/noExplicitAny: as above
  it.each<[string, (p: Record<string, any>) => void, RegExp]>([
    ["an unknown field", (p) => (p.spec.initContainers[0].comand = ["x"]), /unknown field \/spec\/initContainers\/0\/comand/],
    ["a bad enum", (p) => (p.spec.restartPolicy = "Sometimes"), /restartPolicy/],
    ["a bad quantity", (p) => (p.spec.volumes[0].emptyDir.sizeLimit = "20 GB"), /sizeLimit/],
    ["a wrong type", (p) => (p.spec.activeDeadlineSeconds = "7200"), /activeDeadlineSeconds/],
    ["a repeated container name", (p) => (p.spec.containers[0].name = "backup-init"), /repeated/],
    ["a mount of an undeclared volume", (p) => (p.spec.volumes = p.spec.volumes.slice(1)), /does not declare/],
    ["an invalid label value", (p) => (p.metadata.labels.x = "not valid!"), /label value/],
    ["an upper-case generateName", (p) => (p.metadata.generateName = "Backup-"), /generateName/],
  ])("reports %s", (_what, breakIt, pattern) => {
    const p = pod()
    breakIt(p)
    expect(() => validateK8sObject(p)).toThrow(pattern)
  })
})

// ---------------------------------------------------------------------------------------------
// A pod with a backup store

const initOrder = ["backup-init", "backup-etcd-resources", "backup-kas-resources", "backup-kcm-resources", "backup-ks-resources", "backup-create"]
const storeVolumeNames = ["store", "store-credentials", "store-ca", "no-api-token"]
const s3Store: BackupStoreOptions = {
  s3Url: "s3://backups/cluster-a",
  s3Endpoint: "https://s3.openshift-storage.svc:443",
  s3Region: "us-east-1",
  s3Addressing: "path",
  credentialsSecret: "cluster-backup-store",
  caConfigMap: "cluster-backup-store-ca",
  partSize: "16Mi",
  partsInFlight: 4,
  deadlineSeconds: 3600,
}

const transferArb = fc.record({
  partSize: fc.tuple(fc.integer({ min: 5, max: 512 }), fc.constant("Mi")).map(([n, u]) => `${n}${u}`),
  partsInFlight: fc.integer({ min: 1, max: 64 }),
  deadlineSeconds: fc.integer({ min: 1, max: 86_400 }),
  bandwidthLimit: fc.option(
    fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.constantFrom("Mi", "M/s", "Gi")).map(([n, u]) => `${n}${u}`),
    { nil: undefined },
  ),
})
const optional = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })
const withoutUndefined = (o: object): BackupStoreOptions => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as BackupStoreOptions
const storeArb: fc.Arbitrary<BackupStoreOptions> = fc.oneof(
  fc
    .record({
      bucket: fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}[a-z0-9]$/),
      prefix: optional(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/)),
      clusterId: fc.uuid(),
      s3Endpoint: optional(
        fc.tuple(fc.constantFrom("http", "https"), dnsSubdomainArb(40), fc.integer({ min: 1, max: 65535 })).map(([p, h, n]) => `${p}://${h}:${n}`),
      ),
      s3Region: optional(fc.constantFrom("us-east-1", "eu-west-3", "local")),
      s3Addressing: optional(fc.constantFrom("path" as const, "virtual" as const)),
      credentialsSecret: dnsSubdomainArb(60),
      caConfigMap: optional(dnsSubdomainArb(60)),
      transfer: transferArb,
    })
    .map(({ bucket, prefix, transfer, ...rest }) =>
      withoutUndefined({ s3Url: prefix === undefined ? `s3://${bucket}` : `s3://${bucket}/${prefix}`, ...rest, ...transfer }),
    ),
  fc
    .record({ claimName: dnsSubdomainArb(60), clusterId: optional(fc.uuid()), transfer: transferArb })
    .map(({ transfer, ...rest }) => withoutUndefined({ ...rest, ...transfer })),
)
const storeOptionsArb = fc.tuple(optionsArb, storeArb).map(([o, store]) => ({
  ...o,
  store,
  activeDeadlineSeconds: o.activeDeadlineSeconds + store.deadlineSeconds,
}))

describe("renderBackupPod with a store", () => {
  it("matches the golden S3 pod byte for byte, and it is a valid Kubernetes Pod", () => {
    const yaml = renderBackupPodYaml(revisions, { store: s3Store, activeDeadlineSeconds: 10_800 })
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(s3GoldenPath, yaml)
    expect(yaml).toBe(readFileSync(s3GoldenPath, "utf8"))
    expect(k8sValidationProblems(YAML.parse(yaml))).toEqual([])
  })

  it("passes the operator's proxy variables to backup-upload alone (golden), a URL with credentials as a reference to Secret cluster-backup-proxy", () => {
    const proxyEnv = {
      HTTPS_PROXY: "http://backup:pr0xy-Pa55word@proxy.corp.example.com:3128",
      HTTP_PROXY: "http://proxy.corp.example.com:3128",
      NO_PROXY: ".cluster.local,.svc,10.0.0.0/16,172.30.0.0/16,localhost",
      no_proxy: ".cluster.local,.svc,10.0.0.0/16,172.30.0.0/16,localhost",
    }
    const yaml = renderBackupPodYaml(revisions, { store: s3Store, activeDeadlineSeconds: 10_800, proxyEnv })
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(s3ProxyGoldenPath, yaml)
    expect(yaml).toBe(readFileSync(s3ProxyGoldenPath, "utf8"))
    expect(k8sValidationProblems(YAML.parse(yaml))).toEqual([])
    expect(yaml).not.toContain("pr0xy-Pa55word")
    const pod = renderBackupPod(revisions, { store: s3Store, activeDeadlineSeconds: 10_800, proxyEnv })
    const withProxy = [...pod.spec.initContainers, ...pod.spec.containers].filter((c) => (c.env ?? []).some((e) => /proxy/i.test(e.name)))
    expect(withProxy.map((c) => c.name)).toEqual(["backup-upload"])
    expect(Result.isSuccess(decodeBackupPodOptions({ proxyEnv }))).toBe(true)
  })

  test.prop([fc.stringMatching(/^[a-z][a-z0-9]{2,10}$/), fc.stringMatching(/^[A-Za-z0-9]{12,20}$/), fc.boolean()])(
    "no proxy password reaches the rendered spec, with or without a scheme",
    (user, password, scheme) => {
      const url = `${scheme ? "http://" : ""}${user}:${password}@proxy.example.com:3128`
      const yaml = renderBackupPodYaml(revisions, { store: s3Store, activeDeadlineSeconds: 10_800, proxyEnv: { https_proxy: url, HTTPS_PROXY: url } })
      expect(yaml).not.toContain(password)
      expect(yaml).toContain("cluster-backup-proxy")
    },
  )

  const proxyValueArb = fc.oneof(
    fc.constantFrom("http://proxy.example.com:3128", "proxy.example.com:3128", ".svc,10.0.0.0/16"),
    fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[A-Za-z0-9]{1,12}$/)).map(([u, p]) => `http://${u}:${p}@proxy.example.com:3128`),
    fc.stringMatching(/^[a-z]{1,8}$/).map((u) => `${u}@proxy.example.com:3128`),
  )
  const proxyEnvArb = fc.record(Object.fromEntries(proxyVariableNames.map((n) => [n, proxyValueArb])), { requiredKeys: [] })

  test.prop([proxyEnvArb])(
    "a proxy variable taken from Secret cluster-backup-proxy is also a key of a read-only volume of it, mounted in backup-upload alone: the pod does not start without it",
    (proxyEnv) => {
      const pod = renderBackupPod(revisions, { store: s3Store, activeDeadlineSeconds: 10_800, proxyEnv })
      const upload = pod.spec.initContainers.find((c) => c.name === "backup-upload")!
      const refs = (upload.env ?? []).flatMap((e) => ("valueFrom" in e ? [e.valueFrom.secretKeyRef] : []))
      const volumes = pod.spec.volumes.flatMap((v) => ("secret" in v && v.secret.secretName === proxySecretName ? [v] : []))
      if (refs.length === 0) {
        expect(volumes).toEqual([])
        expect(backupPodYaml(pod)).not.toContain(proxySecretName)
        return
      }
      expect(refs.every((r) => r.name === proxySecretName)).toBe(true)
      expect(volumes).toHaveLength(1)
      const volume = volumes[0]!
      expect(volume.secret.items).toEqual(refs.map((r) => ({ key: r.key, path: r.key })))
      expect(volume.secret.defaultMode).toBe(storeCredentialsMode)
      const mounting = [...pod.spec.initContainers, ...pod.spec.containers].filter((c) => c.volumeMounts.some((m) => m.name === volume.name))
      expect(mounting.map((c) => c.name)).toEqual(["backup-upload"])
      expect(upload.volumeMounts.find((m) => m.name === volume.name)).toEqual({
        name: volume.name,
        mountPath: backupPodPaths.proxyCredentialsDir,
        readOnly: true,
      })
      expect(k8sValidationProblems(YAML.parse(backupPodYaml(pod)))).toEqual([])
    },
  )

  it("sets the image's group as the pod's fsGroup: openshift-etcd is run-level 0, where no SCC sets one, and the 0400 Secret files are the non-root user's only through it", () => {
    const pod = renderBackupPod(revisions, { store: s3Store, activeDeadlineSeconds: 10_800 })
    expect(pod.spec.volumes.some((v) => "secret" in v && v.secret.defaultMode === 0o400)).toBe(true)
    const fsGroup = (pod.spec.securityContext as { fsGroup?: number }).fsGroup
    expect(fsGroup).toBeDefined()
    // The image's user runs with that group (deploy/Containerfile).
    const user = /^USER (\d+):(\d+)$/m.exec(readFileSync(join(import.meta.dirname, "..", "..", "deploy", "Containerfile"), "utf8"))
    expect(Number(user?.[2])).toBe(fsGroup)
  })

  it("gives backup-upload exactly the upload's command, the credentials as a mounted file and the CA bundle's path", () => {
    const pod = renderBackupPod(revisions, { store: s3Store, activeDeadlineSeconds: 10_800 })
    const upload = pod.spec.initContainers.at(-1)!
    expect(upload.command.join(" ")).toBe(
      "cluster-backup backup-upload --backup-dir /backup --store s3://backups/cluster-a --s3-endpoint https://s3.openshift-storage.svc:443 --s3-region us-east-1 --s3-addressing path --s3-ca-bundle /var/run/configmaps/cluster-backup-store-ca/ca-bundle.crt --part-size 16Mi --parts-in-flight 4 --deadline 3600s",
    )
    expect(upload.env).toEqual([{ name: "AWS_SHARED_CREDENTIALS_FILE", value: "/var/run/secrets/cluster-backup-store/credentials" }, defaultVolumeLimits])
    expect(upload.volumeMounts).toEqual([
      { name: "backup", mountPath: "/backup" },
      { name: "tmp", mountPath: "/tmp" },
      { name: "store-credentials", mountPath: backupPodPaths.storeCredentialsDir, readOnly: true },
      { name: "store-ca", mountPath: backupPodPaths.storeCaDir, readOnly: true },
      { name: "no-api-token", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
    ])
    expect(pod.spec.volumes.slice(4)).toEqual([
      { name: "store-credentials", secret: { secretName: "cluster-backup-store", items: [{ key: "credentials", path: "credentials" }], defaultMode: 0o400 } },
      { name: "store-ca", configMap: { name: "cluster-backup-store-ca", items: [{ key: "ca-bundle.crt", path: "ca-bundle.crt" }] } },
      { name: "no-api-token", emptyDir: { sizeLimit: "1Mi" } },
    ])
    expect(upload.resources).toEqual({ requests: { cpu: "100m", memory: "192Mi" }, limits: { memory: "320Mi" } })
  })

  it("mounts a PersistentVolumeClaim into backup-upload only and uploads to it as a directory", () => {
    const pod = renderBackupPod(revisions, { store: { claimName: "backups", clusterId: "c0ffee", partSize: "8Mi", partsInFlight: 2, deadlineSeconds: 600 } })
    const upload = pod.spec.initContainers.at(-1)!
    expect(upload.command.join(" ")).toBe(
      "cluster-backup backup-upload --backup-dir /backup --store /var/lib/cluster-backup/store --cluster-id c0ffee --part-size 8Mi --parts-in-flight 2 --deadline 600s --store-name pvc://backups",
    )
    expect(upload.env).toEqual([defaultVolumeLimits])
    expect(upload.volumeMounts).toContainEqual({ name: "store", mountPath: backupPodPaths.storeDir })
    expect(pod.spec.volumes).toContainEqual({ name: "store", persistentVolumeClaim: { claimName: "backups" } })
    validateK8sObject(pod)
  })

  test.prop([revisionSetArb, storeOptionsArb], { numRuns: 80 })(
    "backup-upload runs after backup-create and before the hold, unprivileged like the others, and alone sees the store's volumes",
    (set, options) => {
      const pod = renderBackupPod(set, options)
      validateK8sObject(pod)
      validateK8sObject(YAML.parse(backupPodYaml(pod)))
      expect(pod.spec.initContainers.map((c) => c.name)).toEqual([...initOrder, "backup-upload"])
      expect(pod.spec.containers.map((c) => c.name)).toEqual(["backup-hold"])
      const upload = pod.spec.initContainers.at(-1)!
      expect(upload.securityContext).toEqual(pod.spec.initContainers[0]!.securityContext)
      expect(upload.image).toBe(options.image)
      expect(flag(upload, "--store")).toBe(options.store.s3Url ?? backupPodPaths.storeDir)
      expect(flag(upload, "--part-size")).toBe(options.store.partSize)
      expect(flag(upload, "--parts-in-flight")).toBe(String(options.store.partsInFlight))
      expect(flag(upload, "--deadline")).toBe(`${options.store.deadlineSeconds}s`)
      expect(flag(upload, "--bandwidth-limit")).toBe(options.store.bandwidthLimit)
      // Only backup-upload mounts anything of the store (its credentials above all).
      for (const c of allContainers(pod).filter((c) => c !== upload)) {
        expect(c.volumeMounts.filter((m) => storeVolumeNames.includes(m.name))).toEqual([])
        expect(c.command).not.toContain("backup-upload")
        expect(c.env ?? []).not.toContainEqual(expect.objectContaining({ name: "AWS_SHARED_CREDENTIALS_FILE" }))
      }
      const declared = pod.spec.volumes.filter((v) => storeVolumeNames.includes(v.name)).map((v) => v.name)
      expect(upload.volumeMounts.filter((m) => storeVolumeNames.includes(m.name)).map((m) => m.name)).toEqual(declared)
      for (const m of upload.volumeMounts) if (m.name !== "store" && storeVolumeNames.includes(m.name)) expect(m.readOnly).toBe(true)
      // No API access: an empty directory where the ServiceAccount token would be mounted, in backup-upload only.
      expect(upload.volumeMounts).toContainEqual({ name: "no-api-token", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true })
      const credentials = pod.spec.volumes.find((v) => v.name === "store-credentials")
      expect(credentials === undefined).toBe(options.store.credentialsSecret === undefined)
      if (credentials !== undefined && "secret" in credentials) {
        expect(credentials.secret).toEqual({
          secretName: options.store.credentialsSecret,
          items: [{ key: "credentials", path: "credentials" }],
          defaultMode: storeCredentialsMode,
        })
      }
      // Memory bounded by the part buffers: request and limit follow part size x parts in flight.
      const memory = uploadMemoryMi(options.store)
      const partsMi = Math.ceil(Number(options.store.partSize.replace("Mi", "")) * options.store.partsInFlight)
      expect(memory).toEqual({ request: 128 + partsMi, limit: 256 + partsMi })
      expect(upload.resources.requests?.memory).toBe(`${memory.request}Mi`)
      expect(upload.resources.limits?.memory).toBe(`${memory.limit}Mi`)
      // No container but backup-upload changes: the pod without the store plus one container and its volumes.
      const { store: _store, ...withoutStore } = options
      const plain = renderBackupPod(set, withoutStore)
      expect(pod.spec.initContainers.slice(0, -1)).toEqual(plain.spec.initContainers)
      expect(pod.spec.containers).toEqual(plain.spec.containers)
      expect(pod.spec.volumes.slice(0, plain.spec.volumes.length)).toEqual(plain.spec.volumes)
      expect(decodeBackupPodOptions(options)).toEqual(Result.succeed(options))
    },
  )

  test.prop([revisionSetArb, storeOptionsArb, fc.stringMatching(/^[A-Za-z0-9/+]{40}$/)], { numRuns: 40 })(
    "carries no credential: the Secret is named and mounted, its values never reach the YAML, and no env takes a secret",
    (set, options, secretValue) => {
      const yaml = renderBackupPodYaml(set, options)
      expect(yaml).not.toContain(secretValue)
      expect(yaml).not.toMatch(/secretKeyRef|envFrom|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|aws_secret_access_key/)
      const envs = allContainers(renderBackupPod(set, options)).flatMap((c) => c.env ?? [])
      for (const e of envs) expect(Object.keys(e).sort()).toEqual(["name", "value"])
    },
  )

  it.each<[string, Partial<BackupStoreOptions>, string]>([
    ["both an s3:// URL and a claim", { s3Url: "s3://b-1/p", claimName: "c", credentialsSecret: "s" }, "store.s3Url"],
    ["neither an s3:// URL nor a claim", {}, "store.s3Url"],
    ["a directory as the s3 URL", { s3Url: "/backups", credentialsSecret: "s" }, "store.s3Url"],
    ["another scheme", { s3Url: "gs://bucket/p", credentialsSecret: "s" }, "store.s3Url"],
    ["an s3:// store without credentials", { s3Url: "s3://bucket/p" }, "store.credentialsSecret"],
    ["an s3:// URL without a prefix or cluster ID", { s3Url: "s3://bucket", credentialsSecret: "s" }, "store.s3Url"],
    ["a cluster ID that is no path segment", { s3Url: "s3://bucket", clusterId: "a/b", credentialsSecret: "s" }, "store.clusterId"],
    ["a credentials Secret for a claim", { claimName: "c", credentialsSecret: "s" }, "store.credentialsSecret"],
    ["a CA ConfigMap for a claim", { claimName: "c", caConfigMap: "ca" }, "store.caConfigMap"],
    ["an endpoint for a claim", { claimName: "c", s3Endpoint: "https://s3:443" }, "store.s3Endpoint"],
    ["an endpoint with a path", { s3Url: "s3://bucket/p", credentialsSecret: "s", s3Endpoint: "https://s3:443/x" }, "store.s3Endpoint"],
    ["a Secret name that is not one", { s3Url: "s3://bucket/p", credentialsSecret: "Store_Keys" }, "store.credentialsSecret"],
    ["a 4 MiB part", { claimName: "c", partSize: "4Mi" }, "store.partSize"],
    ["65 parts in flight", { claimName: "c", partsInFlight: 65 }, "store.partsInFlight"],
  ])("refuses %s, naming the key", (_what, store, key) => {
    const r = decodeBackupPodOptions({ store: { partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 60, ...store } })
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure.key).toBe(key)
      expect(r.failure.message).toContain(key)
    }
  })

  it("refuses a pod deadline that leaves no room for the upload's deadline before the hold", () => {
    const store = { claimName: "c", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600 }
    const r = decodeBackupPodOptions({ store, holdSeconds: 3600, activeDeadlineSeconds: 7200 })
    expect(Result.isFailure(r) && r.failure.key).toBe("activeDeadlineSeconds")
    if (Result.isFailure(r)) expect(r.failure.message).toContain("the upload's deadline (3600)")
    expect(Result.isSuccess(decodeBackupPodOptions({ store, holdSeconds: 3600, activeDeadlineSeconds: 7500 }))).toBe(true)
  })
})
