/**
 * The `age` CLI (Debian's 1.1.1, installed into .tools/age by scripts/setup.sh), the reference
 * the project's age implementation is held to, and small helpers around it for the tests.
 */
import { execFileSync } from "node:child_process"
import { createCipheriv, createHash } from "node:crypto"
import { chmodSync, createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { readIdentityFiles, type IdentitySet } from "../../../src/services/crypto/age-identity-files.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")
const bin = (name: string) => {
  const path = join(root, ".tools", "age", "bin", name)
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/setup.sh\` (it installs the age CLI from Debian bookworm)`)
  return path
}

export const age = (args: ReadonlyArray<string>, input?: Uint8Array): Buffer => execFileSync(bin("age"), args, { input, maxBuffer: 64 * 1024 * 1024 })

/** Runs age expecting failure; its stderr. */
export const ageFails = (args: ReadonlyArray<string>): string => {
  try {
    execFileSync(bin("age"), args, { stdio: ["ignore", "ignore", "pipe"] })
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? "")
  }
  throw new Error(`age ${args.join(" ")} succeeded`)
}

/** A new identity file (0600) made by age-keygen, and its recipient. */
export const keygen = (path: string): { readonly path: string; readonly recipient: string } => {
  execFileSync(bin("age-keygen"), ["-o", path], { stdio: "ignore" })
  chmodSync(path, 0o600)
  return { path, recipient: execFileSync(bin("age-keygen"), ["-y", path], { encoding: "utf8" }).trim() }
}

export const identitiesOf = (...paths: ReadonlyArray<string>): Promise<IdentitySet> => Effect.runPromise(readIdentityFiles(paths, { allowExposed: false }))

export const sha256File = async (path: string): Promise<string> => {
  const hash = createHash("sha256")
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest("hex")
}

export const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** `size` pseudo-random bytes (ChaCha20 keystream of a fixed key: fast and incompressible) into `path`. */
export const writePseudoRandom = async (path: string, size: number, seed = 1): Promise<void> => {
  const cipher = createCipheriv("chacha20", Buffer.alloc(32, seed), Buffer.alloc(16))
  const zero = Buffer.alloc(1024 * 1024)
  let left = size
  await pipeline(
    Readable.from(
      (function* () {
        while (left > 0) {
          const n = Math.min(zero.length, left)
          left -= n
          yield cipher.update(zero.subarray(0, n))
        }
      })(),
    ),
    createWriteStream(path),
  )
}

export const readBytes = (path: string): Buffer => readFileSync(path)
