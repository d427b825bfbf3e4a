import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  clusterVersionFacts,
  compareVersions,
  hostReleaseOf,
  parseOpenShiftVersion,
  restoreVersionCheck,
  sameRelease,
  staticPodRevision,
  type OpenShiftVersion,
} from "../../src/domain/version-compatibility.ts"

const v = (text: string): OpenShiftVersion => Result.getOrThrow(parseOpenShiftVersion(text))

describe("parseOpenShiftVersion", () => {
  it.each([
    ["4.16.3", { major: 4, minor: 16, patch: 3, prerelease: [] }],
    ["4.17.0-rc.1", { major: 4, minor: 17, patch: 0, prerelease: ["rc", "1"] }],
    ["4.16.0-0.nightly-2024-05-01-111111", { major: 4, minor: 16, patch: 0, prerelease: ["0", "nightly-2024-05-01-111111"] }],
    ["4.15.0-0.okd-2024-03-10-010116", { major: 4, minor: 15, patch: 0, prerelease: ["0", "okd-2024-03-10-010116"] }],
  ])("reads %s", (text, expected) => {
    expect(v(text)).toMatchObject({ ...expected, text })
  })

  it.each(["", "4.16", "4.16.x", "04.16.3", "4.16.3-", "4.16.3-rc..1", "latest"])("refuses %j", (text) => {
    expect(Result.isFailure(parseOpenShiftVersion(text))).toBe(true)
  })

  test.prop([fc.string({ maxLength: 40 })], { numRuns: 500 })("never throws", (text) => {
    expect(() => parseOpenShiftVersion(text)).not.toThrow()
  })
})

const identifier = fc.oneof(fc.nat({ max: 30 }).map(String), fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/))
const versionArb = fc
  .record({
    major: fc.nat({ max: 5 }),
    minor: fc.nat({ max: 20 }),
    patch: fc.nat({ max: 60 }),
    pre: fc.array(identifier, { maxLength: 3 }),
  })
  .map(({ major, minor, patch, pre }) => v(`${major}.${minor}.${patch}${pre.length > 0 ? `-${pre.join(".")}` : ""}`))

describe("compareVersions", () => {
  it("orders pre-releases before their release and numbers numerically", () => {
    const sorted = ["4.17.0", "4.16.10", "4.17.0-rc.1", "4.16.3", "4.17.0-rc.10", "4.17.0-ec.2", "4.17.0-rc.2", "4.9.59"]
      .map(v)
      .sort(compareVersions)
      .map((x) => x.text)
    expect(sorted).toEqual(["4.9.59", "4.16.3", "4.16.10", "4.17.0-ec.2", "4.17.0-rc.1", "4.17.0-rc.2", "4.17.0-rc.10", "4.17.0"])
  })

  test.prop([versionArb, versionArb, versionArb], { numRuns: 500 })("is a total order", (a, b, c) => {
    expect(compareVersions(a, b)).toBe(-compareVersions(b, a) || 0)
    expect(compareVersions(a, a)).toBe(0)
    if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c)).toBeLessThanOrEqual(0)
  })

  test.prop([versionArb], { numRuns: 300 })("reads back what it prints", (a) => {
    expect(compareVersions(v(a.text), a)).toBe(0)
  })

  it("treats build metadata as the same release, a pre-release as another", () => {
    expect(sameRelease(v("4.16.3"), v("4.16.3+build.5"))).toBe(true)
    expect(sameRelease(v("4.17.0-rc.1"), v("4.17.0"))).toBe(false)
  })
})

describe("restoreVersionCheck", () => {
  it("passes the same release", () => {
    expect(restoreVersionCheck("4.16.3", "4.16.3", false)._tag).toBe("Same")
  })

  it.each([
    ["4.16.3", "4.16.5", "another z-release of 4.16"],
    ["4.16.3", "4.17.3", "another minor version"],
  ])("refuses %s onto %s unless allowed", (backup, host, relation) => {
    const refused = restoreVersionCheck(backup, host, false)
    expect(refused).toMatchObject({ _tag: "Mismatch", allowed: false })
    expect(refused.message).toContain(`the backup is OpenShift ${backup} and the host runs ${host} (${relation})`)
    expect(refused.message).toContain("--allow-version-mismatch")
    expect(restoreVersionCheck(backup, host, true)).toMatchObject({ _tag: "Mismatch", allowed: true })
  })

  it("says it could not compare when a side is unknown or unreadable", () => {
    expect(restoreVersionCheck(undefined, "4.16.3", false)).toMatchObject({
      _tag: "Unknown",
      message: expect.stringContaining("the backup's OpenShift version"),
    })
    expect(restoreVersionCheck("4.16.3", undefined, false)).toMatchObject({ _tag: "Unknown", message: expect.stringContaining("the host's release") })
    expect(restoreVersionCheck("4.16.3", "quay.io/x:latest", false)).toMatchObject({
      _tag: "Unknown",
      message: expect.stringContaining("is not an OpenShift version"),
    })
  })
})

