/**
 * Certificate validity across a backup's files: every PEM certificate, including those inside
 * kubeconfigs' `certificate-authority-data` and `client-certificate-data` (base64 of PEM), judged
 * at a given instant.
 *
 * A source is either a serving/client certificate (`tls.crt` and the like: its first certificate
 * is the leaf, any further ones its chain) or a CA bundle (`ca-bundle.crt`, `ca.crt`, a name with
 * `ca` as a word such as `service-ca.crt`, a `certificate-authority-data` field, or a file whose
 * first certificate is a CA). Verdicts:
 * - FAIL: a leaf expired (or a source that holds an unreadable certificate); a CA bundle with no
 *   certificate valid now;
 * - WARN: a leaf, or a chain certificate, that expires within `warnDays` or is not valid yet; a
 *   CA bundle whose longest-lived valid certificate expires within `warnDays`;
 * - information only: expired or soon-expiring CAs beside a longer-lived valid one (rotation keeps
 *   the old CA in the bundle until it expires), and CAs not valid yet (the next one, published early).
 * Pure: the files and the instant are handed in.
 */
import { X509Certificate } from "node:crypto"
import { Result, Schema } from "effect"
import { Rfc3339Utc } from "./rfc3339.ts"
import { formatKeyPath } from "./schema-errors.ts"
import { parseYamlText } from "./yaml-text.ts"

/** `--cert-warn-days`' default: warn about what expires within this many days. */
export const defaultCertWarnDays = 30

export interface CertificateFile {
  /** As in the tarball (`static-pod-resources/kube-apiserver-pod-7/secrets/localhost-recovery-serving-certkey/tls.crt`). */
  readonly path: string
  readonly bytes: Uint8Array
}

export type CertificateVerdict = "PASS" | "WARN" | "FAIL"
export type SourceKind = "leaf" | "ca-bundle"

export interface CertificateFinding {
  /** Position in its source, from 0. */
  readonly index: number
  readonly role: "leaf" | "chain" | "ca"
  readonly subject: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** INFO: noted, not a problem. */
  readonly verdict: CertificateVerdict | "INFO"
  readonly message: string
}

export interface CertificateSource {
  /** The file, or the file and the kubeconfig field (`kubeconfig (users[0].user.client-certificate-data)`). */
  readonly source: string
  readonly kind: SourceKind
  readonly verdict: CertificateVerdict
  readonly message: string
  readonly certificates: ReadonlyArray<CertificateFinding>
}

export interface CertificateReport {
  readonly verdict: CertificateVerdict
  readonly sources: ReadonlyArray<CertificateSource>
  /** How many certificates were read. */
  readonly count: number
  /** The certificate valid now that expires first. */
  readonly soonestExpiry: { readonly source: string; readonly subject: string; readonly notAfter: Date } | undefined
  readonly message: string
}

const pemBegin = "-----BEGIN CERTIFICATE-----"
const pemEnd = "-----END CERTIFICATE-----"
const kubeconfigFields = ["certificate-authority-data", "client-certificate-data"] as const
const dayMs = 86_400_000

type Parsed = { readonly ok: true; readonly cert: X509Certificate } | { readonly ok: false }

interface RawSource {
  readonly source: string
  /** Set when the origin says what it is (a kubeconfig field). */
  readonly kind: SourceKind | undefined
  readonly name: string
  readonly certificates: ReadonlyArray<Parsed>
}

const parse = (input: string | Uint8Array): Parsed => {
  try {
    return { ok: true, cert: new X509Certificate(input) }
  } catch {
    return { ok: false }
  }
}

/**
 * Each `BEGIN CERTIFICATE` ... `END CERTIFICATE` block, in order. Found by `indexOf`, in time linear in the text: a lazy
 * regular expression rescans to the end from every BEGIN without an END after it, quadratic in a file of such lines (a
 * backup's tarball may be anyone's who can write where it is kept, and verify reads it before refusing it).
 */
const pemBlocks = (text: string): ReadonlyArray<string> => {
  const blocks: Array<string> = []
  for (let at = text.indexOf(pemBegin); at !== -1; ) {
    const end = text.indexOf(pemEnd, at + pemBegin.length)
    if (end === -1) break
    blocks.push(text.slice(at, end + pemEnd.length))
    at = text.indexOf(pemBegin, end + pemEnd.length)
  }
  return blocks
}

