/**
 * What a tree of files takes on a file system once written, for free-space checks: the sum of the
 * files' sizes undercounts it, since every file and directory takes at least a whole block and an
 * inode (a tarball of ~130 small certificates and configs is ~60 KiB of content and ~550 KiB on
 * disk). 4 KiB blocks, the size ext4 and XFS use on a control-plane node.
 */
import { posix } from "node:path"

export const defaultBlockBytes = 4096

export interface TreeFootprint {
  readonly bytes: number
  readonly inodes: number
}

/** The blocks and inodes of `files` (paths relative to the tree's root) and of the directories that hold them. */
export const treeFootprint = (files: ReadonlyArray<{ readonly path: string; readonly size: number }>, blockBytes = defaultBlockBytes): TreeFootprint => {
  const directories = new Set<string>()
  let bytes = 0
  for (const f of files) {
    bytes += Math.ceil(f.size / blockBytes) * blockBytes
    for (let d = posix.dirname(f.path); d !== "." && d !== "/" && !directories.has(d); d = posix.dirname(d)) directories.add(d)
  }
  return { bytes: bytes + directories.size * blockBytes, inodes: files.length + directories.size }
}
