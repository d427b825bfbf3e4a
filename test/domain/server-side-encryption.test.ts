import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  serverSideEncryptionOf,
  sseHeader,
  sseKmsKeyHeader,
  sseRequestHeaders,
  sseUnconfirmed,
  type ServerSideEncryption,
} from "../../src/domain/server-side-encryption.ts"

const keyIdArb = fc.uuid()
const algorithmArb = fc.constantFrom("AES256" as const, "aws:kms" as const)
const sseArb: fc.Arbitrary<ServerSideEncryption> = fc.oneof(
  fc.constant({ algorithm: "AES256" as const }),
  fc.record({ algorithm: fc.constant("aws:kms" as const), kmsKeyId: fc.option(keyIdArb, { nil: undefined }) }),
)
const arnOf = (id: string) => `arn:aws:kms:eu-west-1:123456789012:key/${id}`

describe("serverSideEncryptionOf", () => {
  test.prop([fc.option(algorithmArb, { nil: undefined }), fc.option(keyIdArb, { nil: undefined })])(
    "a key implies aws:kms and refuses AES256; nothing given asks for nothing",
    (algorithm, key) => {
      const r = serverSideEncryptionOf(algorithm, key)
      if (algorithm === "AES256" && key !== undefined) expect(r._tag).toBe("Invalid")
      else if (algorithm === undefined && key === undefined) expect(r).toEqual({ _tag: "Ok", sse: undefined })
      else expect(r).toEqual({ _tag: "Ok", sse: { algorithm: algorithm ?? "aws:kms", ...(key === undefined ? {} : { kmsKeyId: key }) } })
    },
  )
  it("a key with characters no KMS key has is refused", () => {
    expect(serverSideEncryptionOf(undefined, "key with spaces")._tag).toBe("Invalid")
    expect(serverSideEncryptionOf(undefined, "")._tag).toBe("Invalid")
    expect(serverSideEncryptionOf("aws:kms", "alias/backups")).toEqual({ _tag: "Ok", sse: { algorithm: "aws:kms", kmsKeyId: "alias/backups" } })
  })
})

describe("sseRequestHeaders and sseUnconfirmed", () => {
  test.prop([sseArb])("a store that echoes what was asked (the key as its ARN, or as it was asked) confirms it", (sse) => {
    const headers = sseRequestHeaders(sse)
    expect(headers[sseHeader]).toBe(sse.algorithm)
    expect(headers[sseKmsKeyHeader]).toBe(sse.kmsKeyId)
    for (const answeredKey of sse.kmsKeyId === undefined ? [undefined] : [sse.kmsKeyId, arnOf(sse.kmsKeyId)])
      expect(sseUnconfirmed(sse, { algorithm: sse.algorithm, kmsKeyId: answeredKey })).toBeUndefined()
  })
  test.prop([sseArb, fc.option(algorithmArb, { nil: undefined })])("no header, or another algorithm, is never a confirmation", (sse, answered) => {
    const problem = sseUnconfirmed(sse, { algorithm: answered, kmsKeyId: undefined })
    expect(problem === undefined).toBe(answered === sse.algorithm)
  })
  test.prop([keyIdArb, keyIdArb])("another key's ARN is refused; an alias is taken as it is (KMS alone resolves it)", (asked, other) => {
    fc.pre(asked !== other)
    expect(sseUnconfirmed({ algorithm: "aws:kms", kmsKeyId: asked }, { algorithm: "aws:kms", kmsKeyId: arnOf(other) })).toMatch(/not .* as asked/)
    expect(sseUnconfirmed({ algorithm: "aws:kms", kmsKeyId: "alias/backups" }, { algorithm: "aws:kms", kmsKeyId: arnOf(other) })).toBeUndefined()
  })
  it("nothing asked sends no header", () => {
    expect(sseRequestHeaders(undefined)).toEqual({})
  })
})
