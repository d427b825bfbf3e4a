/** What a killed test run left: the entries of `parent` named by `pattern` (its first group a pid) whose process is gone are removed. */
import { readdirSync, rmSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { ownerLiveness } from "../../src/services/run-lock.ts"

export const removeDeadRunDirs = async (parent: string, pattern: RegExp): Promise<void> => {
  for (const name of readdirSync(parent)) {
    const pid = pattern.exec(name)?.[1]
    if (pid !== undefined && (await ownerLiveness({ pid: Number(pid), startTicks: null, host: hostname(), command: "", startedAt: "" })) === "gone")
      rmSync(join(parent, name), { recursive: true, force: true })
  }
}
