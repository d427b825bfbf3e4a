/** `npm run bench -- [--quick] [--sizes 256,1024,4096] [--rounds N] [--only name,...] [--out FILE] [--cycle-mib N] [--transfer-mib N] [--operator-bumps N] [--dist DIR] [--parallel]`. */
import { Result } from "effect"

export interface BenchOptions {
  /** Small sizes and one round: a smoke test of the harness, not a measurement. */
  readonly quick: boolean
  /** Database sizes (MiB) of the backup-init scaling benchmark. */
  readonly sizesMiB: ReadonlyArray<number>
  /** The database (MiB) the backup pod, verify and restore benchmarks work on. */
  readonly cycleMiB: number
  /** What the store and age benchmarks move (MiB). */
  readonly transferMiB: number
  readonly rounds: number
  /** Revision bumps of the operator benchmark (the p99 is over the first 100). */
  readonly operatorBumps: number
  /** Benchmarks to run by name; undefined: all. */
  readonly only: ReadonlyArray<string> | undefined
  /** The results file; the chart goes beside it. */
  readonly out: string
  /** A bundle `scripts/build.ts` already made, instead of building one. */
  readonly dist: string | undefined
  /** Runs the benchmarks at the same time: for the smoke test, whose figures mean nothing anyway. */
  readonly parallel: boolean
}

export const usage =
  "usage: npm run bench -- [--quick] [--sizes 256,1024,4096] [--rounds N] [--only name,...] [--out bench/RESULTS.md] [--cycle-mib N] [--transfer-mib N] [--operator-bumps N] [--dist DIR] [--parallel]"

const full = { sizesMiB: [256, 1024, 4096], cycleMiB: 1024, transferMiB: 1024, rounds: 3, operatorBumps: 1000 }
const quick = { sizesMiB: [16, 32], cycleMiB: 16, transferMiB: 16, rounds: 1, operatorBumps: 30 }

const positiveInteger = (flag: string, text: string): Result.Result<number, string> =>
  /^[1-9]\d*$/.test(text) ? Result.succeed(Number(text)) : Result.fail(`${flag} takes a positive whole number, not "${text}"`)

/** The options from the command line; `names` are the benchmarks `--only` may name. */
export const parseBenchArgs = (argv: ReadonlyArray<string>, names: ReadonlyArray<string>, defaultOut: string): Result.Result<BenchOptions, string> => {
  const isQuick = argv.includes("--quick")
  const parallel = argv.includes("--parallel")
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--quick" || arg === "--parallel") continue
    if (!["--sizes", "--rounds", "--only", "--out", "--cycle-mib", "--transfer-mib", "--operator-bumps", "--dist"].includes(arg)) {
      return Result.fail(`unknown argument "${arg}"; ${usage}`)
    }
    const value = argv[i + 1]
    if (value === undefined || value.startsWith("--")) return Result.fail(`${arg} needs a value; ${usage}`)
    values.set(arg, value)
    i++
  }
  const base = isQuick ? quick : full
  const number = (flag: string, fallback: number) => (values.has(flag) ? positiveInteger(flag, values.get(flag)!) : Result.succeed(fallback))
  const sizes = values.has("--sizes")
    ? Result.all(
        values
          .get("--sizes")!
          .split(",")
          .map((s) => positiveInteger("--sizes", s.trim())),
      )
    : Result.succeed(base.sizesMiB)
  const only = values
    .get("--only")
    ?.split(",")
    .map((s) => s.trim())
  const unknown = only?.filter((n) => !names.includes(n)) ?? []
  if (unknown.length > 0) return Result.fail(`--only: no benchmark named ${unknown.join(", ")}; the benchmarks: ${names.join(", ")}`)
  return Result.gen(function* () {
    const sizesMiB = [...(yield* sizes)].sort((a, b) => a - b)
    return {
      quick: isQuick,
      sizesMiB: sizesMiB.filter((s, i) => sizesMiB.indexOf(s) === i),
      cycleMiB: yield* number("--cycle-mib", base.cycleMiB),
      transferMiB: yield* number("--transfer-mib", base.transferMiB),
      rounds: yield* number("--rounds", base.rounds),
      operatorBumps: yield* number("--operator-bumps", base.operatorBumps),
      only,
      out: values.get("--out") ?? defaultOut,
      dist: values.get("--dist"),
      parallel,
    }
  })
}
