import { describe, expect, it } from "vitest"
import { classifyEtcdFailure, grpcReason } from "../../../src/services/etcd/etcd-grpc-errors.ts"

// Messages as @grpc/grpc-js 1.14 (through etcd3 1.1.2) reports them against etcd 3.5.
const unknownCa =
  "14 UNAVAILABLE: No connection established. Last error: 403D24EAE17F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 48\n (2026-11-24T04:21:16.263Z). Resolution note: "
const untrusted =
  "14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate; if the root CA is installed locally, try running Node.js with --use-system-ca. Resolution note: "
const refused = "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:23999. Resolution note: "
const compacted = "11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted"

const ctx = { endpoint: "https://e:2379", operation: "status", tls: true }

describe("classifyEtcdFailure", () => {
  it("a client certificate from another CA is a TLS rejection of the client certificate", () => {
    const e = classifyEtcdFailure(ctx, new Error(unknownCa))
    expect(e).toMatchObject({ _tag: "EtcdTlsRejected", rejected: "client-certificate", endpoint: "https://e:2379" })
    expect(e.message).toContain("--etcd-cert/--etcd-key")
  })

  it("an untrusted serving certificate is a TLS rejection of the server certificate", () => {
    const e = classifyEtcdFailure(ctx, new Error(untrusted))
    expect(e).toMatchObject({ _tag: "EtcdTlsRejected", rejected: "server-certificate" })
    expect(e.message).toContain("--etcd-cacert")
    expect(e.message).not.toContain("use-system-ca")
  })

  it("a refused connection is unreachable, with the reason", () => {
    const e = classifyEtcdFailure(ctx, new Error(refused))
    expect(e).toMatchObject({ _tag: "EtcdUnreachable" })
    expect(e.message).toBe(
      "cannot reach etcd at https://e:2379 (Error: connect ECONNREFUSED 127.0.0.1:23999): check the endpoint address and port, that etcd is running, and that it serves TLS there.",
    )
  })

  it("a compacted revision names the revision", () => {
    const e = classifyEtcdFailure({ ...ctx, operation: "read of /k", revision: 5 }, new Error(compacted))
    expect(e).toMatchObject({ _tag: "EtcdRevisionUnavailable", revision: 5, reason: "compacted" })
  })

  it("anything else keeps etcd's words", () => {
    const e = classifyEtcdFailure(ctx, new Error("3 INVALID_ARGUMENT: etcdserver: key is not provided"))
    expect(e).toMatchObject({ _tag: "EtcdRequestFailed", operation: "status" })
    expect(e.message).toContain("key is not provided")
  })

  it("strips timestamps and advice from gRPC reasons", () => {
    expect(grpcReason(new Error(unknownCa))).not.toMatch(/2026-|Resolution note/)
  })
})
