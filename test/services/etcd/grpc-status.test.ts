import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { GrpcStatus, grpcStatusName } from "../../../src/services/etcd/grpc-status.ts"

describe("grpcStatusName", () => {
  it("names every status code by its constant, as gRPC prints it", () => {
    for (const [name, code] of Object.entries(GrpcStatus)) expect(grpcStatusName(code)).toBe(name)
    expect(grpcStatusName(14)).toBe("UNAVAILABLE")
  })

  it("calls a code outside the table UNKNOWN", () => {
    fc.assert(
      fc.property(
        fc.integer().filter((n) => n < 0 || n > 16),
        (code) => {
          expect(grpcStatusName(code)).toBe("UNKNOWN")
        },
      ),
    )
  })
})
