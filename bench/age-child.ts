/**
 * One run of bench/age-vs-cli.ts, in its own process (bundled by it with esbuild, as the image
 * runs the bundle): `<mode> <in> <out> <recipient | identity file>`, mode one of
 * `ours-encrypt`, `ours-decrypt`, `js-encrypt`, `js-decrypt` (the last two load the
 * `age-encryption` package from AGE_JS_MODULE).
 */
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync, readFileSync } from "node:fs"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { Effect, Result } from "effect"
import { decryptFile, encryptFile } from "../src/services/crypto/age-files.ts"
import { readIdentityFiles } from "../src/services/crypto/age-identity-files.ts"
import { parseRecipient } from "../src/services/crypto/age-keys.ts"

const [mode, input, output, key] = process.argv.slice(2) as [string, string, string, string]

if (mode === "ours-encrypt") {
  await Effect.runPromise(encryptFile(input, output, [Result.getOrThrow(parseRecipient(key))]))
} else if (mode === "ours-decrypt") {
  await Effect.runPromise(Effect.flatMap(readIdentityFiles([key], { allowExposed: false }), (ids) => decryptFile(input, output, ids)))
} else {
  const age = await import(process.env.AGE_JS_MODULE!)
  const source = Readable.toWeb(createReadStream(input, { highWaterMark: 1024 * 1024 })) as unknown as ReadableStream<Uint8Array>
  let out: ReadableStream<Uint8Array>
  if (mode === "js-encrypt") {
    const e = new age.Encrypter()
    e.addRecipient(key)
    out = await e.encrypt(source)
  } else {
    const d = new age.Decrypter()
    d.addIdentity(
      readFileSync(key, "utf8")
        .split("\n")
        .find((l) => l.startsWith("AGE-SECRET-KEY-1"))!,
    )
    out = await d.decrypt(source)
  }
  await pipeline(Readable.fromWeb(out as never), createWriteStream(output))
  const fd = openSync(output, "r")
  fsyncSync(fd)
  closeSync(fd)
}
