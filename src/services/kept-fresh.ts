/**
 * Refreshes a file's times every `everyMs` until stopped, so that a writer which pauses (an fsync of
 * gigabytes, a slow volume) still shows a reader on any host that it is alive: a file unchanged for
 * many periods is a dead writer's. Follows no symlink; a refresh that fails (the file renamed into
 * place, or removed) is skipped. The timer keeps no process alive.
 */
import { lutimes } from "node:fs/promises"

export const keepFresh = (path: string, everyMs: number): (() => void) => {
  const timer = setInterval(() => {
    const now = new Date()
    lutimes(path, now, now).catch(() => undefined)
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
