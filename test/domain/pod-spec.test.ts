import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { operandList, operandNames } from "../../src/domain/operands.ts"
import {
  backupPodPaths,
  backupPodSpecHash,
  backupPodYaml,
  decodeBackupPodOptions,
  defaultPodOptions,
  renderBackupPod,
  renderBackupPodYaml,
  revisionLabel,
  revisionsAnnotation,
  revisionsOfBackupPod,
  specHashAnnotation,
  type BackupContainer,
  type BackupPod,
  type BackupPodOptions,
} from "../../src/domain/pod-spec.ts"
import { parseRevisionsFlag, type RevisionSet } from "../../src/domain/revisions.ts"
import { k8sValidationProblems, validateK8sObject } from "../support/k8s-validate.ts"
import { dnsLabelArb, dnsSubdomainArb, revisionSetArb } from "./arbitraries.ts"

const goldenPath = join(import.meta.dirname, "golden", "default-backup-pod.yaml")
const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }

const quantityArb = fc.tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom("", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti")).map(([n, u]) => `${n}${u}`)
const optionsArb: fc.Arbitrary<BackupPodOptions> = fc
  .record({
    namespace: dnsLabelArb(30),
    image: fc.tuple(dnsSubdomainArb(30), dnsLabelArb(10), fc.stringMatching(/^[0-9]+\.[0-9]+\.[0-9]+$/)).map(([registry, repo, tag]) => `${registry}/${repo}:${tag}`),
    imagePullPolicy: fc.constantFrom("Always", "IfNotPresent", "Never"),
    serviceAccountName: dnsSubdomainArb(60),
    etcdEndpoints: fc.array(fc.tuple(dnsSubdomainArb(40), fc.integer({ min: 1, max: 65535 })), { minLength: 1, maxLength: 3 }).map((eps) => eps.map(([h, p]) => `https://${h}:${p}`).join(",")),
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

const allContainers = (pod: BackupPod): ReadonlyArray<BackupContainer> => [...pod.spec.initContainers, ...pod.spec.containers]
const flag = (c: BackupContainer, name: string): string | undefined => {
  const i = c.command.indexOf(name)
  return i < 0 ? undefined : c.command[i + 1]
}

describe("renderBackupPod", () => {
  it("matches the golden default pod byte for byte", () => {
    const yaml = renderBackupPodYaml(revisions)
    if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(goldenPath, yaml)
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
      "cluster-backup backup-create --backup-dir /backup --revisions etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7",
      "cluster-backup hold --backup-dir /backup --duration 3600s",
    ])
  })

  it("runs unprivileged: no host access, non-root, read-only root, no capabilities, RuntimeDefault seccomp", () => {
    const pod = renderBackupPod(revisions, { priorityClassName: "system-cluster-critical" })
    const text = JSON.stringify(pod)
    for (const word of ["hostPath", "hostNetwork", "hostPID", "hostIPC", "privileged", "hostPort"]) expect(text).not.toContain(word)
    expect(pod.spec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } })
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
  const pod = () => JSON.parse(JSON.stringify(renderBackupPod(revisions))) as Record<string, any>

  it.each<[string, (p: Record<string, any>) => void, RegExp]>([
    ["an unknown field", (p) => (p["spec"]["initContainers"][0]["comand"] = ["x"]), /unknown field \/spec\/initContainers\/0\/comand/],
    ["a bad enum", (p) => (p["spec"]["restartPolicy"] = "Sometimes"), /restartPolicy/],
    ["a bad quantity", (p) => (p["spec"]["volumes"][0]["emptyDir"]["sizeLimit"] = "20 GB"), /sizeLimit/],
    ["a wrong type", (p) => (p["spec"]["activeDeadlineSeconds"] = "7200"), /activeDeadlineSeconds/],
    ["a repeated container name", (p) => (p["spec"]["containers"][0]["name"] = "backup-init"), /repeated/],
    ["a mount of an undeclared volume", (p) => (p["spec"]["volumes"] = p["spec"]["volumes"].slice(1)), /does not declare/],
    ["an invalid label value", (p) => (p["metadata"]["labels"]["x"] = "not valid!"), /label value/],
    ["an upper-case generateName", (p) => (p["metadata"]["generateName"] = "Backup-"), /generateName/],
  ])("reports %s", (_what, breakIt, pattern) => {
    const p = pod()
    breakIt(p)
    expect(() => validateK8sObject(p)).toThrow(pattern)
  })
})

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
