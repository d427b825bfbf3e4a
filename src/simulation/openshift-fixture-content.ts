/**
 * Realistic, deterministic key content for the revisioned ConfigMaps and Secrets of the
 * OpenShift fixtures: static pod manifests, config files, kubeconfigs, PEM bundles, keys,
 * tokens, an encryption config, a script and some binary data. Content is chosen by resource
 * name (a rule table), so an overridden operand table still gets plausible keys.
 */
import { stringify } from "yaml"
import type { Operand } from "../domain/operands.ts"
import { fixtureCertificates } from "./fixture-certificates.ts"
import type { SeededRandom } from "./seeded-random.ts"

/** An encryption-at-rest key as an EncryptionConfiguration names it. */
export interface EncryptionKey {
  readonly name: string
  /** 32 bytes: AES-256. */
  readonly secret: Uint8Array
}

export interface ContentContext {
  readonly operand: Operand
  readonly revision: number
  /** The resource name without the revision suffix. */
  readonly name: string
  readonly nodes: ReadonlyArray<string>
  readonly version: string
  /** The cluster's encryption-at-rest key (the same in every revision). */
  readonly encryptionKey: EncryptionKey
  /** Stable per operand (not per revision): image digests. */
  readonly operandRandom: SeededRandom
  /** Per resource and revision: keys, certificates, tokens. */
  readonly random: SeededRandom
}

export interface Content {
  readonly data?: Readonly<Record<string, string>>
  readonly binaryData?: Readonly<Record<string, Uint8Array>>
  /** Secrets only. */
  readonly type?: string
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64")
const wrap = (text: string): string => text.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")

/**
 * A PEM block: for `CERTIFICATE` one of the real fixture certificates (the bundle's certificate
 * check parses them), otherwise random DER-sized bytes. The same random bytes are drawn either way,
 * so the content that follows does not depend on the label.
 */
export const pem = (random: SeededRandom, label: string, size = 600): string => {
  const bytes = random.bytes(size)
  if (label === "CERTIFICATE") return `${fixtureCertificates[bytes[0]! % fixtureCertificates.length]}\n`
  return `-----BEGIN ${label}-----\n${wrap(base64(bytes))}\n-----END ${label}-----\n`
}

const hex = (random: SeededRandom, n: number): string => Array.from(random.bytes(n), (b) => b.toString(16).padStart(2, "0")).join("")

const image = (ctx: ContentContext): string => {
  const digest = hex(ctx.operandRandom, 32)
  return `quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:${digest}`
}

const staticPodName = (operand: Operand): string => operand.podConfigMap.replace(/-pod$/, "")

/** The static pod manifest the installer writes to /etc/kubernetes/manifests for this revision. */
export const podManifest = (ctx: ContentContext): string => {
  const { operand, revision } = ctx
  const name = staticPodName(operand)
  const resources = `/etc/kubernetes/static-pod-resources/${operand.podConfigMap}-${revision}`
  return stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: operand.namespace,
      labels: { app: name, [name]: "true", revision: String(revision) },
      annotations: {
        "kubectl.kubernetes.io/default-container": name,
        "target.workload.openshift.io/management": '{"effect": "PreferredDuringScheduling"}',
      },
    },
    spec: {
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      tolerations: [{ operator: "Exists" }],
      containers: [
        {
          name,
          image: image(ctx),
          imagePullPolicy: "IfNotPresent",
          command: ["/bin/bash", "-euxo", "pipefail", "-c"],
          args: [`exec ${name} --config=${resources}/configmaps/config/config.yaml`],
          resources: { requests: { cpu: "100m", memory: "200Mi" } },
          securityContext: { privileged: true },
          terminationMessagePolicy: "FallbackToLogsOnError",
          volumeMounts: [
            { name: "resource-dir", mountPath: "/etc/kubernetes/static-pod-resources" },
            { name: "cert-dir", mountPath: "/etc/kubernetes/static-pod-certs" },
          ],
        },
      ],
      volumes: [
        { name: "resource-dir", hostPath: { path: resources } },
        { name: "cert-dir", hostPath: { path: `/etc/kubernetes/static-pod-resources/${operand.certDir}` } },
      ],
    },
  })
}

