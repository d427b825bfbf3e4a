/**
 * What one entry of a file tree counts for, by the question asked of the tree: what it takes on its
 * file system now (allocated blocks: what removing it frees, what the kubelet counts against an
 * emptyDir's limit), what a copy of it takes on another file system (a sparse file's holes are
 * written out), or how many bytes of content it holds (a file's length, nothing for the rest).
 */
import { defaultBlockBytes } from "./tree-footprint.ts"

/** One entry as `lstat` sees it (links not followed). */
export interface TreeEntry {
  readonly kind: "File" | "Directory" | "Other"
  /** Its length in bytes (st_size). */
  readonly size: number
  /** Its allocated 512-byte blocks (st_blocks). */
  readonly blocks: number
  /** Device and inode, so a hard-linked file can be counted once; undefined when the file system does not say. */
  readonly identity: string | undefined
}

export type TreeMeasure = (entry: TreeEntry) => number

export const allocatedBytes: TreeMeasure = (e) => e.blocks * 512

export const bytesToCopy: TreeMeasure = (e) => Math.max(allocatedBytes(e), e.kind === "File" ? Math.ceil(e.size / defaultBlockBytes) * defaultBlockBytes : 0)

export const contentBytes: TreeMeasure = (e) => (e.kind === "File" ? e.size : 0)
