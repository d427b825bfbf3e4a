/** `StatusResponse` decoded by hand agrees with protobufjs on etcd's rpc.proto, for arbitrary values. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { GrpcWireError } from "../../../src/domain/protobuf-wire.ts"
import { decodeStatusResponse } from "../../../src/services/etcd/status-response.ts"
import { header, headerObject, safe, type, uint64 } from "./etcd-proto.ts"

describe("etcd wire codecs agree with protobufjs on etcd's .proto files", () => {
  it("StatusResponse", () => {
    fc.assert(
      fc.property(
        fc.record({
          header,
          version: fc.string(),
          dbSize: safe,
          leader: uint64,
          raftIndex: safe,
          raftTerm: safe,
          raftAppliedIndex: safe,
          errors: fc.array(fc.string(), { maxLength: 3 }),
          dbSizeInUse: safe,
          isLearner: fc.boolean(),
        }),
        (s) => {
          const T = type("etcdserverpb.StatusResponse")
          const wire = T.encode(T.fromObject({ ...s, header: headerObject(s.header), leader: s.leader.toString() })).finish()
          const d = decodeStatusResponse(wire)
          expect(d).toEqual({
            header: {
              clusterId: s.header.cluster_id.toString(),
              memberId: s.header.member_id.toString(),
              revision: s.header.revision,
              raftTerm: s.header.raft_term,
            },
            version: s.version,
            dbSize: s.dbSize,
            leader: s.leader.toString(),
            raftIndex: s.raftIndex,
            raftTerm: s.raftTerm,
            raftAppliedIndex: s.raftAppliedIndex,
            errors: s.errors,
            dbSizeInUse: s.dbSizeInUse,
            isLearner: s.isLearner,
          })
        },
      ),
      { numRuns: 200 },
    )
  })

  it("a revision beyond 2^53 or a truncated message is a GrpcWireError", () => {
    const T = type("etcdserverpb.StatusResponse")
    const big = T.encode(T.fromObject({ dbSize: "18014398509481984" })).finish()
    expect(() => decodeStatusResponse(big)).toThrow(GrpcWireError)
    const ok = T.encode(T.fromObject({ version: "3.5.16" })).finish()
    expect(() => decodeStatusResponse(ok.subarray(0, ok.length - 2))).toThrow(GrpcWireError)
  })
})
