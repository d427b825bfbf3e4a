/**
 * Runs the CLI on a real volume that is nearly full: a fresh tmpfs (in the child's own mount
 * namespace, so no privilege is needed) filled until `room` bytes are free, the CLI started in it,
 * so relative paths in `args` are on it. The kernel's own free space and ENOSPC, not a fake.
 * stdout's last line lists the volume's top level after the run.
 */
import { spawnSync } from "node:child_process"
import { cliEntry } from "./tools.ts"

const script = [
  'set -e; d=$(mktemp -d); mount -t tmpfs -o size="$1"m tmpfs "$d"',
  'free=$(( $(stat -f -c "%a" "$d") * $(stat -f -c "%S" "$d") )); head -c $(( free - $2 )) /dev/zero > "$d/filler"',
  'node=$3; entry=$4; shift 4; cd "$d"',
  'set +e; "$node" "$entry" "$@"; status=$?',
  'echo; ls -A "$d" | tr "\\n" " "; exit $status',
].join("\n")

export const cliOnFilledTmpfs = (room: number, args: ReadonlyArray<string>, sizeMiB = 16) =>
  spawnSync("unshare", ["--map-root-user", "--mount", "sh", "-c", script, "sh", String(sizeMiB), String(room), process.execPath, cliEntry, ...args], {
    encoding: "utf8",
    timeout: 120_000,
  })

/** The names stdout's last line gives: what the volume holds at its top level after the run, sorted. */
export const volumeListing = (stdout: string): ReadonlyArray<string> =>
  (stdout.trim().split("\n").at(-1) ?? "")
    .trim()
    .split(" ")
    .filter((n) => n !== "")
    .sort()
