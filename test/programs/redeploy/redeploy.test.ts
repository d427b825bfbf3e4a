/**
 * redeploy against the simulated cluster, whose four operators answer a new forceRedeploymentReason with a new
 * revision rolled out node by node (src/simulation/redeployment-controllers.ts).
 */
import { Effect, Exit, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { OperandName } from "../../../src/domain/operands.ts"
import { redeploymentReasonOf } from "../../../src/domain/redeployment.ts"
import { type RedeployOptions, redeploy } from "../../../src/programs/redeploy/redeploy.ts"
import { operatorTypes } from "../../../src/services/kube/resources.ts"
import { type RedeploymentControllerOptions, type RedeploymentControllers, redeploymentControllers } from "../../../src/simulation/redeployment-controllers.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import type { SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const all: ReadonlyArray<OperandName> = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
let controllers: RedeploymentControllers | undefined
const reason = "recovery-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"

afterEach(() => controllers?.stop())

const setup = (controllerOptions: RedeploymentControllerOptions = {}, started = true) => {
  const { cluster, fixture } = loadedCluster()
  controllers = redeploymentControllers(cluster, fixture, controllerOptions)
  if (started) controllers.start(5)
  const lines: Array<string> = []
  const run = (options: Partial<RedeployOptions> = {}) =>
    Effect.runPromiseExit(
      redeploy({
        operands: all,
        reason,
        wait: true,
        timeoutMs: 5_000,
        pollMs: 10,
        output: (line) => Effect.sync(() => void lines.push(line)),
        ...options,
      }).pipe(Effect.provide(SimulatedKube.inMemory(cluster))),
    )
  const latest = (operand: OperandName) =>
    (cluster.get(operatorTypes[operand], undefined, "cluster")!.status as { latestAvailableRevision: number }).latestAvailableRevision
  const patches = () => cluster.requests.filter((r) => r.verb === "patch").map((r) => r.resource)
  return { cluster, controllers, lines, run, latest, patches }
}

describe("redeploy", () => {
  it("asks each operator for a new revision in OpenShift's order, each only once the one before runs its new revision on every node", async () => {
    const { cluster, controllers, lines, run, latest } = setup()
    const before = all.map(latest)
    const exit = await run()
    expect(Exit.isSuccess(exit), String(exit)).toBe(true)
    expect(controllers.records.map((r) => `${r.what} ${r.operand}`)).toEqual(all.flatMap((o) => [`Asked ${o}`, `RolledOut ${o}`]))
    expect(all.map(latest)).toEqual(before.map((r) => r + 1))
    for (const operand of all)
      expect(redeploymentReasonOf(cluster.get(operatorTypes[operand], undefined, "cluster"))).toBe("recovery-0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71")
    expect(lines).toContain(`etcd: revision ${before[0]! + 1} is on all 3 nodes`)
    expect(lines.some((l) => /^kube-apiserver: waiting: 0 of 3 nodes at revision \d+ \(.*installing/.test(l))).toBe(true)
  })

  it("run again with the same reason, asks nothing twice: follows what is still rolling out and exits 0", async () => {
    const { controllers, run, patches, lines } = setup()
    expect(Exit.isSuccess(await run())).toBe(true)
    const asked = patches().length
    lines.length = 0
    expect(Exit.isSuccess(await run())).toBe(true)
    expect(patches().length).toBe(asked)
    expect(controllers.records.filter((r) => r.what === "Asked")).toHaveLength(4)
    expect(lines.filter((l) => l.includes("already"))).toHaveLength(4)
  })

  it("a new reason asks every operator again", async () => {
    const { controllers, run } = setup()
    expect(Exit.isSuccess(await run())).toBe(true)
    expect(Exit.isSuccess(await run({ reason: "recovery-second" }))).toBe(true)
    expect(controllers.records.filter((r) => r.what === "Asked")).toHaveLength(8)
  })

  it("fails when a rollout does not finish in time, naming the operand and what it waited for, and asks no later operand", async () => {
    const { run, patches } = setup({ stuck: ["kube-apiserver"] })
    const exit = await run({ timeoutMs: 300 })
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
    expect(error).toMatchObject({ _tag: "RolloutNotFinished", operand: "kube-apiserver" })
    expect((error as { message: string }).message).toMatch(
      /kube-apiserver has not rolled out a new revision .*\(0 of 3 nodes at revision \d+ .*run the same command again/,
    )
    expect(patches()).toEqual(["etcds", "kubeapiservers"])
  })

  it("reports the installer's failure on a node while it waits", async () => {
    const { run, lines } = setup({ failing: ["etcd"] })
    const exit = await run({ timeoutMs: 200 })
    expect(Exit.isFailure(exit)).toBe(true)
    expect(
      lines.some(
        (l) => l.startsWith("etcd: waiting:") && l.includes("the installer failed on master-0 (installer: pod failed: ImagePullBackOff) and tries again"),
      ),
    ).toBe(true)
  })

  it("--no-wait asks every operand at once and follows none", async () => {
    const { run, patches, lines } = setup({ stuck: [...all] })
    const exit = await run({ wait: false })
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(patches()).toEqual(["etcds", "kubeapiservers", "kubecontrollermanagers", "kubeschedulers"])
    expect(lines.some((l) => l.includes(": waiting:"))).toBe(false)
  })

  it("only the operands asked for, in OpenShift's order", async () => {
    const { run, patches } = setup()
    expect(Exit.isSuccess(await run({ operands: ["kube-apiserver", "kube-scheduler"] }))).toBe(true)
    expect(patches()).toEqual(["kubeapiservers", "kubeschedulers"])
  })

  it("waits through an API that does not answer while it checks the CRs, asks, and follows a rollout (kube-apiserver restarts node by node)", async () => {
    const { cluster, controllers, run, lines } = setup({ rolloutTicks: 40 })
    const outage = (times: number) => cluster.faults.inject(Fault.unavailable(), { verb: "get", resource: "kubeapiservers", times })
    const when = (what: "Asked" | "RolledOut", operand: OperandName, then: () => void) => {
      const timer = setInterval(() => {
        if (!controllers.records.some((r) => r.operand === operand && r.what === what)) return
        clearInterval(timer)
        then()
      }, 1)
      return timer
    }
    // Each get is tried 6 times (the Kube retries): 12 failures fail two whole checks.
    outage(12)
    cluster.faults.inject(Fault.unavailable(), { verb: "patch", resource: "kubeapiservers", times: 6 })
    const timers = [when("Asked", "kube-apiserver", () => outage(6))]
    const exit = await run()
    for (const t of timers) clearInterval(t)
    expect(Exit.isSuccess(exit), String(exit)).toBe(true)
    const said = (prefix: string) => lines.filter((l) => l.startsWith(`${prefix}: waiting: the API did not answer`))
    // Said once per phase, not at every try.
    expect(said("the operator CRs")).toHaveLength(1)
    expect(said("kube-apiserver").filter((l) => l.endsWith("asking again every 0.01 s"))).toHaveLength(1)
    expect(said("kube-apiserver").filter((l) => !l.includes("asking again"))).toHaveLength(1)
    expect(lines.at(-1)).toMatch(/^every operand asked/)
  })

  it("fails when the API stays unreachable past the timeout", async () => {
    const { cluster, run } = setup()
    cluster.faults.inject(Fault.unavailable(), { verb: "get", resource: "kubeapiservers", times: Number.POSITIVE_INFINITY })
    const exit = await run({ timeoutMs: 200 })
    expect(Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined).toMatchObject({ _tag: "Unavailable" })
  })

  it("fails at once, asking nothing further, when it may not patch an operator CR", async () => {
    const { cluster, run, controllers } = setup()
    cluster.faults.inject(Fault.forbidden(), { verb: "patch", resource: "kubecontrollermanagers" })
    const exit = await run()
    expect(Exit.isFailure(exit)).toBe(true)
    expect(Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined).toMatchObject({ _tag: "Forbidden" })
    expect(controllers.records.filter((r) => r.what === "Asked").map((r) => r.operand)).toEqual(["etcd", "kube-apiserver"])
  })

  /** What a run killed right after its patch leaves: the reason on the CR. */
  const askedEarlier = (cluster: SimulatedCluster, operand: OperandName) => {
    const cr = cluster.get(operatorTypes[operand], undefined, "cluster")!
    Result.getOrThrow(cluster.replace(operatorTypes[operand], { ...cr, spec: { ...(cr.spec as object), forceRedeploymentReason: reason } }))
  }

  it("run again after a run killed before the operator made the revision, waits for that revision, not the one before", async () => {
    const { cluster, controllers, run, lines, latest } = setup({}, false)
    const before = latest("etcd")
    askedEarlier(cluster, "etcd")
    const done = run({ operands: ["etcd"] })
    await new Promise((resolve) => setTimeout(resolve, 100))
    controllers.start(5)
    expect(Exit.isSuccess(await done)).toBe(true)
    expect(lines).toContain(
      `etcd: forceRedeploymentReason is already "${reason}" (an earlier run asked): its operator has made no revision for it yet (revision ${before} is of an earlier reason)`,
    )
    expect(lines).toContain(`etcd: revision ${before + 1} is on all 3 nodes`)
    expect(controllers.records.map((r) => r.what)).toEqual(["Asked", "RolledOut"])
  })

  it("run again after a run killed while the revision rolled out, follows that revision", async () => {
    const { cluster, controllers, run, lines, latest, patches } = setup({}, false)
    const before = latest("etcd")
    askedEarlier(cluster, "etcd")
    controllers.tick()
    expect(latest("etcd")).toBe(before + 1)
    controllers.start(5)
    expect(Exit.isSuccess(await run({ operands: ["etcd"] }))).toBe(true)
    expect(lines).toContain(`etcd: forceRedeploymentReason is already "${reason}" (an earlier run asked): following the rollout of revision ${before + 1}`)
    expect(lines).toContain(`etcd: revision ${before + 1} is on all 3 nodes`)
    expect(patches()).toEqual([])
  })

  it("refuses before asking anything, naming the CR, a cluster without an operand's operator CR", async () => {
    const { cluster, run, patches } = setup()
    Result.getOrThrow(cluster.remove(operatorTypes["kube-scheduler"], undefined, "cluster"))
    const exit = await run()
    const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
    expect(error).toMatchObject({ _tag: "OperatorCrMissing", operand: "kube-scheduler" })
    expect((error as { message: string }).message).toBe(
      "kubeschedulers.operator.openshift.io/cluster does not exist: the kubeconfig names a cluster without OpenShift's kube-scheduler operator (or the wrong cluster); nothing was asked",
    )
    expect(patches()).toEqual([])
  })
})
