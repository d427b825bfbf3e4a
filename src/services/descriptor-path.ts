/**
 * Naming an open descriptor by path, as Linux's procfs does: opening `/proc/self/fd/N` opens the very
 * file descriptor N refers to, whatever its name points to by then. A file checked on a descriptor can
 * so be handed to a call, or a child (which inherits it as its own N), that only takes a path.
 */
import { existsSync } from "node:fs"

const procfsDescriptors = "/proc/self/fd"

/** Whether this system names descriptors under procfs (Linux with /proc mounted); without it, callers use the file's own path. */
export const descriptorsHavePaths = (): boolean => existsSync(procfsDescriptors)

/** The path of descriptor `fd`, as the process that holds it (this one, or a child it was passed to as `fd`) sees it. */
export const descriptorPath = (fd: number): string => `${procfsDescriptors}/${fd}`
