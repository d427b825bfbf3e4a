import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { dnsSubdomainProblem } from "../../src/domain/k8s-names.ts"
import {
  applyResourceOverrides,
  decodeResourceOverrides,
  defaultOperands,
  maxResourceNameLength,
  operandList,
  operandNames,
  operandTableWithOverrides,
  type ResourceOverrides,
  type RevisionedResource,
  resourceOverridesOf,
  encodeResourceOverrides,
} from "../../src/domain/operands.ts"
import { dnsSubdomainArb, operandArb } from "./arbitraries.ts"
import { failure } from "../support/result-failure.ts"

describe("the default operand table", () => {
  it("lists the four operands in init-container order", () => {
    expect(operandList().map((o) => o.name)).toEqual(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"])
    expect(operandList().map((o) => o.short)).toEqual(["etcd", "kas", "kcm", "ks"])
    expect(operandList().map((o) => o.statusKey)).toEqual(["etcd", "kubeApiserver", "kubeControllerManager", "kubeScheduler"])
  })

  it.each(operandNames)("%s: keyed by its own name, pod ConfigMap first and required, names valid and unique", (name) => {
    const operand = defaultOperands[name]
    expect(operand.name).toBe(name)
    expect(operand.namespace).toBe(`openshift-${name}`)
    expect(operand.podConfigMap).toBe(`${name}-pod`)
    expect(operand.configMaps[0]).toEqual({ name: operand.podConfigMap, optional: false })
    for (const list of [operand.configMaps, operand.secrets]) {
      expect(new Set(list.map((r) => r.name)).size).toBe(list.length)
      for (const r of list) {
        expect(dnsSubdomainProblem(r.name)).toBeUndefined()
        expect(r.name.length).toBeLessThanOrEqual(maxResourceNameLength)
      }
    }
  })

  it("keeps encryption-config (the snapshot's decryption keys) in kube-apiserver's secrets", () => {
    expect(defaultOperands["kube-apiserver"].secrets).toContainEqual({ name: "encryption-config", optional: true })
  })

  it("the default table passes the checks applied to user overrides", () => {
    const overrides = {
      operands: Object.fromEntries(operandList().map((o) => [o.name, { configMaps: o.configMaps, secrets: o.secrets }])),
    }
    const r = decodeResourceOverrides(JSON.stringify(overrides))
    expect(Result.isSuccess(r)).toBe(true)
    expect(applyResourceOverrides(defaultOperands, Result.getOrThrow(r))).toEqual(defaultOperands)
  })
})

const resourceArb: fc.Arbitrary<RevisionedResource> = fc.record({ name: dnsSubdomainArb(maxResourceNameLength), optional: fc.boolean() })
const uniqueList = (maxLength: number) => fc.uniqueArray(resourceArb, { selector: (r) => r.name, maxLength })

/** Valid overrides: any subset of operands, each replacing either list or both. */
const overridesArb: fc.Arbitrary<ResourceOverrides> = fc
  .record(
    {
      etcd: fc.record({ configMaps: uniqueList(5), secrets: uniqueList(5) }, { requiredKeys: [] }),
      "kube-apiserver": fc.record({ configMaps: uniqueList(5), secrets: uniqueList(5) }, { requiredKeys: [] }),
      "kube-controller-manager": fc.record({ configMaps: uniqueList(5), secrets: uniqueList(5) }, { requiredKeys: [] }),
      "kube-scheduler": fc.record({ configMaps: uniqueList(5), secrets: uniqueList(5) }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  )
  .map((operands) => {
    // The pod ConfigMap must stay, required: put it first where a ConfigMap list is replaced.
    const fixed = Object.fromEntries(
      Object.entries(operands).map(([name, o]) => {
        if (o.configMaps === undefined) return [name, o]
        const pod = defaultOperands[name as keyof typeof defaultOperands].podConfigMap
        return [name, { ...o, configMaps: [{ name: pod, optional: false }, ...o.configMaps.filter((r) => r.name !== pod)] }]
      }),
    )
    return { operands: fixed } as ResourceOverrides
  })

describe("decodeResourceOverrides", () => {
  it("reads a YAML file naming one operand", () => {
    const text = [
      "operands:",
      "  etcd:",
      "    configMaps:",
      "      - {name: etcd-pod, optional: false}",
      "      - {name: etcd-scripts, optional: true}",
      "    secrets: []",
    ].join("\n")
    const table = Result.getOrThrow(operandTableWithOverrides(text))
    expect(table.etcd.configMaps).toEqual([
      { name: "etcd-pod", optional: false },
      { name: "etcd-scripts", optional: true },
    ])
    expect(table.etcd.secrets).toEqual([])
    expect(table["kube-apiserver"]).toBe(defaultOperands["kube-apiserver"])
  })

  test.prop([overridesArb], { numRuns: 150 })("JSON and YAML texts of valid overrides decode to the same overrides", (overrides) => {
    expect(Result.getOrThrow(decodeResourceOverrides(JSON.stringify(overrides)))).toEqual(overrides)
    expect(Result.getOrThrow(decodeResourceOverrides(YAML.stringify(overrides)))).toEqual(overrides)
  })

  test.prop([overridesArb], { numRuns: 150 })("applying overrides replaces exactly the named lists", (overrides) => {
    const table = applyResourceOverrides(defaultOperands, overrides)
    for (const name of operandNames) {
      const o = overrides.operands[name]
      expect(table[name].configMaps).toEqual(o?.configMaps ?? defaultOperands[name].configMaps)
      expect(table[name].secrets).toEqual(o?.secrets ?? defaultOperands[name].secrets)
      expect({ ...table[name], configMaps: [], secrets: [] }).toEqual({ ...defaultOperands[name], configMaps: [], secrets: [] })
    }
  })

  const podCm = (operand: keyof typeof defaultOperands) => ({ name: defaultOperands[operand].podConfigMap, optional: false })

  it.each([
    ["not YAML", "operands: [", ""],
    ["a YAML alias", "a: &x {}\noperands: *x", ""],
    ["a list instead of a map", "- etcd", ""],
    ["an empty document", "", ""],
    ["no operands key", "{}", "operands"],
    ["an unknown operand", '{"operands": {"etcd2": {}}}', "operands.etcd2"],
    ["a misspelt list key", '{"operands": {"etcd": {"configmaps": []}}}', "operands.etcd.configmaps"],
    ["a list that is not a list", '{"operands": {"etcd": {"secrets": "etcd-all-certs"}}}', "operands.etcd.secrets"],
    ["optional not a boolean", '{"operands": {"etcd": {"secrets": [{"name": "a", "optional": "yes"}]}}}', "operands.etcd.secrets[0].optional"],
    ["a missing name", '{"operands": {"etcd": {"secrets": [{"optional": true}]}}}', "operands.etcd.secrets[0].name"],
    ["an unknown resource key", '{"operands": {"etcd": {"secrets": [{"name": "a", "optional": true, "kind": "x"}]}}}', "operands.etcd.secrets[0].kind"],
    ["an upper-case name", '{"operands": {"etcd": {"secrets": [{"name": "Etcd", "optional": true}]}}}', "operands.etcd.secrets[0].name"],
    ["a path as a name", '{"operands": {"etcd": {"secrets": [{"name": "../../etc", "optional": true}]}}}', "operands.etcd.secrets[0].name"],
    [
      "a repeated name",
      '{"operands": {"etcd": {"secrets": [{"name": "a", "optional": true}, {"name": "a", "optional": false}]}}}',
      "operands.etcd.secrets[1].name",
    ],
    [
      "a name too long for its revision suffix",
      JSON.stringify({ operands: { etcd: { secrets: [{ name: "a".repeat(maxResourceNameLength + 1), optional: true }] } } }),
      "operands.etcd.secrets[0].name",
    ],
    [
      "a ConfigMap list without the pod ConfigMap",
      '{"operands": {"kube-scheduler": {"configMaps": [{"name": "config", "optional": false}]}}}',
      "operands.kube-scheduler.configMaps",
    ],
    [
      "the pod ConfigMap marked optional",
      JSON.stringify({ operands: { etcd: { configMaps: [{ ...podCm("etcd"), optional: true }] } } }),
      "operands.etcd.configMaps",
    ],
  ])("refuses %s, naming the key", (_what, text, key) => {
    const error = failure(decodeResourceOverrides(text))
    expect(error._tag).toBe("ResourceOverridesInvalid")
    expect(error.key).toBe(key)
    expect(error.message).toContain("resource overrides:")
    if (key !== "") expect(error.message).toContain(key)
  })

  /** A valid document with one defect planted at a known key. */
  const defectArb = fc
    .tuple(overridesArb, operandArb, fc.constantFrom("configMaps", "secrets"), fc.integer({ min: 0, max: 4 }))
    .chain(([overrides, operand, list, at]) =>
      fc
        .constantFrom<[string, unknown, string]>(
          ["name", "UPPER", "name"],
          ["name", "", "name"],
          ["name", 7, "name"],
          ["name", "a/b", "name"],
          ["name", "-a", "name"],
          ["optional", "true", "optional"],
          ["optional", null, "optional"],
          ["extra", 1, "extra"],
        )
        .map(([field, value, keyField]) => {
          const base = list === "configMaps" ? [podCm(operand)] : []
          const filler = Array.from({ length: at }, (_, i) => ({ name: `filler-${i}`, optional: true }))
          const items: Array<Record<string, unknown>> = [...base, ...filler, { name: "target", optional: true, [field]: value }]
          const index = items.length - 1
          const document = { operands: { ...overrides.operands, [operand]: { [list]: items } } }
          return { document, key: `operands.${operand}.${list}[${index}].${keyField}` }
        }),
    )

  test.prop([defectArb], { numRuns: 200 })("every planted defect is refused with its key, never thrown", ({ document, key }) => {
    for (const text of [JSON.stringify(document), YAML.stringify(document)]) {
      const error = failure(decodeResourceOverrides(text))
      expect(error._tag).toBe("ResourceOverridesInvalid")
      expect(error.key).toBe(key)
    }
  })

  test.prop([fc.string({ maxLength: 200 })], { numRuns: 300 })("arbitrary text never throws", (text) => {
    const r = decodeResourceOverrides(text)
    if (Result.isFailure(r)) expect(r.failure._tag).toBe("ResourceOverridesInvalid")
  })
})

describe("overrides carried to the backup pod", () => {
  test.prop([overridesArb], { numRuns: 150 })("the encoded overrides of a table rebuild that table", (overrides) => {
    const table = applyResourceOverrides(defaultOperands, overrides)
    const carried = resourceOverridesOf(table)
    const rebuilt = carried === undefined ? defaultOperands : Result.getOrThrow(operandTableWithOverrides(encodeResourceOverrides(carried)))
    expect(rebuilt).toEqual(table)
  })

  it("the default table carries nothing", () => {
    expect(resourceOverridesOf(defaultOperands)).toBeUndefined()
  })
})
