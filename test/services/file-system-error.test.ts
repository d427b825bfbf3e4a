import { PlatformError } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { describeFileSystemFailure, errnoCode, explainedCodes } from "../../src/services/file-system-error.ts"
import { ioFailure } from "../../src/services/tarball/errors.ts"

const errno = (code: string, syscall = "write") => Object.assign(new Error(`${code}: something, ${syscall}`), { code, syscall, errno: -1 })

/** What effect's Node FileSystem fails with: the errno exception only as the cause; a descriptor as the "path". */
const platform = (code: string) =>
  PlatformError.systemError({ _tag: "Unknown", module: "FileSystem", method: "writeAll", pathOrDescriptor: 21, cause: errno(code) })

const path = "/backup/backup-manifest.json.tmp-7"

describe("file-system failure messages", () => {
  it.each([
    ["ENOSPC", /the volume holding \/backup\/backup-manifest\.json\.tmp-7 is full: free space or give it more room, then run again$/],
    ["EDQUOT", /disk quota .* is used up: free space or raise the quota/],
    ["EACCES", /not permitted: run as a user who may write \/backup\/backup-manifest\.json\.tmp-7/],
    ["EPERM", /not permitted: run as a user who may write \/backup\/backup-manifest\.json\.tmp-7/],
    ["EROFS", /is read-only: use a writable location, or remount it read-write$/],
    ["ENOENT", /or a directory above it does not exist: check the path$/],
    ["ENOTDIR", /that must be a directory is not one: check the path$/],
    ["EISDIR", /is a directory where a file is needed/],
    ["EEXIST", /already exists: move it away or choose another path$/],
    ["ENOTEMPTY", /is a directory that is not empty/],
    ["ELOOP", /loop of symbolic links/],
    ["ENAMETOOLONG", /is too long: choose a shorter one$/],
    ["EMFILE", /too many open files: raise its limit \(ulimit -n\)/],
    ["ENFILE", /the system has too many open files/],
    ["EIO", /reported an I\/O error: check the disk/],
    ["EBUSY", /is busy/],
    ["EXDEV", /across file systems/],
    ["EFBIG", /larger than its file system allows/],
    ["ENXIO", /special file with no device or reader/],
    ["ENODEV", /special file with no device/],
    ["EINVAL", /refused to write it \(invalid argument\)/],
  ])("%s names the code, the path, the operation and what to do", (code, advice) => {
    for (const failure of [errno(code), platform(code)]) {
      const described = describeFileSystemFailure("write", path, failure)
      expect(described).toMatchObject({ code, path, operation: "write" })
      expect(described.message.startsWith(`cannot write ${path}: ${code}: `)).toBe(true)
      expect(described.message).toMatch(advice)
      expect(described.message).not.toMatch(/Unknown|FileSystem\.|\(21\)/)
    }
  })

  it("every explained code has a row above", () => {
    expect(explainedCodes.length).toBe(21)
  })

  it("finds the errno code inside effect's PlatformError (its own message shows only a descriptor)", () => {
    const failure = platform("ENOSPC")
    expect(failure.message).toBe("Unknown: FileSystem.writeAll (21)")
    expect(errnoCode(failure)).toBe("ENOSPC")
    expect(errnoCode(failure.reason)).toBe("ENOSPC")
  })

  it("an unexplained code keeps the system's description, without repeating the code", () => {
    expect(describeFileSystemFailure("sync", path, platform("ESTALE")).message).toBe(`cannot sync ${path}: ESTALE: something, write`)
    const bare = Object.assign(new Error("stale file handle"), { code: "ESTALE" })
    expect(describeFileSystemFailure("sync", path, bare).message).toBe(`cannot sync ${path}: ESTALE: stale file handle`)
  })

  it("a failure without a code keeps its own message", () => {
    const zero = PlatformError.systemError({
      _tag: "WriteZero",
      module: "FileSystem",
      method: "writeAll",
      pathOrDescriptor: 3,
      description: "write returned 0 bytes written",
    })
    expect(describeFileSystemFailure("write", path, zero)).toEqual({
      code: undefined,
      path,
      operation: "write",
      message: `cannot write ${path}: WriteZero: FileSystem.writeAll (3): write returned 0 bytes written`,
    })
    expect(describeFileSystemFailure("read", path, "boom").message).toBe(`cannot read ${path}: boom`)
  })

  it("never throws, whatever it is given, and always names the operation and the path", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.anything(), (operation, p, failure) => {
        const described = describeFileSystemFailure(operation, p, failure)
        expect(described.message.startsWith(`cannot ${operation} ${p}: `)).toBe(true)
        expect(described.path).toBe(p)
      }),
    )
  })

  it("the tarball's file-system failures (extraction during a restore) go through it", () => {
    const failure = ioFailure("write", "/etc/kubernetes/.cluster-backup-extract-1/x", errno("ENOSPC"))
    expect(failure).toMatchObject({ code: "ENOSPC", operation: "write", path: "/etc/kubernetes/.cluster-backup-extract-1/x" })
    expect(failure.message).toBe(describeFileSystemFailure("write", "/etc/kubernetes/.cluster-backup-extract-1/x", errno("ENOSPC")).message)
    expect(ioFailure("open", "/x", new Error("odd")).code).toBe("UNKNOWN")
  })
})
