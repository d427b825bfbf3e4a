/**
 * How kube-apiserver's aescbc transformer stores a value in etcd (k8s.io/apiserver
 * storage/value/encrypt/aes): `k8s:enc:aescbc:v1:<key name>:` + a random 16-byte IV + the AES-CBC
 * ciphertext with PKCS#7 padding. The demo stores the fixture's secrets and configmaps so, as a
 * cluster with encryption at rest does, for the backup's decryption check to prove its bundle against.
 */
import { createCipheriv, randomBytes } from "node:crypto"
import type { EncryptionKey } from "./openshift-fixtures.ts"

export const aescbcStoredValue = (key: EncryptionKey, plaintext: Uint8Array): Buffer => {
  const iv = randomBytes(16)
  const cipher = createCipheriv(`aes-${key.secret.length * 8}-cbc`, key.secret, iv)
  return Buffer.concat([Buffer.from(`k8s:enc:aescbc:v1:${key.name}:`), iv, cipher.update(plaintext), cipher.final()])
}
