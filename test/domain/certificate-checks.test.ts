import { fc, test } from "@fast-check/vitest"
import { beforeAll, describe, expect, it } from "vitest"
import { Schema } from "effect"
import { CertificateRecord, certificateRecord, checkCertificates, judgeBundleCertificates, type CertificateFile } from "../../src/domain/certificate-checks.ts"
import { certificateFactory, kubeconfigWith, type IssuedCertificate } from "../support/encrypted-fixtures.ts"
import { tempDir } from "../support/temp-dir.ts"

const day = 86_400_000
// Whole seconds: certificates carry no milliseconds.
const now = new Date(Math.floor(Date.now() / 1000) * 1000)
const at = (days: number) => new Date(now.getTime() + days * day)
const file = (path: string, text: string): CertificateFile => ({ path, bytes: Buffer.from(text) })
const dir = "static-pod-resources/kube-apiserver-pod-7"

const work = tempDir("certificate-checks")
let certs: Record<"oldCa" | "ca" | "expired" | "expiring" | "valid" | "nextCa", IssuedCertificate>

beforeAll(() => {
  const make = certificateFactory(work)
  const oldCa = make.ca("old-signer", at(-800), at(-5))
  const ca = make.ca("kube-apiserver-signer", at(-10), at(3650))
  certs = {
    oldCa,
    ca,
    expired: make.leaf("expired-serving", ca, at(-9), at(-1)),
    expiring: make.leaf("expiring-serving", ca, at(-9), at(10)),
    valid: make.leaf("valid-serving", ca, at(-1), at(365)),
    nextCa: make.ca("next-signer", at(20), at(4000)),
  }
})

const verdictOf = (files: ReadonlyArray<CertificateFile>) => checkCertificates(files, now).verdict

