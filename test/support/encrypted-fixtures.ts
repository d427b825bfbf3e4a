/**
 * Encrypted etcd values and certificates made by implementations independent of the project's
 * code, so a test proves the project reads what real tools write:
 * - aescbc with `openssl enc -aes-<bits>-cbc -K <hex> -iv <hex>` (PKCS#7 padding, no salt header);
 * - aesgcm with Python's `cryptography` package (Debian's python3-cryptography), `AESGCM.encrypt`
 *   with the etcd key as associated data, as kube-apiserver's transformer does;
 * - certificates with `openssl req` / `openssl ca -startdate -enddate` (fixed validity windows,
 *   OpenSSL 3.0 has no `-not_before` on `req`/`x509`).
 * The envelope (`k8s:enc:<provider>:v1:<key>:`) is written here by hand, from the API server's source.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const python = "/usr/bin/python3"

/** Throws, saying what to install, when Python's `cryptography` package is missing: the aesgcm fixtures need it. */
export const requirePythonCryptography = (): void => {
  const probe = spawnSync(python, ["-c", "from cryptography.hazmat.primitives.ciphers.aead import AESGCM"], { encoding: "utf8" })
  if (probe.status !== 0) {
    throw new Error(
      `${python} cannot import cryptography's AESGCM (${probe.error?.message ?? probe.stderr.trim()}): the aesgcm fixtures are made by it, not by the project's code. Install Debian's python3-cryptography (apt-get install python3-cryptography).`,
    )
  }
}

const concat = (...parts: ReadonlyArray<Uint8Array | string>) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p)))))

/** `k8s:enc:aescbc:v1:<keyName>:` + IV + `openssl enc` ciphertext of `plaintext`. */
export const opensslAesCbcValue = (opts: {
  readonly keyName: string
  readonly key: Uint8Array
  readonly plaintext: Uint8Array
  readonly iv?: Uint8Array
}): Uint8Array => {
  const iv = opts.iv ?? randomBytes(16)
  const cipher = `-aes-${opts.key.length * 8}-cbc`
  const ciphertext = execFileSync("openssl", ["enc", cipher, "-K", Buffer.from(opts.key).toString("hex"), "-iv", Buffer.from(iv).toString("hex")], {
    input: opts.plaintext,
  })
  return concat(`k8s:enc:aescbc:v1:${opts.keyName}:`, iv, ciphertext)
}

const gcmScript = `
import json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
r = json.load(sys.stdin)
out = AESGCM(bytes.fromhex(r["key"])).encrypt(bytes.fromhex(r["nonce"]), bytes.fromhex(r["data"]), r["aad"].encode("utf-8"))
sys.stdout.write(out.hex())
`

/** `k8s:enc:aesgcm:v1:<keyName>:` + nonce + ciphertext and tag from Python's `cryptography`, the etcd key as associated data. */
export const pythonAesGcmValue = (opts: {
  readonly keyName: string
  readonly key: Uint8Array
  readonly plaintext: Uint8Array
  readonly etcdKey: string
  readonly nonce?: Uint8Array
}): Uint8Array => {
  const nonce = opts.nonce ?? randomBytes(12)
  const request = JSON.stringify({
    key: Buffer.from(opts.key).toString("hex"),
    nonce: Buffer.from(nonce).toString("hex"),
    data: Buffer.from(opts.plaintext).toString("hex"),
    aad: opts.etcdKey,
  })
  const out = execFileSync(python, ["-c", gcmScript], { input: request, encoding: "utf8" })
  return concat(`k8s:enc:aesgcm:v1:${opts.keyName}:`, nonce, Buffer.from(out, "hex"))
}

const varint = (n: number): Buffer => {
  const bytes: Array<number> = []
  let v = n
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  bytes.push(v)
  return Buffer.from(bytes)
}
const field = (tag: number, payload: Buffer) => Buffer.concat([Buffer.from([(tag << 3) | 2]), varint(payload.length), payload])

/**
 * An object as kube-apiserver stores a built-in type: `k8s\0` then a protobuf `runtime.Unknown`
 * (typeMeta {apiVersion, kind}, raw, contentEncoding, contentType).
 */