const kubeconfig = (ctx: ContentContext): string =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "loopback",
        cluster: {
          server: "https://localhost:6443",
          "certificate-authority": "/etc/kubernetes/static-pod-resources/configmaps/serviceaccount-ca/ca-bundle.crt",
        },
      },
    ],
    contexts: [{ name: ctx.name, context: { cluster: "loopback", user: ctx.name } }],
    "current-context": ctx.name,
    users: [
      {
        name: ctx.name,
        user: {
          "client-certificate": "/etc/kubernetes/static-pod-certs/secrets/client/tls.crt",
          "client-key": "/etc/kubernetes/static-pod-certs/secrets/client/tls.key",
        },
      },
    ],
  })

const configYaml = (ctx: ContentContext): string =>
  stringify({
    apiVersion: "kubecontrolplane.config.openshift.io/v1",
    kind: `${ctx.operand.kind}Config`,
    servingInfo: {
      bindAddress: "0.0.0.0:10257",
      certFile: "/etc/kubernetes/static-pod-certs/secrets/serving-cert/tls.crt",
      keyFile: "/etc/kubernetes/static-pod-certs/secrets/serving-cert/tls.key",
    },
    extendedArguments: { "cluster-name": ["ocp-fixture"], v: ["2"] },
  })

const tls = (ctx: ContentContext): Content => ({
  type: "kubernetes.io/tls",
  data: { "tls.crt": pem(ctx.random, "CERTIFICATE"), "tls.key": pem(ctx.random, "RSA PRIVATE KEY", 1190) },
})

const caBundle = (ctx: ContentContext): Content => ({
  data: { "ca-bundle.crt": pem(ctx.random, "CERTIFICATE") + pem(ctx.random, "CERTIFICATE") },
})

interface Rule {
  readonly matches: (name: string) => boolean
  readonly content: (ctx: ContentContext) => Content
}

const named =
  (...names: ReadonlyArray<string>) =>
  (name: string): boolean =>
    names.includes(name)

/** ConfigMap content, first matching rule wins. */
const configMapRules: ReadonlyArray<Rule> = [
  {
    // etcd's pod ConfigMap also carries a helper script (a `.sh` key is installed executable).
    matches: named("etcd-pod"),
    content: (ctx) => ({
      data: {
        "pod.yaml": podManifest(ctx),
        version: ctx.version,
        forceRedeploymentReason: "",
        "etcd-prestart.sh": "#!/bin/sh\nset -euo pipefail\n# wait for the member's data dir to be writable\ntest -w /var/lib/etcd\n",
      },
    }),
  },
  {
    matches: (name) => name.endsWith("-pod"),
    content: (ctx) => ({ data: { "pod.yaml": podManifest(ctx), version: ctx.version, forceRedeploymentReason: "" } }),
  },
  {
    matches: named("etcd-endpoints"),
    content: (ctx) => ({
      data: Object.fromEntries(ctx.nodes.map((_, i) => [hex(ctx.operandRandom, 8), `10.0.0.${10 + i}`])),
    }),
  },
  {
    matches: named("etcd-all-bundles"),
    content: (ctx) => ({
      data: { "server-ca-bundle.crt": pem(ctx.random, "CERTIFICATE"), "metrics-ca-bundle.crt": pem(ctx.random, "CERTIFICATE") },
    }),
  },
  { matches: named("config", "cluster-policy-controller-config"), content: (ctx) => ({ data: { "config.yaml": configYaml(ctx) } }) },
  { matches: (name) => name.endsWith("kubeconfig"), content: (ctx) => ({ data: { kubeconfig: kubeconfig(ctx) } }) },
  {
    matches: named("bound-sa-token-signing-certs", "sa-token-signing-certs"),
    content: (ctx) => ({
      data: { "service-account-001.pub": pem(ctx.random, "PUBLIC KEY", 294), "service-account-002.pub": pem(ctx.random, "PUBLIC KEY", 294) },
    }),
  },
  {
    // Binary data: the DER form of the kubelet serving CA next to its PEM bundle.
    matches: named("kubelet-serving-ca"),
    content: (ctx) => ({ ...caBundle(ctx), binaryData: { "ca-bundle.der": ctx.random.bytes(900) } }),
  },
  { matches: (name) => name.endsWith("-ca"), content: caBundle },
  {
    matches: named("oauth-metadata"),
    content: () => ({
      data: {
        oauthMetadata: JSON.stringify({
          issuer: "https://oauth-openshift.apps.ocp-fixture.example.com",
          authorization_endpoint: "https://oauth-openshift.apps.ocp-fixture.example.com/oauth/authorize",
          token_endpoint: "https://oauth-openshift.apps.ocp-fixture.example.com/oauth/token",
        }),
      },
    }),
  },
  { matches: named("cloud-config"), content: () => ({ data: { "cloud.conf": "[Global]\nregion = eu-west-1\n" } }) },
  {
    matches: named("kube-apiserver-audit-policies"),
    content: () => ({
      data: { "policy.yaml": stringify({ apiVersion: "audit.k8s.io/v1", kind: "Policy", rules: [{ level: "Metadata" }] }) },
    }),
  },
  {
    matches: named("auth-config"),
    content: () => ({
      data: { "auth-config.json": JSON.stringify({ kind: "AuthenticationConfiguration", apiVersion: "apiserver.config.k8s.io/v1beta1", jwt: [] }) },
    }),
  },
  {
    matches: named("recycler-config"),
    content: (ctx) => ({
      data: {
        "recycler-pod.yaml": stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "recycler-pod", namespace: "openshift-infra" },
          spec: { containers: [{ name: "recycler-container", image: image(ctx), command: ["/bin/sh", "-c", "rm -rf /scrub/..?* /scrub/.[!.]* /scrub/*"] }] },
        }),
      },
    }),
  },
  { matches: named("policy-configmap"), content: () => ({ data: { "policy.cfg": JSON.stringify({ kind: "Policy", apiVersion: "v1", predicates: [] }) } }) },
  { matches: () => true, content: (ctx) => ({ data: { [`${ctx.name}.yaml`]: stringify({ revision: ctx.revision }) } }) },
]