describe("checkCertificates on certificates made by openssl", () => {
  it("gives FAIL, WARN, PASS and PASS for an expired, an expiring, a valid certificate and a CA bundle mixing an expired and a valid CA", () => {
    expect(verdictOf([file(`${dir}/secrets/a/tls.crt`, certs.expired.certPem)])).toBe("FAIL")
    expect(verdictOf([file(`${dir}/secrets/b/tls.crt`, certs.expiring.certPem)])).toBe("WARN")
    expect(verdictOf([file(`${dir}/secrets/c/tls.crt`, certs.valid.certPem)])).toBe("PASS")
    expect(verdictOf([file(`${dir}/configmaps/client-ca/ca-bundle.crt`, certs.oldCa.certPem + certs.ca.certPem)])).toBe("PASS")
  })

  it("says what it found: the expired leaf's date, the old CA as information, the soonest expiry", () => {
    const report = checkCertificates(
      [
        file(`${dir}/secrets/a/tls.crt`, certs.expired.certPem),
        file(`${dir}/secrets/b/tls.crt`, certs.expiring.certPem),
        file(`${dir}/configmaps/client-ca/ca-bundle.crt`, certs.oldCa.certPem + certs.ca.certPem),
      ],
      now,
    )
    expect(report.verdict).toBe("FAIL")
    expect(report.count).toBe(4)
    const [expired, expiring, bundle] = report.sources
    expect(expired).toMatchObject({ kind: "leaf", verdict: "FAIL" })
    expect(expired!.message).toContain(`certificate expired at ${at(-1).toISOString().replace(".000Z", "Z")}`)
    expect(expiring!.message).toContain("certificate expires in 10 days")
    expect(bundle).toMatchObject({ kind: "ca-bundle", verdict: "PASS" })
    expect(bundle!.certificates.map((c) => c.verdict)).toEqual(["INFO", "PASS"])
    expect(bundle!.message).toContain("CN=old-signer: CA expired at")
    expect(report.soonestExpiry).toMatchObject({ subject: "CN=expiring-serving", notAfter: at(10) })
    expect(report.message).toContain("the soonest expiry is CN=expiring-serving")
  })

  it("says 'all valid' only when they are: a bundle's rotated-out CA is counted as usable, not valid", () => {
    const valid = checkCertificates([file(`${dir}/secrets/c/tls.crt`, certs.valid.certPem)], now)
    expect(valid.message).toMatch(/^1 certificate in 1 source, all valid/)
    const rotated = checkCertificates(
      [file(`${dir}/secrets/c/tls.crt`, certs.valid.certPem), file(`${dir}/configmaps/client-ca/ca-bundle.crt`, certs.oldCa.certPem + certs.ca.certPem)],
      now,
    )
    expect(rotated.verdict).toBe("PASS")
    expect(rotated.message).toMatch(/^3 certificates in 2 sources, all usable \(1 CA expired or not yet valid beside a valid one in its bundle\)/)
  })

  it("fails a CA bundle with no certificate valid now, even one published ahead of a rotation", () => {
    const report = checkCertificates([file(`${dir}/configmaps/etcd-serving-ca/ca-bundle.crt`, certs.oldCa.certPem + certs.nextCa.certPem)], now)
    expect(report.sources[0]).toMatchObject({ kind: "ca-bundle", verdict: "FAIL" })
    expect(report.sources[0]!.message).toContain("with none valid at")
  })

  it("warns when the longest-lived CA of a bundle expires within the horizon, not when a longer one stands beside it", () => {
    const bundle = (pem: string) => checkCertificates([file(`${dir}/configmaps/x/ca.crt`, pem)], now, 4000).sources[0]!.verdict
    expect(bundle(certs.ca.certPem)).toBe("WARN")
    expect(checkCertificates([file(`${dir}/configmaps/x/ca.crt`, certs.ca.certPem + certs.nextCa.certPem)], at(25), 3700).sources[0]!.verdict).toBe("PASS")
  })

  it("reads kubeconfigs' base64 certificate-authority-data and client-certificate-data, never the key", () => {
    const report = checkCertificates(
      [file(`${dir}/configmaps/kube-apiserver-cert-syncer-kubeconfig/kubeconfig`, kubeconfigWith(certs.ca.certPem, certs.expiring.certPem))],
      now,
    )
    expect(report.sources.map((s) => [s.source.replace(`${dir}/configmaps/kube-apiserver-cert-syncer-kubeconfig/`, ""), s.kind, s.verdict])).toEqual([
      ["kubeconfig (clusters[0].cluster.certificate-authority-data)", "ca-bundle", "PASS"],
      ["kubeconfig (users[0].user.client-certificate-data)", "leaf", "WARN"],
    ])
  })

  it("treats a leaf followed by its chain as a serving certificate, and a lone CA under any name as a bundle", () => {
    const chained = checkCertificates([file(`${dir}/secrets/s/tls.crt`, certs.expired.certPem + certs.ca.certPem)], now).sources[0]!
    expect(chained).toMatchObject({ kind: "leaf", verdict: "FAIL" })
    expect(chained.certificates.map((c) => c.role)).toEqual(["leaf", "chain"])
    expect(checkCertificates([file(`${dir}/secrets/signer/signer.crt`, certs.ca.certPem)], now).sources[0]!.kind).toBe("ca-bundle")
  })

  it("fails a source holding a PEM block that is not a certificate", () => {
    const broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    const report = checkCertificates([file(`${dir}/secrets/s/tls.crt`, certs.valid.certPem + broken)], now)
    expect(report.verdict).toBe("FAIL")
    expect(report.sources[0]!.message).toContain("certificate 1 does not parse as X.509")
  })

  it("reads a hostile file of BEGIN lines without an END in time linear in its size, finding the one certificate", () => {
    // A backup's tarball may come from anyone able to write where it is kept: verify reads it before refusing it. At the
    // per-file bound (4 MiB) the quadratic search took many minutes; the bound below only tells a stall from a slow machine.
    const hostile = "-----BEGIN CERTIFICATE-----\n".repeat((4 * 1024 * 1024) / 28)
    const started = performance.now()
    const report = checkCertificates([file(`${dir}/secrets/s/tls.crt`, certs.valid.certPem + hostile)], now)
    expect(performance.now() - started).toBeLessThan(30_000)
    expect(report.count).toBe(1)
    expect(report.sources[0]!.certificates).toHaveLength(1)
  })

  it("reads a hostile kubeconfig-like file of many keys in time linear in its size", () => {
    // 200k keys: minutes for the parser's quadratic check; the bound only tells a stall from a slow machine.
    const hostile = `certificate-authority-data: ${Buffer.from(certs.valid.certPem).toString("base64")}\n${Array.from({ length: 200_000 }, (_, i) => `k${i}: v`).join("\n")}\n`
    const started = performance.now()
    const report = checkCertificates([file(`${dir}/configmaps/c/kubeconfig`, hostile)], now)
    expect(performance.now() - started).toBeLessThan(30_000)
    expect(report.count).toBe(1)
  })

  it("ignores files without certificates", () => {
    expect(
      checkCertificates(
        [
          file(`${dir}/secrets/s/tls.key`, "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----\n"),
          file(`${dir}/kube-apiserver-pod.yaml`, "kind: Pod\n"),
        ],
        now,
      ),
    ).toMatchObject({
      verdict: "PASS",
      count: 0,
      message: "no certificates found",
    })
  })

  test.prop([fc.uint8Array({ maxLength: 400 }), fc.constantFrom("tls.crt", "ca-bundle.crt", "kubeconfig")], { numRuns: 300 })(
    "never throws on arbitrary bytes",
    (bytes, name) => {
      const withMarkers = Buffer.concat([
        Buffer.from("client-certificate-data: "),
        bytes,
        Buffer.from("\n-----BEGIN CERTIFICATE-----\n"),
        bytes,
        Buffer.from("\n-----END CERTIFICATE-----\n"),
      ])
      expect(() =>
        checkCertificates(
          [
            { path: name, bytes },
            { path: name, bytes: withMarkers },
          ],
          now,
        ),
      ).not.toThrow()
    },
  )
})

