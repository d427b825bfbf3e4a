import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  classifyEntry,
  directoryMode,
  expectedResources,
  fileMode,
  isAllowedEntry,
  podDirectory,
  podManifestPath,
  resourceFilePath,
  stripRevisionSuffix,
  validateDataKey,
  validateResourceName,
  type LayoutEntry,
  type ResourceKind,
} from "../../src/domain/archive-layout.ts"
import { defaultOperands, operandList, operandNames } from "../../src/domain/operands.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { dataKeyArb, dnsSubdomainArb, operandArb, revisionArb, revisionSetArb } from "./arbitraries.ts"
import { failure } from "../support/result-failure.ts"

const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }
const kindArb: fc.Arbitrary<ResourceKind> = fc.constantFrom("configmap", "secret")
const ok = <A, E>(r: Result.Result<A, E>): A => Result.getOrThrow(r)
/** What a safe relative path looks like: no absolute start, no empty, `.` or `..` segment. */
const isConfined = (path: string) => !path.startsWith("/") && path.split("/").every((s) => s !== "" && s !== "." && s !== "..")

describe("the installer layout", () => {
  it("names pod directories, pod manifests and resource files like the installer", () => {
    expect(podDirectory("kube-apiserver", 7)).toBe("static-pod-resources/kube-apiserver-pod-7")
    expect(podManifestPath("etcd", 3)).toBe("static-pod-resources/etcd-pod-3/etcd-pod.yaml")
    expect(ok(resourceFilePath("etcd", 3, "secret", "etcd-all-certs", "etcd-serving-master-0.crt"))).toEqual({
      path: "static-pod-resources/etcd-pod-3/secrets/etcd-all-certs/etcd-serving-master-0.crt",
      mode: 0o600,
    })
    expect(ok(resourceFilePath("kube-apiserver", 7, "configmap", "kube-apiserver-pod", "pod.yaml")).path).toBe(
      "static-pod-resources/kube-apiserver-pod-7/configmaps/kube-apiserver-pod/pod.yaml",
    )
  })

  it("gives 0600 to files, 0755/0700 to ConfigMap/Secret scripts, 0700 to directories", () => {
    expect(fileMode("configmap", "config.yaml")).toBe(0o600)
    expect(fileMode("secret", "tls.key")).toBe(0o600)
    expect(fileMode("configmap", "etcd.sh")).toBe(0o755)
    expect(fileMode("secret", "run.sh")).toBe(0o700)
    expect(fileMode("configmap", "sh")).toBe(0o600)
    expect(fileMode("configmap", "x.sh.bak")).toBe(0o600)
    expect(directoryMode).toBe(0o700)
  })

  it("strips the revision suffix only when it is there", () => {
    expect(stripRevisionSuffix("etcd-pod-3", 3)).toBe("etcd-pod")
    expect(stripRevisionSuffix("config-13", 13)).toBe("config")
    expect(stripRevisionSuffix("config-13", 3)).toBeUndefined()
    expect(stripRevisionSuffix("config-3", 13)).toBeUndefined()
    expect(stripRevisionSuffix("config3", 3)).toBeUndefined()
    expect(stripRevisionSuffix("-3", 3)).toBeUndefined()
  })

  test.prop([dnsSubdomainArb(200), revisionArb], { numRuns: 300 })("strip(<name>-<N>, N) == name", (name, n) => {
    expect(stripRevisionSuffix(`${name}-${n}`, n)).toBe(name)
    expect(stripRevisionSuffix(`${name}-${n}`, n + 1)).toBeUndefined()
  })

  test.prop([operandArb, revisionArb, kindArb, dnsSubdomainArb(200), dataKeyArb], { numRuns: 500 })(
    "every accepted name and key gives a confined path inside its pod directory, classified back to itself",
    (operand, revision, kind, name, key) => {
      const file = ok(resourceFilePath(operand, revision, kind, name, key))
      expect(isConfined(file.path)).toBe(true)
      expect(file.path.startsWith(`${podDirectory(operand, revision)}/`)).toBe(true)
      expect(file.path.split("/")).toHaveLength(5)
      const set = { ...revisions, [operand]: revision }
      const entry = ok(classifyEntry(file.path, set))
      expect(entry).toMatchObject({ kind: "resource-file", operand, resourceKind: kind, name, key, mode: file.mode, directory: false })
    },
  )

  /** Names and keys from hostile alphabets: separators, dots, upper case, blanks, NUL. */
  const hostileArb = fc.string({ unit: fc.constantFrom("a", "z", "0", "-", ".", "_", "/", "\\", "A", " ", "\u0000", "é"), maxLength: 12 })

  test.prop([operandArb, revisionArb, kindArb, hostileArb, hostileArb], { numRuns: 1000 })(
    "hostile names and keys are refused with a typed error, or give a confined path",
    (operand, revision, kind, name, key) => {
      const r = resourceFilePath(operand, revision, kind, name, key)
      if (Result.isSuccess(r)) {
        expect(isConfined(r.success.path)).toBe(true)
        expect(r.success.path.split("/")).toHaveLength(5)
      } else {
        expect(r.failure._tag).toBe("LayoutNameInvalid")
        expect(r.failure.value === name || r.failure.value === key).toBe(true)
      }
    },
  )

  it.each(["", "Config", "a_b", "../etc", "a/b", ".", "..", "-a", "a.", "x".repeat(254)])("refuses resource name %j", (name) => {
    expect(failure(validateResourceName(name, 1))).toMatchObject({ _tag: "LayoutNameInvalid", what: "name", value: name })
  })

  it("refuses a name that is valid alone but too long with its revision suffix", () => {
    const name = "a".repeat(250)
    expect(Result.isSuccess(validateResourceName(name, 7))).toBe(true)
    expect(failure(validateResourceName(name, 1234)).message).toContain("longer than 253")
  })

  it.each(["", ".", "..", "..data", "a/b", "a b", "x".repeat(254)])("refuses data key %j", (key) => {
    expect(failure(validateDataKey(key))).toMatchObject({ _tag: "LayoutNameInvalid", what: "key", value: key })
  })

  it("expects a directory for every listed resource of the revisions", () => {
    const expected = expectedResources(revisions)
    const count = operandList().reduce((n, o) => n + o.configMaps.length + o.secrets.length, 0)
    expect(expected).toHaveLength(count)
    expect(expected[0]).toEqual({
      operand: "etcd",
      kind: "configmap",
      name: "etcd-pod",
      optional: false,
      path: "static-pod-resources/etcd-pod-3/configmaps/etcd-pod",
    })
    for (const r of expected) {
      expect(ok(classifyEntry(r.path, revisions))).toMatchObject({ kind: "resource-directory", operand: r.operand, name: r.name, listed: true })
    }
  })
})

