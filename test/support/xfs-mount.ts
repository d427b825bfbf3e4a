/**
 * XFS file systems (as RHCOS formats a control-plane host's disks, reflinks on) for tests: a sparse
 * image under the system's temporary directory, formatted by the mkfs.xfs that scripts/setup.sh put
 * in .tools/xfs and loop-mounted on a directory. Needs root, as the tests run. Unmounting frees the
 * loop device (mount's autoclear) and removes the image.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { repoRoot } from "./tools.ts"

const xfsRoot = join(repoRoot, ".tools", "xfs", "root")

export interface XfsMount {
  readonly mountPoint: string
  /** Unmounts (lazily when still busy) and removes the image; safe to call twice. */
  readonly unmount: () => void
}

/** Mounts a fresh XFS of `sizeMiB` (mkfs.xfs 6 wants 300 MiB at least) on `mountPoint`, which must be empty or missing. */
export const mountXfs = (mountPoint: string, sizeMiB = 320): XfsMount => {
  const imageDir = mkdtempSync(join(tmpdir(), "cb-xfs-image-"))
  const image = join(imageDir, "disk.img")
  writeFileSync(image, "")
  truncateSync(image, sizeMiB * 1024 * 1024)
  execFileSync(join(xfsRoot, "sbin", "mkfs.xfs"), ["-q", "-f", "-m", "reflink=1", image], {
    env: { ...process.env, LD_LIBRARY_PATH: join(xfsRoot, "usr", "lib", "x86_64-linux-gnu") },
    stdio: ["ignore", "ignore", "pipe"],
  })
  mkdirSync(mountPoint, { recursive: true })
  if (readdirSync(mountPoint).length > 0) throw new Error(`${mountPoint} is not empty: an XFS mounted over it would hide its files`)
  try {
    execFileSync("mount", ["-t", "xfs", "-o", "loop", image, mountPoint], { stdio: ["ignore", "ignore", "pipe"] })
  } catch (e) {
    rmSync(imageDir, { recursive: true, force: true })
    throw new Error(`mounting an XFS image needs root and loop devices (mount -o loop): ${(e as Error).message}`)
  }
  let mounted = true
  return {
    mountPoint,
    unmount: () => {
      if (!mounted) return
      mounted = false
      try {
        execFileSync("umount", [mountPoint], { stdio: ["ignore", "ignore", "pipe"] })
      } catch {
        execFileSync("umount", ["-l", mountPoint], { stdio: ["ignore", "ignore", "pipe"] })
      }
      rmSync(imageDir, { recursive: true, force: true })
    },
  }
}

/** Whether `path` is on a file system other than its parent directory's: a mount point. */
export const isMountPoint = (path: string): boolean => statSync(path).dev !== statSync(join(path, "..")).dev
