/**
 * Runs the CLI on a real volume that is nearly full: a fresh tmpfs (in the child's own mount
 * namespace, so no privilege is needed), given `seed`'s contents, filled until `room` bytes are
 * free, the CLI started in it, so relative paths in `args` are on it. The kernel's own free space
 * and ENOSPC, not a fake. stdout's last line lists the volume after the run, `depth` levels down.
 */
import { spawnSync } from "node:child_process"
import { cliEntry } from "./tools.ts"

const script = [
  'set -e; d=$(mktemp -d); mount -t tmpfs -o size="$1"m tmpfs "$d"',
  'if [ -n "$3" ]; then cp -a "$3/." "$d/"; fi',
  'free=$(( $(stat -f -c "%a" "$d") * $(stat -f -c "%S" "$d") )); head -c $(( free - $2 )) /dev/zero > "$d/filler"',
  'depth=$4; node=$5; entry=$6; shift 6; cd "$d"',
  'set +e; "$node" "$entry" "$@"; status=$?',
  'echo; find . -mindepth 1 -maxdepth "$depth" | sed "s|^\\./||" | tr "\\n" " "; exit $status',
].join("\n")

export interface FilledTmpfs {
  readonly sizeMiB?: number
  /** A directory whose contents are copied onto the volume first. */
  readonly seed?: string
  /** How many levels of the volume stdout's last line lists (default 1: its top level). */
  readonly depth?: number
}

export const cliOnFilledTmpfs = (room: number, args: ReadonlyArray<string>, options: FilledTmpfs = {}) =>
  spawnSync(
    "unshare",
    [
      "--map-root-user",
      "--mount",
      "sh",
      "-c",
      script,
      "sh",
      String(options.sizeMiB ?? 16),
      String(room),
      options.seed ?? "",
      String(options.depth ?? 1),
      process.execPath,
      cliEntry,
      ...args,
    ],
    { encoding: "utf8", timeout: 120_000 },
  )

/** The paths stdout's last line gives: what the volume holds after the run, sorted. */
export const volumeListing = (stdout: string): ReadonlyArray<string> =>
  (stdout.trim().split("\n").at(-1) ?? "")
    .trim()
    .split(" ")
    .filter((n) => n !== "")
    .sort()