export const protobufObject = (apiVersion: string, kind: string, raw: Uint8Array = randomBytes(48)): Uint8Array => {
  const typeMeta = Buffer.concat([field(1, Buffer.from(apiVersion)), field(2, Buffer.from(kind))])
  return concat(
    Buffer.from("k8s\0", "latin1"),
    Buffer.concat([field(1, typeMeta), field(2, Buffer.from(raw)), field(3, Buffer.alloc(0)), field(4, Buffer.alloc(0))]),
  )
}

/** A custom resource as stored: JSON. */
export const jsonObject = (apiVersion: string, kind: string, name: string): Uint8Array => concat(JSON.stringify({ apiVersion, kind, metadata: { name } }))

// ---- certificates -------------------------------------------------------------------------

const caConfig = (dir: string) => `
[ ca ]
default_ca = fixture_ca
[ fixture_ca ]
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
default_md = sha256
rand_serial = yes
unique_subject = no
policy = any_name
email_in_dn = no
[ any_name ]
commonName = supplied
[ ca_ext ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ leaf_ext ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
`

/** GeneralizedTime as `openssl ca -startdate/-enddate` takes it. */
const asn1Time = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:T]/g, "")
    .replace(/\.\d{3}Z$/, "Z")

const openssl = (args: ReadonlyArray<string>) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] })

export interface IssuedCertificate {
  readonly certPem: string
  readonly keyPath: string
  readonly certPath: string
}

/**
 * A small CA toolbox in `dir`: `ca` makes a self-signed CA, `leaf` a certificate it signs, each
 * with exactly the validity window asked for.
 */
export const certificateFactory = (dir: string) => {
  mkdirSync(join(dir, "issued"), { recursive: true })
  writeFileSync(join(dir, "index.txt"), "")
  const cnf = join(dir, "openssl.cnf")
  writeFileSync(cnf, caConfig(dir))
  const request = (name: string) => {
    const keyPath = join(dir, `${name}.key`)
    const csrPath = join(dir, `${name}.csr`)
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-subj", `/CN=${name}`, "-out", csrPath])
    return { keyPath, csrPath }
  }
  const sign = (name: string, csrPath: string, from: Date, to: Date, extra: ReadonlyArray<string>): string => {
    const certPath = join(dir, `${name}.crt`)
    openssl(["ca", "-batch", "-config", cnf, "-notext", "-in", csrPath, "-out", certPath, "-startdate", asn1Time(from), "-enddate", asn1Time(to), ...extra])
    return certPath
  }
  return {
    ca: (name: string, from: Date, to: Date): IssuedCertificate => {
      const { keyPath, csrPath } = request(name)
      const certPath = sign(name, csrPath, from, to, ["-selfsign", "-keyfile", keyPath, "-extensions", "ca_ext"])
      return { certPem: readFileSync(certPath, "utf8"), keyPath, certPath }
    },
    leaf: (name: string, issuer: IssuedCertificate, from: Date, to: Date): IssuedCertificate => {
      const { keyPath, csrPath } = request(name)
      const certPath = sign(name, csrPath, from, to, ["-cert", issuer.certPath, "-keyfile", issuer.keyPath, "-extensions", "leaf_ext"])
      return { certPem: readFileSync(certPath, "utf8"), keyPath, certPath }
    },
  }
}

/** A kubeconfig holding its CA and client certificate as base64 `*-data` fields, like OpenShift's. */
export const kubeconfigWith = (caPem: string, clientPem: string): string =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: loopback",
    "  cluster:",
    "    server: https://localhost:6443",
    `    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`,
    "users:",
    "- name: recovery",
    "  user:",
    `    client-certificate-data: ${Buffer.from(clientPem).toString("base64")}`,
    `    client-key-data: ${Buffer.from("-----BEGIN EC PRIVATE KEY-----\nnot a real key\n-----END EC PRIVATE KEY-----\n").toString("base64")}`,
    "contexts:",
    "- name: recovery",
    "  context: {cluster: loopback, user: recovery}",
    "current-context: recovery",
    "",
  ].join("\n")