describe("classifyEntry", () => {
  it.each<[string, Partial<LayoutEntry>]>([
    ["static-pod-resources", { kind: "root" }],
    ["static-pod-resources/", { kind: "root" }],
    ["./static-pod-resources/", { kind: "root" }],
    ["static-pod-resources/etcd-pod-3/", { kind: "pod-directory", operand: "etcd" }],
    ["static-pod-resources/kube-scheduler-pod-6/kube-scheduler-pod.yaml", { kind: "pod-manifest", operand: "kube-scheduler", mode: 0o600 }],
    ["static-pod-resources/kube-apiserver-pod-7/secrets/", { kind: "resource-kind-directory", operand: "kube-apiserver", resourceKind: "secret" }],
    ["static-pod-resources/kube-apiserver-pod-7/secrets/encryption-config/", { kind: "resource-directory", name: "encryption-config", listed: true }],
    ["static-pod-resources/kube-apiserver-pod-7/configmaps/extra/", { kind: "resource-directory", name: "extra", listed: false }],
    ["static-pod-resources/kube-controller-manager-pod-5/configmaps/config/config.yaml", { kind: "resource-file", key: "config.yaml", mode: 0o600 }],
    ["static-pod-resources/etcd-pod-3/configmaps/etcd-scripts/etcd.sh", { kind: "resource-file", key: "etcd.sh", mode: 0o755 }],
  ])("accepts %j", (path, expected) => {
    expect(ok(classifyEntry(path, revisions))).toMatchObject(expected)
    expect(isAllowedEntry(path, revisions)).toBe(true)
  })

  it.each([
    ["/static-pod-resources/etcd-pod-3/etcd-pod.yaml", "absolute path"],
    ["../static-pod-resources/etcd-pod-3/etcd-pod.yaml", '".." path segment'],
    ["static-pod-resources/../etc/passwd", '".." path segment'],
    ["static-pod-resources/etcd-pod-3/configmaps/../../../../etc/shadow", '".." path segment'],
    ["static-pod-resources/./etcd-pod-3/etcd-pod.yaml", '"." path segment'],
    ["static-pod-resources//etcd-pod-3", "empty path segment"],
    ["", "empty path segment"],
    ["etc/kubernetes/static-pod-resources/etcd-pod-3/etcd-pod.yaml", "not under static-pod-resources/"],
    ["manifests/etcd-pod.yaml", "not under static-pod-resources/"],
    ["static-pod-resources/etcd-pod-4/etcd-pod.yaml", "is not revision 3 of etcd"],
    ["static-pod-resources/kube-apiserver-pod-6/", "is not revision 7 of kube-apiserver"],
    ["static-pod-resources/openshift-apiserver-pod-3/", "is not the directory of an operand"],
    ["static-pod-resources/etcd-pod-3/etcd-certs/x", "neither configmaps/, secrets/"],
    ["static-pod-resources/etcd-pod-3/kube-apiserver-pod.yaml", "neither configmaps/, secrets/"],
    ["static-pod-resources/etcd-pod-3/etcd-pod.yaml/", "a file of the layout written as a directory"],
    ["static-pod-resources/etcd-pod-3/configmaps/Etcd/x", "DNS-1123"],
    ["static-pod-resources/etcd-pod-3/configmaps/etcd-pod/..data", "must not start with '..'"],
    ["static-pod-resources/etcd-pod-3/configmaps/etcd-pod/a b", "letters, digits"],
    ["static-pod-resources/etcd-pod-3/configmaps/etcd-pod/pod.yaml/", "a data key written as a directory"],
    ["static-pod-resources/etcd-pod-3/configmaps/etcd-pod/pod.yaml/x", "deeper than"],
  ])("refuses %j", (path, reason) => {
    const error = failure(classifyEntry(path, revisions))
    expect(error._tag).toBe("EntryOutsideLayout")
    expect(error.path).toBe(path)
    expect(error.reason).toContain(reason)
    expect(isAllowedEntry(path, revisions)).toBe(false)
  })

  /** Paths assembled from segments a hostile archive might use. */
  const segmentArb = fc.oneof(
    fc.constantFrom("static-pod-resources", "configmaps", "secrets", "..", ".", "", "etc", "etcd-pod.yaml", "pod.yaml", "a.sh"),
    operandArb.chain((o) =>
      fc.constantFrom(`${defaultOperands[o].podConfigMap}-3`, `${defaultOperands[o].podConfigMap}-7`, `${defaultOperands[o].podConfigMap}.yaml`),
    ),
    dnsSubdomainArb(30),
    fc.string({ maxLength: 6 }),
  )
  const pathArb = fc
    .tuple(fc.constantFrom("", "/", "./"), fc.array(segmentArb, { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([prefix, segments, slash]) => `${prefix}${segments.join("/")}${slash ? "/" : ""}`)

  test.prop([pathArb, revisionSetArb], { numRuns: 2000 })(
    "an accepted path is confined, under its operand's directory for the backup's revision",
    (path, set) => {
      const r = classifyEntry(path, set)
      if (Result.isFailure(r)) {
        expect(r.failure._tag).toBe("EntryOutsideLayout")
        return
      }
      const relative = (path.startsWith("./") ? path.slice(2) : path).replace(/\/$/, "")
      expect(isConfined(relative)).toBe(true)
      expect(relative.split("/")[0]).toBe("static-pod-resources")
      const entry = r.success
      if (entry.kind !== "root") expect(relative.startsWith(podDirectory(entry.operand, set[entry.operand]))).toBe(true)
      if (entry.kind === "resource-file")
        expect(ok(resourceFilePath(entry.operand, set[entry.operand], entry.resourceKind, entry.name, entry.key)).path).toBe(relative)
      if (path.endsWith("/")) expect(entry.directory).toBe(true)
    },
  )

  test.prop([operandArb, revisionSetArb], { numRuns: 200 })(
    "every operand's pod manifest and directories are allowed for its own revision only",
    (operand, set) => {
      expect(isAllowedEntry(podManifestPath(operand, set[operand]), set)).toBe(true)
      expect(isAllowedEntry(`${podDirectory(operand, set[operand])}/`, set)).toBe(true)
      expect(isAllowedEntry(podManifestPath(operand, set[operand] + 1), set)).toBe(false)
    },
  )

  it("marks as listed what the operand table it is given lists", () => {
    const path = "static-pod-resources/etcd-pod-3/configmaps/etcd-scripts/"
    expect(ok(classifyEntry(path, revisions))).toMatchObject({ listed: false })
    const table = {
      ...defaultOperands,
      etcd: { ...defaultOperands.etcd, configMaps: [...defaultOperands.etcd.configMaps, { name: "etcd-scripts", optional: true }] },
    }
    expect(ok(classifyEntry(path, revisions, table))).toMatchObject({ listed: true })
    expect(expectedResources(revisions, table).filter((r) => r.operand === "etcd")).toHaveLength(5)
    expect(operandNames.every((o) => isAllowedEntry(podManifestPath(o, revisions[o], table), revisions, table))).toBe(true)
  })
})
