import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { containerEnv, localArgs, type RunnableContainer, type RunnablePod, runLocalPod } from "../../../src/programs/demo/local-kubelet.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { tempDir } from "../../support/temp-dir.ts"

const upload: RunnableContainer = {
  name: "backup-upload",
  command: ["cluster-backup", "backup-upload", "--backup-dir", "/backup", "--report-file", "/dev/termination-log", "--s3-endpoint", "http://x"],
  env: [
    { name: "AWS_SHARED_CREDENTIALS_FILE", value: "/var/run/secrets/cluster-backup-store/credentials" },
    { name: "NODE_OPTIONS", value: "--max-semi-space-size=4" },
  ],
  volumeMounts: [
    { name: "backup", mountPath: "/backup" },
    { name: "store-credentials", mountPath: "/var/run/secrets/cluster-backup-store", readOnly: true },
  ],
}
const dirs = new Map([
  ["backup", "/w/backup"],
  ["store-credentials", "/w/creds"],
])

describe("localArgs and containerEnv", () => {
  it("map the terminationMessagePath onto the container's termination file, and paths under mounts onto the volumes", () => {
    expect(localArgs(upload, dirs, { "--s3-endpoint": "http://127.0.0.1:9" }, "/w/termination/backup-upload")).toEqual([
      "backup-upload",
      "--backup-dir",
      "/w/backup",
      "--report-file",
      "/w/termination/backup-upload",
      "--s3-endpoint",
      "http://127.0.0.1:9",
    ])
  })

  it("map an env value that is a path under a mount as arguments are mapped, and leave other values as written", () => {
    expect(containerEnv(upload, dirs)).toEqual({ AWS_SHARED_CREDENTIALS_FILE: "/w/creds/credentials", NODE_OPTIONS: "--max-semi-space-size=4" })
  })
})

/** A container image stand-in: writes its argument after --report-file as its termination message, then exits with --exit. */
const fakeEntry = (dir: string) => {
  const file = join(dir, "entry.mjs")
  writeFileSync(
    file,
    `import { writeFileSync } from "node:fs"
const args = process.argv.slice(2)
const at = (flag) => args[args.indexOf(flag) + 1]
if (args.includes("--report-file")) writeFileSync(at("--report-file"), at("--message"))
console.error("last words of " + args[2])
process.exit(Number(at("--exit") ?? "0"))
`,
  )
  return file
}

const pod = (exitOfSecond: number): RunnablePod => ({
  metadata: { namespace: "openshift-etcd", name: "p" },
  spec: {
    volumes: [{ name: "backup", emptyDir: {} }],
    containers: [],
    initContainers: [
      { name: "first", command: ["cluster-backup", "first", "--exit", "0"] },
      {
        name: "backup-upload",
        command: ["cluster-backup", "upload", "--report-file", "/dev/termination-log", "--message", '{"id":"x"}', "--exit", String(exitOfSecond)],
        volumeMounts: [{ name: "backup", mountPath: "/backup" }],
      },
    ],
  },
})

const run = (dir: string, p: RunnablePod) =>
  Effect.runPromise(
    runLocalPod(p, {
      dir: join(dir, "pod"),
      entry: fakeEntry(dir),
      replace: {},
      env: {},
      onStart: () => Effect.void,
      onLines: () => Effect.void,
    }).pipe(Effect.provide(SimulatedKube.inMemory(makeSimulatedCluster())), Effect.provide(NodeServices.layer)),
  )

describe("runLocalPod", () => {
  it("gives each container what it wrote to its terminationMessagePath as its termination message", async () => {
    const ran = await run(tempDir("local-pod"), pod(0))
    expect(ran.failure).toBeUndefined()
    expect(ran.outcome).toEqual({ phase: "Succeeded", containers: { first: { exitCode: 0 }, "backup-upload": { exitCode: 0, message: '{"id":"x"}' } } })
  })

  it("ends the pod Failed at the first failing container, with its exit code and termination message", async () => {
    const ran = await run(tempDir("local-pod"), pod(3))
    expect(ran.failure?.container).toBe("backup-upload")
    expect(ran.outcome).toEqual({ phase: "Failed", containers: { first: { exitCode: 0 }, "backup-upload": { exitCode: 3, message: '{"id":"x"}' } } })
  })
})