const pemCertificates = (text: string): ReadonlyArray<Parsed> => pemBlocks(text).map(parse)

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => v !== null && typeof v === "object" && !Array.isArray(v)

/** Every `certificate-authority-data` / `client-certificate-data` string in a YAML or JSON document, with its path. */
const dataFields = (
  value: unknown,
  path: ReadonlyArray<PropertyKey> = [],
): ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly field: string; readonly data: string }> => {
  if (Array.isArray(value)) return value.flatMap((item, i) => dataFields(item, [...path, i]))
  if (!isRecord(value)) return []
  return Object.entries(value).flatMap(([key, v]) =>
    typeof v === "string" && (kubeconfigFields as ReadonlyArray<string>).includes(key)
      ? [{ path: [...path, key], field: key, data: v }]
      : dataFields(v, [...path, key]),
  )
}

const sourcesOf = (file: CertificateFile): ReadonlyArray<RawSource> => {
  const name = file.path.split("/").at(-1) ?? file.path
  const text = Buffer.from(file.bytes).toString("latin1")
  const own = pemCertificates(text)
  const sources: Array<RawSource> = own.length > 0 ? [{ source: file.path, kind: undefined, name, certificates: own }] : []
  if (!kubeconfigFields.some((f) => text.includes(f))) return sources
  // Only the data fields are looked for; a tarball's file may be anyone's (see pemBlocks), and checking its keys for
  // repeats is quadratic in their number (minutes for one file of 4 MiB).
  const doc = parseYamlText(Buffer.from(file.bytes).toString("utf8"), { uniqueKeys: false })
  if (Result.isFailure(doc)) return sources
  for (const { path, field, data } of dataFields(doc.success)) {
    const decoded = Buffer.from(data, "base64")
    const pem = pemCertificates(decoded.toString("latin1"))
    sources.push({
      source: `${file.path} (${formatKeyPath(path)})`,
      kind: field === "certificate-authority-data" ? "ca-bundle" : "leaf",
      name,
      certificates: pem.length > 0 ? pem : [parse(decoded)],
    })
  }
  return sources
}

const caName = /(^|[-_.])ca([-_.]|$)|ca-bundle/i

