import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { classifyEtcdFailure } from "../../../src/services/etcd/etcd-grpc-errors.ts"
import { connectionFailure, failureReason, GrpcCallFailed } from "../../../src/services/etcd/grpc-call-failed.ts"
import { GrpcStatus } from "../../../src/services/etcd/grpc-status.ts"

// What Node 24 reports on an HTTP/2 connection to etcd 3.5 (recorded), and etcd's own statuses.
const unknownCaError = Object.assign(
  new Error(
    "403D24EAE17F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:" +
      "../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 48\n",
  ),
  { library: "SSL routines", reason: "tlsv1 alert unknown ca", code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA" },
)
const untrustedError = Object.assign(
  new Error("unable to verify the first certificate; if the root CA is installed locally, try running Node.js with --use-system-ca"),
  { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
)
const refusedError = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:23999"), {
  errno: -111,
  code: "ECONNREFUSED",
  syscall: "connect",
  address: "127.0.0.1",
  port: 23999,
})
const unknownCa = connectionFailure("connection", unknownCaError)
const untrusted = connectionFailure("connecting", untrustedError)
const refused = new GrpcCallFailed({
  status: GrpcStatus.UNAVAILABLE,
  origin: "connecting",
  errno: "ECONNREFUSED",
  detail: "Error: connect ECONNREFUSED 127.0.0.1:23999",
})
const compacted = new GrpcCallFailed({ status: GrpcStatus.OUT_OF_RANGE, origin: "etcd", detail: "etcdserver: mvcc: required revision has been compacted" })

const ctx = { endpoint: "https://e:2379", operation: "status", tls: true }

describe("classifyEtcdFailure", () => {
  it("a client certificate from another CA is a TLS rejection of the client certificate", () => {
    const e = classifyEtcdFailure(ctx, unknownCa)
    expect(e).toMatchObject({ _tag: "EtcdTlsRejected", rejected: "client-certificate", endpoint: "https://e:2379" })
    expect(e.message).toContain("--etcd-cert/--etcd-key")
  })

  it("an untrusted serving certificate is a TLS rejection of the server certificate", () => {
    const e = classifyEtcdFailure(ctx, untrusted)
    expect(e).toMatchObject({ _tag: "EtcdTlsRejected", rejected: "server-certificate" })
    expect(e.message).toContain("--etcd-cacert")
    expect(e.message).not.toContain("use-system-ca")
  })

  it("a refused connection is unreachable, with the reason", () => {
    const e = classifyEtcdFailure(ctx, refused)
    expect(e).toMatchObject({ _tag: "EtcdUnreachable" })
    expect(e.message).toBe(
      "cannot reach etcd at https://e:2379 (Error: connect ECONNREFUSED 127.0.0.1:23999): check the endpoint address and port, that etcd is running, and that it serves TLS there.",
    )
  })

  it("a compacted revision names the revision", () => {
    const e = classifyEtcdFailure({ ...ctx, operation: "read of /k", revision: 5 }, compacted)
    expect(e).toMatchObject({ _tag: "EtcdRevisionUnavailable", revision: 5, reason: "compacted" })
  })

  it("a future revision says the member is behind", () => {
    const future = new GrpcCallFailed({ status: GrpcStatus.OUT_OF_RANGE, origin: "etcd", detail: "etcdserver: mvcc: required revision is a future revision" })
    const e = classifyEtcdFailure({ ...ctx, operation: "read of /k", revision: 9 }, future)
    expect(e).toMatchObject({ _tag: "EtcdRevisionUnavailable", revision: 9, reason: "future" })
    expect(e.message).toContain("has not reached revision 9")
  })

  it("anything else keeps etcd's words", () => {
    const e = classifyEtcdFailure(ctx, new GrpcCallFailed({ status: GrpcStatus.INVALID_ARGUMENT, origin: "etcd", detail: "etcdserver: key is not provided" }))
    expect(e).toMatchObject({ _tag: "EtcdRequestFailed", operation: "status" })
    expect(e.message).toContain("key is not provided")
  })

  it("strips timestamps and advice from gRPC reasons", () => {
    expect(failureReason(unknownCa)).not.toMatch(/2026-|Resolution note/)
    expect(failureReason(unknownCa)).toBe("tlsv1 alert unknown ca")
    expect(failureReason(untrusted)).toBe("unable to verify the first certificate")
  })

  it("carries the errno, the TLS code and the status on the error values", () => {
    expect(classifyEtcdFailure(ctx, connectionFailure("connecting", refusedError))).toMatchObject({
      _tag: "EtcdUnreachable",
      errno: "ECONNREFUSED",
      grpcStatus: GrpcStatus.UNAVAILABLE,
    })
    expect(classifyEtcdFailure(ctx, unknownCa)).toMatchObject({ tlsCode: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA" })
    expect(classifyEtcdFailure(ctx, untrusted)).toMatchObject({ tlsCode: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" })
  })

  it("classifies on the status and codes, never on what the text says", () => {
    const misleading = fc.constantFrom(
      "",
      "14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1",
      "tlsv1 alert unknown ca",
      "unable to verify the first certificate",
      "required revision has been compacted",
      "Deadline exceeded",
    )
    const failure = fc.record({
      status: fc.integer({ min: 0, max: 16 }),
      origin: fc.constantFrom("etcd" as const, "client" as const, "connecting" as const, "connection" as const),
      errno: fc.option(fc.constantFrom("ECONNREFUSED", "ENOTFOUND", "ECONNRESET"), { nil: undefined }),
      tls: fc.option(fc.constantFrom("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "ERR_SSL_BAD_RECORD_MAC"), { nil: undefined }),
    })
    fc.assert(
      fc.property(failure, fc.oneof(misleading, fc.string()), fc.option(fc.nat(), { nil: undefined }), (fields, text, revision) => {
        const context = { ...ctx, revision }
        const plain = classifyEtcdFailure(context, new GrpcCallFailed({ ...fields, detail: "what happened" }))
        const worded = classifyEtcdFailure(context, new GrpcCallFailed({ ...fields, detail: text }))
        expect(worded._tag).toBe(plain._tag)
      }),
      { numRuns: 500 },
    )
  })
})

describe("connectionFailure", () => {
  it("keeps Node's errno and words for a refused connection", () => {
    expect(connectionFailure("connecting", refusedError)).toMatchObject({
      status: GrpcStatus.UNAVAILABLE,
      origin: "connecting",
      errno: "ECONNREFUSED",
      detail: "connect ECONNREFUSED 127.0.0.1:23999",
    })
  })

  it("keeps the TLS code of an alert etcd sent and of a certificate that failed verification", () => {
    expect(unknownCa).toMatchObject({ tls: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", errno: undefined, origin: "connection" })
    expect(untrusted).toMatchObject({ tls: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" })
  })

  it("describes whatever else a connection failed with, even what is not an Error", () => {
    expect(connectionFailure("connection", "socket hang up")).toMatchObject({ detail: "socket hang up", errno: undefined, tls: undefined })
    expect(connectionFailure("connection", Object.create(null)).detail).not.toBe("")
  })

  it("passes a failure this client made itself through unchanged", () => {
    const timeout = new GrpcCallFailed({ status: GrpcStatus.UNAVAILABLE, origin: "connecting", detail: "connection not established within 10 ms" })
    expect(connectionFailure("connection", timeout)).toBe(timeout)
  })
})
