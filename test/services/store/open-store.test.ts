import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { openStore, usesPathStyle } from "../../../src/services/store/open-store.ts"

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

describe("the S3 endpoint a store uses without one given", () => {
  const env = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "not-a-real-secret" }
  const location = (region: string) => Effect.runPromise(openStore({ _tag: "S3", bucket: "backups", prefix: "p" }, { region }, env)).then((s) => s.location)

  it("AWS's endpoint of the region", async () => {
    expect(await location("eu-central-1")).toBe("s3://backups at https://s3.eu-central-1.amazonaws.com")
  })

  it("in AWS's China regions, under amazonaws.com.cn (as the STS endpoint already is)", async () => {
    expect(await location("cn-north-1")).toBe("s3://backups at https://s3.cn-north-1.amazonaws.com.cn")
    expect(await location("cn-northwest-1")).toBe("s3://backups at https://s3.cn-northwest-1.amazonaws.com.cn")
  })
})

describe("an S3 endpoint that is not http(s)://host[:port]", () => {
  const env = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "not-a-real-secret" }
  const open = (endpoint: string, from: "flag" | "env") =>
    Effect.runPromise(
      openStore(
        { _tag: "S3", bucket: "backups", prefix: "p" },
        from === "flag" ? { endpoint } : {},
        from === "flag" ? env : { ...env, AWS_ENDPOINT_URL: endpoint },
      ).pipe(Effect.flip),
    )

  it("host:port without a scheme (a URL of scheme 'minio:'), another scheme, or a path the requests would drop: a BadEndpoint naming where it came from, not a crash", async () => {
    for (const [endpoint, from, source] of [
      ["minio:9000", "flag", "--s3-endpoint"],
      ["localhost:9000", "env", "AWS_ENDPOINT_URL"],
      ["ftp://minio:21", "flag", "--s3-endpoint"],
      ["https://gateway.example.com/s3", "flag", "--s3-endpoint"],
      ["https://minio:9000/?x=1", "env", "AWS_ENDPOINT_URL"],
    ] as const) {
      const e = await open(endpoint, from)
      expect(e).toMatchObject({ _tag: "StoreRequestFailed", code: "BadEndpoint", retryable: false })
      expect(e.message).toContain(`${JSON.stringify(endpoint)} (${source}) is not an http(s)://host[:port] URL`)
    }
  })

  it("a trailing slash is the host's root, and is taken", async () => {
    const store = await Effect.runPromise(openStore({ _tag: "S3", bucket: "backups", prefix: "p" }, { endpoint: "https://minio.example.com:9000/" }, env))
    expect(store.location).toBe("s3://backups at https://minio.example.com:9000")
  })
})

describe("a directory store opened", () => {
  it("reports a copy's progress to the transfer's onProgress, as an S3 store does", async () => {
    const base = mkdtempSync(join(tmpdir(), "open-store-"))
    writeFileSync(join(base, "f"), Buffer.alloc(200_000, 1))
    const calls: Array<[string, number, number]> = []
    const store = await Effect.runPromise(
      openStore({ _tag: "Directory", path: base }, { transfer: { onProgress: (key, done, total) => void calls.push([key, done, total]) } }, {}),
    )
    await Effect.runPromise(store.putFile("p/b/f", join(base, "f")))
    expect(calls.at(-1)).toEqual(["p/b/f", 200_000, 200_000])
  })
})
