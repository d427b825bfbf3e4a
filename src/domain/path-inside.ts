import { posix } from "node:path"

/**
 * `child` relative to `parent` when it is `parent` itself ("") or lies below it, else `undefined`. Both are
 * absolute, resolved paths. A name that merely starts with two dots (`..backups`) is inside.
 */
export const pathInside = (parent: string, child: string): string | undefined => {
  const relative = posix.relative(parent, child)
  return relative === ".." || relative.startsWith("../") || posix.isAbsolute(relative) ? undefined : relative
}

/** Whether `path` is `dir` itself or lies below it, by their segments (`/a/bc` is not within `/a/b`). Both absolute. */
export const isWithin = (dir: string, path: string): boolean => path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`)
