/** A rendered container's env value as a test that runs the container here gives it: its pod paths mapped as the demo's kubelet maps them. */
import { volumeSizeLimitsEnv } from "../../src/domain/volume-size-limits.ts"
import { localVolumeSizeLimits } from "../../src/programs/demo/local-kubelet.ts"

export const podEnvValue = (name: string, value: string, mapPath: (path: string) => string): string =>
  name === volumeSizeLimitsEnv ? localVolumeSizeLimits(value, mapPath) : mapPath(value)
