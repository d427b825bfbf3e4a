/**
 * A command run in a simulated pod's container (`pods/<name>/exec`). The cluster checks the pod as the API server and
 * kubelet do (it exists, names the container, has not ended, runs that container); what the command does is the
 * `ExecHandler`'s: `localExecHandler` runs it as a process on this machine, with the container's mount paths mapped to
 * directories here, as the demo's pods and the tests' backups are laid out.
 */
import { spawn } from "node:child_process"
import type { Readable } from "node:stream"
import { Result } from "effect"
import type { KubeStatus } from "../services/kube/errors.ts"
import { isJsonObject } from "../services/kube/merge-patch.ts"
import { badRequest } from "./simulated-validation.ts"

export interface ExecRequest {
  readonly namespace: string
  readonly pod: string
  readonly container: string
  readonly command: ReadonlyArray<string>
}

/** A command started: its stdout, and how it ended (its exit code and the start of its stderr). */
export interface ExecProcess {
  readonly stdout: Readable
  readonly exit: Promise<{ readonly exitCode: number; readonly stderr: string }>
  /** Ends it early (the client went away). */
  readonly kill: () => void
}

export type ExecHandler = (request: ExecRequest) => ExecProcess

/** Whether `pod` (JSON) can take a command in `container` now; the API's refusal when not. */
export const execRefusal = (pod: Readonly<Record<string, unknown>>, podName: string, container: string): KubeStatus | undefined => {
  const spec = isJsonObject(pod.spec) ? pod.spec : {}
  const status = isJsonObject(pod.status) ? pod.status : {}
  const names = [spec.initContainers, spec.containers].flatMap((list) =>
    (Array.isArray(list) ? list : []).flatMap((c: unknown) => (isJsonObject(c) && typeof c.name === "string" ? [c.name] : [])),
  )
  if (!names.includes(container)) return badRequest(`container ${container} is not valid for pod ${podName}`)
  if (status.phase === "Succeeded" || status.phase === "Failed")
    return badRequest(`cannot exec into a container in a completed pod; current phase is ${String(status.phase)}`)
  const running = [status.initContainerStatuses, status.containerStatuses].some((list) =>
    (Array.isArray(list) ? list : []).some((c: unknown) => isJsonObject(c) && c.name === container && isJsonObject(c.state) && isJsonObject(c.state.running)),
  )
  return running ? undefined : badRequest(`unable to upgrade connection: container not found ("${container}")`)
}

/** A container path's place here: the first mount whose container path holds it, else unchanged. */
const mapped = (mounts: ReadonlyArray<{ readonly containerPath: string; readonly hostPath: string }>, arg: string): string => {
  const mount = mounts.find((m) => arg === m.containerPath || arg.startsWith(`${m.containerPath}/`))
  return mount === undefined ? arg : `${mount.hostPath}${arg.slice(mount.containerPath.length)}`
}

const stderrKept = 4096

/** Runs each command here, its arguments under a mount's container path rewritten to that mount's directory. */
export const localExecHandler =
  (mounts: (request: ExecRequest) => ReadonlyArray<{ readonly containerPath: string; readonly hostPath: string }>): ExecHandler =>
  (request) => {
    const table = mounts(request)
    const [program = "false", ...args] = request.command.map((arg) => mapped(table, arg))
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < stderrKept) stderr = (stderr + chunk.toString("utf8")).slice(0, stderrKept)
    })
    const exit = new Promise<{ exitCode: number; stderr: string }>((resolve) => {
      child.on("error", (error) => resolve({ exitCode: 127, stderr: `${program}: ${error.message}` }))
      child.on("close", (code, signal) => resolve({ exitCode: code ?? (signal === null ? 1 : 128), stderr }))
    })
    return { stdout: child.stdout, exit, kill: () => child.kill("SIGKILL") }
  }

/** The exec as the cluster serves it: the pod's refusal, or the handler's process (none set: a 500, as a kubelet that cannot run it). */
export const startExec = (
  pod: Result.Result<Readonly<Record<string, unknown>>, KubeStatus>,
  request: ExecRequest,
  handler: ExecHandler | undefined,
): Result.Result<ExecProcess, KubeStatus> => {
  if (Result.isFailure(pod)) return Result.fail(pod.failure)
  const refused = execRefusal(pod.success, request.pod, request.container)
  if (refused !== undefined) return Result.fail(refused)
  if (handler === undefined)
    return Result.fail({ code: 500, reason: "InternalError", message: "this simulated cluster runs no commands in its pods (no exec handler)" })
  return Result.succeed(handler(request))
}
