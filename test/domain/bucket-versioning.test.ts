import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { bucketVersioningOf, deletedBytesCaveat, type StoreVersioning } from "../../src/domain/bucket-versioning.ts"

const configuration = (inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</VersioningConfiguration>`

describe("bucketVersioningOf", () => {
  it("property: the Status S3 writes is read back; no Status is a bucket never versioned", () => {
    fc.assert(
      fc.property(fc.constantFrom("Enabled", "Suspended"), fc.constantFrom("", "<MfaDelete>Disabled</MfaDelete>"), (status, extra) => {
        expect(bucketVersioningOf(configuration(`<Status>${status}</Status>${extra}`))).toEqual(Result.succeed(status))
        expect(bucketVersioningOf(configuration(extra))).toEqual(Result.succeed("Unversioned"))
      }),
    )
    expect(bucketVersioningOf(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)).toEqual(Result.succeed("Unversioned"))
  })

  it("property: any other Status, or any other document, is not read as an answer", () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => s !== "Enabled" && s !== "Suspended" && !/[<>&]/.test(s)),
        (status) => {
          expect(Result.isFailure(bucketVersioningOf(configuration(`<Status>${status}</Status>`)))).toBe(true)
        },
      ),
    )
    fc.assert(
      fc.property(
        fc.string().filter((s) => !s.includes("<VersioningConfiguration")),
        (text) => {
          expect(Result.isFailure(bucketVersioningOf(text))).toBe(true)
        },
      ),
    )
  })
})

describe("deletedBytesCaveat", () => {
  const versionings: ReadonlyArray<StoreVersioning> = [
    { _tag: "Known", status: "Enabled" },
    { _tag: "Known", status: "Suspended" },
    { _tag: "Known", status: "Unversioned" },
    { _tag: "Unknown", why: "AccessDenied" },
  ]

  it("says deletes free nothing only where versioning is enabled, and nothing where they free all or nothing is known", () => {
    expect(versionings.map((v) => deletedBytesCaveat(v)?.freed)).toEqual([false, true, undefined, undefined])
    for (const v of versionings.slice(0, 2)) expect(deletedBytesCaveat(v)?.why).toMatch(/noncurrent versions.* lifecycle rule \(NoncurrentVersionExpiration\)/)
  })
})