/** Secret content, first matching rule wins. */
const secretRules: ReadonlyArray<Rule> = [
  {
    matches: named("etcd-all-certs"),
    content: (ctx) => ({
      type: "Opaque",
      data: Object.fromEntries(
        ctx.nodes.flatMap((node) =>
          ["etcd-peer", "etcd-serving", "etcd-serving-metrics"].flatMap((kind) => [
            [`${kind}-${node}.crt`, pem(ctx.random, "CERTIFICATE")],
            [`${kind}-${node}.key`, pem(ctx.random, "RSA PRIVATE KEY", 1190)],
          ]),
        ),
      ),
    }),
  },
  {
    // The keys that decrypt encrypted resources in the etcd snapshot.
    matches: named("encryption-config"),
    content: (ctx) => ({
      type: "Opaque",
      data: {
        "encryption-config": stringify({
          apiVersion: "apiserver.config.k8s.io/v1",
          kind: "EncryptionConfiguration",
          resources: [
            {
              resources: ["secrets", "configmaps", "routes.route.openshift.io", "oauthaccesstokens.oauth.openshift.io"],
              providers: [{ aescbc: { keys: [{ name: ctx.encryptionKey.name, secret: base64(ctx.encryptionKey.secret) }] } }, { identity: {} }],
            },
          ],
        }),
      },
    }),
  },
  {
    matches: named("localhost-recovery-client-token"),
    content: (ctx) => ({
      type: "Opaque",
      data: {
        token: `eyJhbGciOiJSUzI1NiJ9.${base64(ctx.random.bytes(180)).replace(/=+$/, "")}.${base64(ctx.random.bytes(256)).replace(/=+$/, "")}`,
        "ca.crt": pem(ctx.random, "CERTIFICATE"),
        "service-ca.crt": pem(ctx.random, "CERTIFICATE"),
        namespace: ctx.operand.namespace,
      },
    }),
  },
  { matches: named("webhook-authenticator"), content: (ctx) => ({ type: "Opaque", data: { kubeConfig: kubeconfig(ctx) } }) },
  {
    matches: named("service-account-private-key"),
    content: (ctx) => ({
      type: "Opaque",
      data: { "service-account.key": pem(ctx.random, "RSA PRIVATE KEY", 1190), "service-account.pub": pem(ctx.random, "PUBLIC KEY", 294) },
    }),
  },
  { matches: () => true, content: tls },
]

const select = (rules: ReadonlyArray<Rule>, ctx: ContentContext): Content =>
  (rules.find((rule) => rule.matches(ctx.name)) ?? { content: () => ({}) }).content(ctx)

export const configMapContent = (ctx: ContentContext): Content => select(configMapRules, ctx)
export const secretContent = (ctx: ContentContext): Content => select(secretRules, ctx)