describe("clusterVersionFacts", () => {
  const stored = (status: unknown) =>
    JSON.stringify({
      apiVersion: "config.openshift.io/v1",
      kind: "ClusterVersion",
      metadata: { name: "version" },
      spec: { clusterID: "0b5a1c2e-1111-4f4f-9c9c-123456789abc", channel: "stable-4.16" },
      status,
    })

  it("takes the newest completed update from history (newest first)", () => {
    const text = stored({
      desired: { version: "4.16.5", image: "quay.io/openshift-release-dev/ocp-release@sha256:x" },
      history: [
        { state: "Partial", version: "4.16.5", startedTime: "2026-11-30T10:00:00Z" },
        { state: "Completed", version: "4.16.3", startedTime: "2026-10-01T10:00:00Z" },
        { state: "Completed", version: "4.15.20", startedTime: "2026-08-01T10:00:00Z" },
      ],
    })
    expect(Result.getOrThrow(clusterVersionFacts(text))).toEqual({ version: "4.16.3", source: "completed", clusterId: "0b5a1c2e-1111-4f4f-9c9c-123456789abc" })
  })

  it("falls back to the desired version while nothing has completed", () => {
    const facts = Result.getOrThrow(clusterVersionFacts(stored({ desired: { version: "4.17.0" }, history: [{ state: "Partial", version: "4.17.0" }] })))
    expect(facts).toMatchObject({ version: "4.17.0", source: "desired" })
  })

  it("says when there is no version, and refuses what is not a ClusterVersion's JSON", () => {
    expect(Result.getOrThrow(clusterVersionFacts(stored({})))).toEqual({
      version: undefined,
      source: undefined,
      clusterId: "0b5a1c2e-1111-4f4f-9c9c-123456789abc",
    })
    expect(Result.isFailure(clusterVersionFacts("k8s\u0000proto"))).toBe(true)
    expect(Result.isFailure(clusterVersionFacts(JSON.stringify({ status: { history: "x" } })))).toBe(true)
  })
})

describe("the host's release from its static pod files", () => {
  it("reads the revision label of a static pod manifest, YAML or JSON", () => {
    expect(staticPodRevision('apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  labels:\n    revision: "9"\n')).toEqual(Result.succeed(9))
    expect(staticPodRevision('{"kind":"Pod","metadata":{"labels":{"app":"x","revision":"12"}}}')).toEqual(Result.succeed(12))
    for (const text of ["kind: Pod # kube-apiserver\n", "metadata:\n  labels:\n    revision: '0'\n", "metadata: {labels: {revision: x}}", ": ["]) {
      expect(Result.isFailure(staticPodRevision(text)), text).toBe(true)
    }
  })

  it("takes a version file's one release, with or without its newline, and nothing else", () => {
    expect(hostReleaseOf("4.16.5\n")).toEqual(Result.succeed("4.16.5"))
    expect(hostReleaseOf("4.17.0-rc.1")).toEqual(Result.succeed("4.17.0-rc.1"))
    expect(hostReleaseOf("4.18.0-ec.2\n")).toEqual(Result.succeed("4.18.0-ec.2"))
    // What an operator built from a release branch prints on every z-release: no z-stream to compare.
    const build = hostReleaseOf("4.16.0-202406131906.p0.g1a2b3c4.assembly.stream.el9")
    expect(Result.isFailure(build) && build.failure.message).toContain("is a build version, not a release")
    for (const text of ["", "4.16", " 4.16.5", "4.16.5\n\n", "4.16.5\nx"]) expect(Result.isFailure(hostReleaseOf(text)), JSON.stringify(text)).toBe(true)
  })

  test.prop([fc.integer({ min: 1, max: 999_999_999 }), fc.string({ maxLength: 20 })], { numRuns: 300 })(
    "reads back any positive revision label, and never throws on any text",
    (revision, noise) => {
      expect(staticPodRevision(`metadata:\n  labels:\n    revision: "${revision}"\n`)).toEqual(Result.succeed(revision))
      expect(() => staticPodRevision(noise)).not.toThrow()
      expect(() => hostReleaseOf(noise)).not.toThrow()
    },
  )

  test.prop([versionArb], { numRuns: 300 })("a version file holding a release reads back as that release; a build version is no release", (a) => {
    const published = a.prerelease.length === 0 || /^(rc|ec|fc)\.\d+$/.test(a.prerelease.join("."))
    expect(hostReleaseOf(`${a.text}\n`)).toEqual(published ? Result.succeed(a.text) : Result.fail(expect.anything()))
  })
})
