import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { backupPolicyType, knownResourceTypes, kubeApiPermissions, parseResourcePath, podType, resourcePath } from "../../../src/services/kube/resources.ts"

const row = (apiGroup: string, resource: string, verb: string, namespaced: boolean) => ({ apiGroup, resource, verb, namespaced })

describe("resource table", () => {
  it("lists exactly what the live Layer can issue", () => {
    const crVerbs = (plural: string) => ["get", "list", "watch", "patch"].map((v) => row("operator.openshift.io", plural, v, false))
    expect(kubeApiPermissions).toEqual([
      row("", "configmaps", "get", true),
      row("", "configmaps", "list", true),
      row("", "configmaps", "watch", true),
      row("", "configmaps", "create", true),
      row("", "configmaps", "update", true),
      row("", "configmaps", "patch", true),
      row("", "events", "list", true),
      row("", "events", "create", true),
      row("", "pods", "get", true),
      row("", "pods", "list", true),
      row("", "pods", "watch", true),
      row("", "pods", "create", true),
      row("", "pods", "delete", true),
      row("", "pods/exec", "get", true),
      row("", "pods/exec", "create", true),
      row("", "secrets", "get", true),
      row("", "secrets", "list", true),
      row("", "secrets", "create", true),
      row("", "secrets", "update", true),
      row("", "secrets", "patch", true),
      row("backup.openshift.io", "backuppolicies", "get", false),
      row("backup.openshift.io", "backuppolicies", "list", false),
      row("backup.openshift.io", "backuppolicies", "watch", false),
      row("backup.openshift.io", "backuppolicies", "patch", false),
      row("backup.openshift.io", "backuppolicies/status", "update", false),
      row("coordination.k8s.io", "leases", "get", true),
      row("coordination.k8s.io", "leases", "create", true),
      row("coordination.k8s.io", "leases", "update", true),
      ...crVerbs("etcds"),
      ...crVerbs("kubeapiservers"),
      ...crVerbs("kubecontrollermanagers"),
      ...crVerbs("kubeschedulers"),
    ])
  })

  it("builds the REST paths of the API", () => {
    const [configMaps, , , , leases, etcds] = knownResourceTypes
    expect(resourcePath(configMaps!, "openshift-etcd", "etcd-pod-3")).toBe("/api/v1/namespaces/openshift-etcd/configmaps/etcd-pod-3")
    expect(resourcePath(configMaps!, "openshift-etcd")).toBe("/api/v1/namespaces/openshift-etcd/configmaps")
    expect(resourcePath(leases!, "ns", "l")).toBe("/apis/coordination.k8s.io/v1/namespaces/ns/leases/l")
    expect(resourcePath(etcds!, undefined, "cluster")).toBe("/apis/operator.openshift.io/v1/etcds/cluster")
    expect(parseResourcePath("/apis/operator.openshift.io/v1/etcds")).toEqual({ type: etcds })
    expect(parseResourcePath("/api/v1/namespaces/ns/widgets")).toBeUndefined()
    expect(parseResourcePath("/apis/operator.openshift.io/v1/namespaces/ns/etcds/cluster")).toBeUndefined()
    expect(parseResourcePath("/api/v1/namespaces/ns/configmaps/a/b")).toBeUndefined()
    // A malformed escape used to throw out of the simulated API server's request handler.
    expect(parseResourcePath("/api/v1/namespaces/ns/configmaps/%E0%A4%A")).toBeUndefined()
    expect(parseResourcePath("/api/v1/namespaces/n%73/configmaps/a%2Db")?.name).toBe("a-b")
  })

  it("addresses the status subresource of a type that has one, and no other subresource", () => {
    expect(resourcePath(backupPolicyType, undefined, "nightly", "status")).toBe("/apis/backup.openshift.io/v1alpha1/backuppolicies/nightly/status")
    expect(resourcePath(backupPolicyType, "ignored", "nightly")).toBe("/apis/backup.openshift.io/v1alpha1/backuppolicies/nightly")
    expect(parseResourcePath("/apis/backup.openshift.io/v1alpha1/backuppolicies/nightly/status")).toEqual({
      type: backupPolicyType,
      name: "nightly",
      subresource: "status",
    })
    expect(parseResourcePath("/api/v1/namespaces/ns/pods/p/status")).toEqual({ type: podType, namespace: "ns", name: "p", subresource: "status" })
    expect(parseResourcePath("/api/v1/namespaces/ns/configmaps/c/status")).toBeUndefined()
    expect(parseResourcePath("/api/v1/namespaces/ns/pods/p/log")).toBeUndefined()
    expect(parseResourcePath("/apis/backup.openshift.io/v1alpha1/namespaces/ns/backuppolicies/nightly")).toBeUndefined()
  })

  const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,10}[a-z0-9])?$/)
  test.prop([fc.constantFrom(...knownResourceTypes), name, fc.option(name, { nil: undefined })])(
    "parsing a built path gives back the type, namespace and name",
    (type, namespace, objectName) => {
      const ns = type.namespaced ? namespace : undefined
      expect(parseResourcePath(resourcePath(type, ns, objectName))).toEqual({
        type,
        ...(ns === undefined ? {} : { namespace: ns }),
        ...(objectName === undefined ? {} : { name: objectName }),
      })
    },
  )
})

describe("data keys named like Object.prototype members", () => {
  it("read back as their own values, or as absent", async () => {
    const { configMapBytes, secretBytes, secretData } = await import("../../../src/services/kube/schemas.ts")
    const cm = { data: { toString: "a" }, binaryData: { constructor: new Uint8Array([1]) } }
    expect(new TextDecoder().decode(configMapBytes(cm, "toString"))).toBe("a")
    expect(configMapBytes(cm, "constructor")).toEqual(new Uint8Array([1]))
    expect(configMapBytes(cm, "hasOwnProperty")).toBeUndefined()
    expect(secretBytes({ data: secretData({ valueOf: "s" }) }, "toString")).toBeUndefined()
  })
})