describe("the bundle's certificate record and verdict", () => {
  const files = () => ({
    expired: file(`${dir}/secrets/a/tls.crt`, certs.expired.certPem),
    expiring: file(`${dir}/secrets/b/tls.crt`, certs.expiring.certPem),
    valid: file(`${dir}/secrets/c/tls.crt`, certs.valid.certPem),
    bundle: file(`${dir}/configmaps/client-ca/ca-bundle.crt`, certs.oldCa.certPem + certs.ca.certPem),
    noneValid: file(`${dir}/configmaps/etcd-serving-ca/ca-bundle.crt`, certs.oldCa.certPem + certs.nextCa.certPem),
  })

  it("records the soonest expiry and every WARN/FAIL source with its worst certificate's subject", () => {
    const f = files()
    const record = certificateRecord(checkCertificates([f.expired, f.expiring, f.bundle, f.noneValid], now), 30)
    expect(record).toMatchObject({ verdict: "FAIL", warnDays: 30, count: 6 })
    expect(record.soonestExpiry).toEqual({ source: f.expiring.path, subject: "CN=expiring-serving", notAfter: at(10).toISOString().replace(".000Z", "Z") })
    expect(record.problems.map((p) => [p.source, p.verdict, p.subject])).toEqual([
      [f.expired.path, "FAIL", "CN=expired-serving"],
      [f.expiring.path, "WARN", "CN=expiring-serving"],
      [f.noneValid.path, "FAIL", "CN=old-signer"],
    ])
  })

  it("fails only what was wrong at backup time; what expired since, or expires soon, warns", () => {
    const f = files()
    const later = at(400)
    const sinceThen = judgeBundleCertificates([f.valid, f.bundle], now, later)
    expect(sinceThen.verdict).toBe("WARN")
    expect(sinceThen.problems.map((p) => [p.source, p.verdict])).toEqual([[f.valid.path, "WARN"]])
    expect(sinceThen.problems[0]!.message).toContain("certificate expired at")
    const broken = judgeBundleCertificates([f.expired, f.expiring], now, now)
    expect(broken.verdict).toBe("FAIL")
    expect(broken.problems.map((p) => [p.source, p.verdict])).toEqual([
      [f.expired.path, "FAIL"],
      [f.expiring.path, "WARN"],
    ])
    expect(judgeBundleCertificates([f.valid, f.bundle], now, now).verdict).toBe("PASS")
  })

  test.prop(
    [fc.subarray(["expired", "expiring", "valid", "bundle", "noneValid"] as const), fc.integer({ min: -900, max: 4000 }), fc.integer({ min: 0, max: 400 })],
    { numRuns: 60 },
  )("the record decodes, lists exactly the sources that did not pass, and fails iff one of them fails", (names, offsetDays, warnDays) => {
    const f = files()
    const report = checkCertificates(
      names.map((n) => f[n]),
      at(offsetDays),
      warnDays,
    )
    const record = certificateRecord(report, warnDays)
    expect(Schema.decodeUnknownSync(CertificateRecord)(JSON.parse(JSON.stringify(record)))).toEqual(record)
    expect(record.problems.map((p) => p.source)).toEqual(report.sources.filter((s) => s.verdict !== "PASS").map((s) => s.source))
    expect(record.verdict === "FAIL").toBe(record.problems.some((p) => p.verdict === "FAIL"))
    const judged = judgeBundleCertificates(
      names.map((n) => f[n]),
      now,
      at(offsetDays),
      warnDays,
    )
    expect(judged.verdict === "FAIL").toBe(
      checkCertificates(
        names.map((n) => f[n]),
        now,
        warnDays,
      ).verdict === "FAIL",
    )
  })
})