const classify = (raw: RawSource): SourceKind => {
  if (raw.kind !== undefined) return raw.kind
  if (caName.test(raw.name)) return "ca-bundle"
  const first = raw.certificates[0]
  return first?.ok && first.cert.ca ? "ca-bundle" : "leaf"
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z")
const inDays = (d: Date, now: Date) => {
  const left = d.getTime() - now.getTime()
  const days = Math.round(left / dayMs)
  return left < dayMs ? `within a day (${iso(d)})` : `in ${days} day${days === 1 ? "" : "s"} (${iso(d)})`
}

const worst = (verdicts: ReadonlyArray<CertificateVerdict | "INFO">): CertificateVerdict =>
  verdicts.includes("FAIL") ? "FAIL" : verdicts.includes("WARN") ? "WARN" : "PASS"

const judgeSource = (raw: RawSource, now: Date, warnDays: number): CertificateSource => {
  const kind = classify(raw)
  const warnBefore = now.getTime() + warnDays * dayMs
  const unreadable = raw.certificates.flatMap((c, i) => (c.ok ? [] : [i]))
  const certs = raw.certificates.flatMap((c, index) => (c.ok ? [{ index, cert: c.cert, notBefore: c.cert.validFromDate, notAfter: c.cert.validToDate }] : []))
  const validNow = certs.filter((c) => c.notBefore.getTime() <= now.getTime() && now.getTime() <= c.notAfter.getTime())
  const longest = validNow.reduce<(typeof certs)[number] | undefined>((a, c) => (a === undefined || c.notAfter > a.notAfter ? c : a), undefined)
  const findings: Array<CertificateFinding> = certs.map(({ index, cert, notBefore, notAfter }) => {
    const role: CertificateFinding["role"] = kind === "ca-bundle" ? "ca" : index === 0 ? "leaf" : "chain"
    const base = { index, role, subject: cert.subject.replace(/\n/g, ", "), notBefore, notAfter }
    const expired = now.getTime() > notAfter.getTime()
    const early = now.getTime() < notBefore.getTime()
    const soon = !expired && notAfter.getTime() <= warnBefore
    if (role === "ca") {
      if (expired) {
        return {
          ...base,
          verdict: validNow.length > 0 ? "INFO" : "FAIL",
          message: `CA expired at ${iso(notAfter)}${validNow.length > 0 ? "; the bundle holds a valid CA (rotation keeps old ones)" : ""}`,
        }
      }
      if (early) return { ...base, verdict: "INFO", message: `CA not valid before ${iso(notBefore)} (published ahead of a rotation)` }
      if (soon) {
        const last = longest !== undefined && longest.index === index
        return {
          ...base,
          verdict: last ? "WARN" : "INFO",
          message: `CA expires ${inDays(notAfter, now)}${last ? " and no certificate of the bundle lasts longer" : "; a longer-lived CA is in the bundle"}`,
        }
      }
      return { ...base, verdict: "PASS", message: `CA valid until ${iso(notAfter)}` }
    }
    const what = role === "leaf" ? "certificate" : "chain certificate"
    if (expired) return { ...base, verdict: role === "leaf" ? "FAIL" : "WARN", message: `${what} expired at ${iso(notAfter)}` }
    if (early) return { ...base, verdict: "WARN", message: `${what} not valid before ${iso(notBefore)}` }
    if (soon) return { ...base, verdict: "WARN", message: `${what} expires ${inDays(notAfter, now)}` }
    return { ...base, verdict: "PASS", message: `${what} valid until ${iso(notAfter)}` }
  })
  const problems = unreadable.map((i) => `certificate ${i} does not parse as X.509`)
  const verdicts = [...findings.map((f) => f.verdict), ...(unreadable.length > 0 ? (["FAIL"] as const) : [])]
  const noneValid = kind === "ca-bundle" && validNow.length === 0
  const verdict = noneValid ? "FAIL" : worst(verdicts)
  const headline = noneValid
    ? `CA bundle of ${certs.length} certificate${certs.length === 1 ? "" : "s"} with none valid at ${iso(now)}`
    : kind === "ca-bundle"
      ? `CA bundle: ${validNow.length} of ${certs.length} valid now, the longest until ${iso(longest!.notAfter)}`
      : (findings.find((f) => f.role === "leaf")?.message ?? "no readable certificate")
  const notable = findings.filter((f) => f.verdict !== "PASS" && f.message !== headline).map((f) => `${f.subject}: ${f.message}`)
  return { source: raw.source, kind, verdict, message: [headline, ...problems, ...notable].join("; "), certificates: findings }
}

/** Judges every certificate of `files` at `now`; `warnDays` (default 30) is the warning horizon. */
export const checkCertificates = (files: ReadonlyArray<CertificateFile>, now: Date, warnDays = 30): CertificateReport => {
  const sources = files.flatMap(sourcesOf).map((raw) => judgeSource(raw, now, warnDays))
  const count = sources.reduce((n, s) => n + s.certificates.length, 0)
  const soonest = sources
    .flatMap((s) =>
      s.certificates
        .filter((c) => c.notAfter.getTime() >= now.getTime() && c.notBefore.getTime() <= now.getTime())
        .map((c) => ({ source: s.source, subject: c.subject, notAfter: c.notAfter })),
    )
    .reduce<CertificateReport["soonestExpiry"]>((a, c) => (a === undefined || c.notAfter < a.notAfter ? c : a), undefined)
  const verdict = worst(sources.map((s) => s.verdict))
  const failing = sources.filter((s) => s.verdict !== "PASS").length
  // CAs kept in a bundle around a rotation: no problem, but not valid either.
  const resting = sources.reduce(
    (n, s) => n + s.certificates.filter((c) => c.verdict === "INFO" && (c.notAfter.getTime() < now.getTime() || c.notBefore.getTime() > now.getTime())).length,
    0,
  )
  const message =
    count === 0
      ? "no certificates found"
      : `${count} certificate${count === 1 ? "" : "s"} in ${sources.length} source${sources.length === 1 ? "" : "s"}` +
        (failing > 0
          ? `, ${failing} with problems`
          : resting === 0
            ? ", all valid"
            : `, all usable (${resting} ${resting === 1 ? "CA" : "CAs"} expired or not yet valid beside a valid one in ${resting === 1 ? "its bundle" : "their bundles"})`) +
        (soonest === undefined ? "" : `; the soonest expiry is ${soonest.subject} in ${soonest.source}, ${inDays(soonest.notAfter, now)}`)
  return { verdict, sources, count, soonestExpiry: soonest, message }
}

/** One source that did not pass, as the manifest and the reports name it. */
export const CertificateProblem = Schema.Struct({
  source: Schema.String,
  verdict: Schema.Literals(["WARN", "FAIL"]),
  /** The subject of its worst certificate; empty when the source fails as a whole (no readable or valid certificate). */
  subject: Schema.String,
  message: Schema.String,
})
export type CertificateProblem = typeof CertificateProblem.Type

/** The certificate check as the manifest records it (judged at backup time). */
export const CertificateRecord = Schema.Struct({
  verdict: Schema.Literals(["PASS", "WARN", "FAIL"]),
  message: Schema.String,
  warnDays: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  soonestExpiry: Schema.optionalKey(Schema.Struct({ source: Schema.String, subject: Schema.String, notAfter: Rfc3339Utc })),
  problems: Schema.Array(CertificateProblem),
})
export type CertificateRecord = typeof CertificateRecord.Type

const rank = { PASS: 0, INFO: 0, WARN: 1, FAIL: 2 } as const

/** Every source that did not pass, with its worst certificate's subject. */
export const certificateProblems = (report: CertificateReport): ReadonlyArray<CertificateProblem> =>
  report.sources.flatMap((s) => {
    if (s.verdict === "PASS") return []
    const worstFinding = s.certificates.reduce<CertificateFinding | undefined>(
      (a, c) => (a === undefined || rank[c.verdict] > rank[a.verdict] ? c : a),
      undefined,
    )
    const subject = worstFinding !== undefined && worstFinding.verdict === s.verdict ? worstFinding.subject : ""
    return [{ source: s.source, verdict: s.verdict, subject, message: s.message }]
  })

/** The manifest's record of `report`, judged with a horizon of `warnDays`. */
export const certificateRecord = (report: CertificateReport, warnDays: number): CertificateRecord => ({
  verdict: report.verdict,
  message: report.message,
  warnDays,
  count: report.count,
  ...(report.soonestExpiry === undefined
    ? {}
    : { soonestExpiry: { source: report.soonestExpiry.source, subject: report.soonestExpiry.subject, notAfter: iso(report.soonestExpiry.notAfter) } }),
  problems: certificateProblems(report),
})

export interface BundleCertificateVerdict {
  /** FAIL only for what was already wrong at backup time; what expired since, or expires soon, warns. */
  readonly verdict: CertificateVerdict
  readonly atBackup: CertificateReport
  readonly atNow: CertificateReport
  /** FAIL sources at backup time, then WARN or FAIL sources now (expired since the backup, expiring within the horizon). */
  readonly problems: ReadonlyArray<CertificateProblem>
}

/**
 * A backup's certificates judged twice: at `backupTime`, where a failure is a defect of the
 * backup itself, and at `now`, where expiry since then or within `warnDays` is a warning (a
 * restored cluster renews or recovers expired certificates; the backup did not change).
 */
export const judgeBundleCertificates = (files: ReadonlyArray<CertificateFile>, backupTime: Date, now: Date, warnDays = 30): BundleCertificateVerdict => {
  const atBackup = checkCertificates(files, backupTime, warnDays)
  const atNow = checkCertificates(files, now, warnDays)
  const failed = atBackup.verdict === "FAIL" ? certificateProblems(atBackup).filter((p) => p.verdict === "FAIL") : []
  const failedSources = new Set(failed.map((p) => p.source))
  const warned = certificateProblems(atNow)
    .filter((p) => !failedSources.has(p.source))
    .map((p) => ({ ...p, verdict: "WARN" as const }))
  return { verdict: failed.length > 0 ? "FAIL" : warned.length > 0 ? "WARN" : "PASS", atBackup, atNow, problems: [...failed, ...warned] }
}
