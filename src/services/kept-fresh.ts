/**
 * Refreshes a file's times every `everyMs` until stopped, so that a writer which pauses (an fsync of
 * gigabytes, a slow volume) still shows a reader on any host that it is alive: a file unchanged for
 * many periods is a dead writer's. Follows no symlink. A refresh that finds the file gone (removed by
 * another writer, or by prune taking a frozen writer for a dead one) calls `onGone` once, so the writer
 * can stop instead of filling an unlinked file to the end; the writer stops refreshing before it renames
 * the file into place. Other failures are skipped. The timer keeps no process alive.
 */
import { lutimes } from "node:fs/promises"

export const keepFresh = (path: string, everyMs: number, onGone: () => void = () => undefined): (() => void) => {
  let stopped = false
  const timer = setInterval(() => {
    const now = new Date()
    lutimes(path, now, now).catch((e: unknown) => {
      if (stopped || (e as { code?: unknown }).code !== "ENOENT") return
      stop()
      onGone()
    })
  }, everyMs)
  timer.unref()
  const stop = () => {
    stopped = true
    clearInterval(timer)
  }
  return stop
}
