/**
 * The local Swift (s3api) of the standalone store benchmarks, started with the project's own
 * scripts/s3-server.sh, and the environment that points the command at it.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { join } from "node:path"

/** Starts Swift in `serverDir` (stopped when this process ends); the command's environment with its endpoint and credentials. */
export const startBenchSwift = (root: string, serverDir: string): Record<string, string | undefined> => {
  const line = execFileSync("bash", [join(root, "scripts", "s3-server.sh"), "start", serverDir, "auto", String(process.pid), "remove"], { encoding: "utf8" })
  const field = (name: string) => new RegExp(`${name}=(\\S+)`).exec(line)![1]!
  const env: Record<string, string | undefined> = {
    ...process.env,
    AWS_ENDPOINT_URL: field("endpoint"),
    AWS_ACCESS_KEY_ID: field("access_key"),
    AWS_SECRET_ACCESS_KEY: field("secret_key"),
    AWS_REGION: field("region"),
  }
  delete env.AWS_CA_BUNDLE
  delete env.NODE_OPTIONS
  return env
}

export const stopBenchSwift = (root: string, serverDir: string): void => {
  execFileSync("bash", [join(root, "scripts", "s3-server.sh"), "stop", serverDir], { stdio: "ignore" })
}

/** A file's sha256 (hex), streamed. */
export const fileSha256 = (path: string): Promise<string> =>
  new Promise<string>((done, fail) => {
    const hash = createHash("sha256")
    createReadStream(path)
      .on("data", (d) => hash.update(d))
      .on("end", () => done(hash.digest("hex")))
      .on("error", fail)
  })
