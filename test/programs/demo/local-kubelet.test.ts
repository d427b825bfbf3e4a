import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { renderBackupPodYaml } from "../../../src/domain/pod-spec.ts"
import { encodeVolumeSizeLimits, volumeSizeLimitsEnv } from "../../../src/domain/volume-size-limits.ts"
import { containerEnv, decodeRunnablePod, localArgs, type RunnableContainer, type RunnablePod, runLocalPod } from "../../../src/programs/demo/local-kubelet.ts"
import { secretType } from "../../../src/services/kube/resources.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
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

  it("map the volume size limits' mount paths onto the volumes, dropping a mount without a directory here", () => {
    const limited = {
      ...upload,
      volumeMounts: [...(upload.volumeMounts ?? []), { name: "tmp", mountPath: "/tmp" }],
      env: [{ name: volumeSizeLimitsEnv, value: encodeVolumeSizeLimits({ "/backup": 20, "/tmp": 5 }) }],
    }
    expect(containerEnv(limited, dirs)).toEqual({ [volumeSizeLimitsEnv]: encodeVolumeSizeLimits({ "/w/backup": 20 }) })
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
const proxyEnv = () => JSON.stringify({ HTTPS_PROXY: process.env.HTTPS_PROXY, https_proxy: process.env.https_proxy, NO_PROXY: process.env.NO_PROXY })
if (args.includes("--report-file")) writeFileSync(at("--report-file"), at("--message") === "env" ? proxyEnv() : at("--message"))
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

const run = (dir: string, p: RunnablePod, cluster: SimulatedCluster = makeSimulatedCluster(), started: Array<string> = []) =>
  Effect.runPromise(
    runLocalPod(p, {
      dir: join(dir, "pod"),
      entry: fakeEntry(dir),
      replace: {},
      env: {},
      onStart: (container) => Effect.sync(() => started.push(container)),
      onLines: () => Effect.void,
    }).pipe(Effect.provide(SimulatedKube.inMemory(cluster)), Effect.provide(NodeServices.layer)),
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

describe("runLocalPod and Secret cluster-backup-proxy", () => {
  const ns = "openshift-etcd"
  const credentialed = "http://backup:pr0xy@proxy.example.com:3128"
  const proxySecret = (data: Record<string, string>) => ({
    metadata: { name: "cluster-backup-proxy", namespace: ns },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
  })
  /** The rendered pod's backup-upload, its proxy env and volume as rendered, before a container that stands for backup-init. */
  const proxiedPod = (): RunnablePod => {
    const yaml = renderBackupPodYaml(
      { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 },
      {
        store: { s3Url: "s3://b", partSize: "16Mi", partsInFlight: 2, deadlineSeconds: 600 },
        proxyEnv: { HTTPS_PROXY: credentialed, https_proxy: credentialed, NO_PROXY: ".svc" },
      },
    )
    const rendered = Result.getOrThrow(decodeRunnablePod(yaml))
    const upload = rendered.spec.initContainers.find((c) => c.name === "backup-upload")!
    const proxyVolumes = rendered.spec.volumes.filter((v) => upload.volumeMounts?.some((m) => m.name === v.name) && v.secret !== undefined)
    return {
      metadata: { namespace: ns, name: "p" },
      spec: {
        volumes: [{ name: "backup", emptyDir: {} }, ...proxyVolumes],
        containers: [],
        initContainers: [
          { name: "backup-init", command: ["cluster-backup", "backup-init", "--exit", "0"] },
          {
            ...upload,
            command: ["cluster-backup", "upload", "--report-file", "/dev/termination-log", "--message", "env", "--exit", "0"],
          },
        ],
      },
    }
  }

  it("refuses the pod before any container runs when the Secret is missing, or lacks a key the env takes", async () => {
    for (const data of [undefined, { HTTPS_PROXY: credentialed }]) {
      const cluster = makeSimulatedCluster()
      if (data !== undefined) cluster.create(secretType, proxySecret(data))
      const started: Array<string> = []
      const ran = await run(tempDir("local-pod"), proxiedPod(), cluster, started)
      expect(started).toEqual([])
      expect(ran.outcome).toEqual({ phase: "Failed", containers: {} })
      expect(ran.failure?.message).toContain("the pod cannot start: volume proxy-credentials: Secret cluster-backup-proxy in openshift-etcd")
      expect(ran.failure?.message).toContain(data === undefined ? "does not exist" : "has no key https_proxy")
    }
  })

  it("runs it when the Secret has every key, the container's env taking them from it", async () => {
    const cluster = makeSimulatedCluster()
    cluster.create(secretType, proxySecret({ HTTPS_PROXY: credentialed, https_proxy: credentialed, unused: "x" }))
    const started: Array<string> = []
    const ran = await run(tempDir("local-pod"), proxiedPod(), cluster, started)
    expect(ran.failure).toBeUndefined()
    expect(started).toEqual(["backup-init", "backup-upload"])
    expect(JSON.parse(ran.outcome.containers["backup-upload"]?.message ?? "{}")).toEqual({
      HTTPS_PROXY: credentialed,
      https_proxy: credentialed,
      NO_PROXY: ".svc",
    })
  })
  it("without the volume, a container whose env key is missing fails as it starts (CreateContainerConfigError), after the ones before it", async () => {
    const cluster = makeSimulatedCluster()
    cluster.create(secretType, proxySecret({ HTTPS_PROXY: credentialed }))
    const gated = proxiedPod()
    const ungated = { ...gated, spec: { ...gated.spec, volumes: gated.spec.volumes.filter((v) => v.secret === undefined) } }
    const started: Array<string> = []
    const ran = await run(tempDir("local-pod"), ungated, cluster, started)
    expect(started).toEqual(["backup-init"])
    expect(ran.failure?.container).toBe("backup-upload")
    expect(ran.outcome.containers["backup-upload"]).toEqual({
      exitCode: -1,
      message: "CreateContainerConfigError: couldn't find key https_proxy in Secret openshift-etcd/cluster-backup-proxy",
    })
  })
})

describe("decodeRunnablePod and volume items", () => {
  const withItemPath = (path: string) =>
    `metadata: {namespace: ns}
spec:
  initContainers: []
  containers: []
  volumes: [{name: v, secret: {secretName: s, items: [{key: k, path: "${path}"}]}}]
`
  it.each(["../escape", "a/../../escape", "/etc/escape", ".."])("refuses an item path %s that would write outside the volume", (path) => {
    const decoded = decodeRunnablePod(withItemPath(path))
    expect(Result.isFailure(decoded) && decoded.failure.message).toContain("a relative path inside the volume, without a '..' segment")
  })

  it.each(["k", "dir/k", "..k", "k.."])("takes an item path %s inside the volume", (path) => {
    expect(Result.isSuccess(decodeRunnablePod(withItemPath(path)))).toBe(true)
  })
})
