import { describe, expect, it } from "vitest"
import { usesPathStyle } from "../../../src/services/store/open-store.ts"

describe("the S3 addressing style a store uses", () => {
  it("by default: virtual-hosted on AWS, path with a custom endpoint", () => {
    expect(usesPathStyle("backups", undefined, false, "https:")).toBe(false)
    expect(usesPathStyle("backups", undefined, true, "https:")).toBe(true)
  })

  it("a bucket name with dots on AWS's endpoint over https is addressed by path: as a host name (a.b.s3.<region>.amazonaws.com) no certificate of AWS covers it", () => {
    expect(usesPathStyle("etcd.backups.example.com", undefined, false, "https:")).toBe(true)
  })

  it("--s3-addressing decides when given", () => {
    expect(usesPathStyle("etcd.backups", "virtual", false, "https:")).toBe(false)
    expect(usesPathStyle("backups", "path", false, "https:")).toBe(true)
  })
})
