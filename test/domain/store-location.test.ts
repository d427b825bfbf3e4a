import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { formatBackupTimestamp } from "../../src/domain/archive-names.ts"
import { backupIdArgumentsFor, parseStoreLocation, storePrefix } from "../../src/domain/store-location.ts"

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(JSON.stringify(r.failure))
  return r.success
}
const failure = <A, E extends { message: string }>(r: Result.Result<A, E>): string => (Result.isFailure(r) ? r.failure.message : "succeeded")

describe("parseStoreLocation", () => {
  it("s3://bucket[/prefix] and directories", () => {
    expect(ok(parseStoreLocation("s3://backups/prod/east/"))).toEqual({ _tag: "S3", bucket: "backups", prefix: "prod/east" })
    expect(ok(parseStoreLocation("s3://backups"))).toEqual({ _tag: "S3", bucket: "backups", prefix: undefined })
    expect(ok(parseStoreLocation("/mnt/backups"))).toEqual({ _tag: "Directory", path: "/mnt/backups" })
    expect(failure(parseStoreLocation("s3://BadBucket/x"))).toMatch(/is not a bucket name/)
    expect(failure(parseStoreLocation("gs://b/x"))).toMatch(/only s3:\/\/ URLs and directories/)
    expect(failure(parseStoreLocation("s3://bucket/a/../b"))).toMatch(/may hold only/)
    for (const typo of ["s3:/backups/prod", "s3:backups", "S3:/backups"]) expect(failure(parseStoreLocation(typo))).toMatch(/an s3:\/\/ URL needs two slashes/)
    expect(ok(parseStoreLocation("./s3:"))).toEqual({ _tag: "Directory", path: "./s3:" })
  })

  test.prop([fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}[a-z0-9]$/), fc.array(fc.stringMatching(/^[a-z0-9_-]{1,8}$/), { maxLength: 3 })])(
    "an s3 URL's bucket and prefix come back as written",
    (bucket, segments) => {
      const loc = ok(parseStoreLocation(`s3://${bucket}/${segments.join("/")}`))
      expect(loc).toEqual({ _tag: "S3", bucket, prefix: segments.length === 0 ? undefined : segments.join("/") })
    },
  )
})

describe("storePrefix", () => {
  const s3 = ok(parseStoreLocation("s3://shared"))
  it("explicit, then the URL's, then cluster-backup/<cluster-id>; an S3 store without any is refused", () => {
    expect(ok(storePrefix(ok(parseStoreLocation("s3://shared/p")), undefined, "c1"))).toBe("p")
    expect(ok(storePrefix(ok(parseStoreLocation("s3://shared/p")), "q/", "c1"))).toBe("q")
    expect(ok(storePrefix(s3, undefined, "8a3f-c1"))).toBe("cluster-backup/8a3f-c1")
    expect(failure(storePrefix(s3, undefined, undefined))).toMatch(/has no prefix: .*--cluster-id/)
    // The bucket's root is a store location too, asked for explicitly.
    expect(ok(storePrefix(s3, "", undefined))).toBe("")
    expect(ok(storePrefix({ _tag: "Directory", path: "/x" }, undefined, undefined))).toBe("")
  })
})

describe("backupIdArgumentsFor", () => {
  it("an s3:// URL ending in a backup's timestamp or latest: the store without it and --backup-id", () => {
    expect(backupIdArgumentsFor("s3://bkt/cluster-backup/abc/2026-01-02_030405")).toBe("s3://bkt/cluster-backup/abc --backup-id 2026-01-02_030405")
    expect(backupIdArgumentsFor("s3://bkt/p/latest/")).toBe("s3://bkt/p --backup-id latest")
    expect(backupIdArgumentsFor("s3://bkt/2026-01-02_030405")).toBe('s3://bkt --prefix "" --backup-id 2026-01-02_030405')
    for (const other of ["s3://bkt/p", "s3://bkt", "s3://bkt/p/2026-02-30_000000", "/mnt/p/2026-01-02_030405", "s3://Bad/p/latest"])
      expect(backupIdArgumentsFor(other)).toBeUndefined()
  })

  test.prop([
    fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,8}$/), { maxLength: 3 }),
    fc.date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
  ])("the suggested store and id name the same place as the URL", (segments, at) => {
    const id = formatBackupTimestamp(at)
    const suggested = backupIdArgumentsFor(`s3://bucket/${[...segments, id].join("/")}`)
    expect(suggested).toBeDefined()
    const [store, ...flags] = suggested!.split(" ")
    const location = ok(parseStoreLocation(store!))
    const prefix = ok(storePrefix(location, flags[0] === "--prefix" ? "" : undefined, undefined))
    expect(prefix).toBe(segments.join("/"))
    expect(flags.slice(-2)).toEqual(["--backup-id", id])
  })
})
