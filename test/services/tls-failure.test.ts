import { describe, expect, it } from "vitest"
import { isTlsCode, tlsCodeOf } from "../../src/services/tls-failure.ts"

describe("tlsCodeOf", () => {
  it("an EPROTO carrying OpenSSL's 'wrong version number' (Node 24 connecting in TLS to a plain http server) is ERR_SSL_WRONG_VERSION_NUMBER", () => {
    const node24 =
      "write EPROTO 406DE70CAA7F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:\n"
    expect(tlsCodeOf("EPROTO", node24)).toBe("ERR_SSL_WRONG_VERSION_NUMBER")
    expect(isTlsCode(tlsCodeOf("EPROTO", node24))).toBe(true)
  })

  it("any other code or EPROTO is kept as it is", () => {
    expect(tlsCodeOf("EPROTO", "write EPROTO something else")).toBe("EPROTO")
    expect(tlsCodeOf("ECONNRESET", "wrong version number")).toBe("ECONNRESET")
    expect(tlsCodeOf("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "")).toBe("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA")
  })
})
