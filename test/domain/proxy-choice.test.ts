import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { bypassesProxy, kubeProxySchemes, proxyFor, shownProxy } from "../../src/domain/proxy-choice.ts"

const https = (host: string) => new URL(`https://${host}`)
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/)
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join("."))

describe("proxyFor", () => {
  it("takes HTTPS_PROXY for https and HTTP_PROXY for http, upper case first, lower case too", () => {
    const env = { HTTPS_PROXY: "http://secure:3128", http_proxy: "http://plain:8080" }
    expect(proxyFor(env, https("s3.amazonaws.com"))).toMatchObject({ _tag: "Proxy", shown: "http://secure:3128", variable: "HTTPS_PROXY" })
    expect(proxyFor(env, new URL("http://minio:9000"))).toMatchObject({ _tag: "Proxy", shown: "http://plain:8080", variable: "http_proxy" })
    expect(proxyFor({ HTTPS_PROXY: "http://a:1", https_proxy: "http://b:2" }, https("x"))).toMatchObject({ shown: "http://a:1" })
    expect(proxyFor({ HTTP_PROXY: "http://plain:8080" }, https("s3.amazonaws.com"))).toEqual({ _tag: "Direct" })
    expect(proxyFor({ HTTPS_PROXY: "" }, https("s3.amazonaws.com"))).toEqual({ _tag: "Direct" })
  })

  it("reads a proxy without a scheme as http://, keeps its credentials for the agent and out of what is shown", () => {
    const p = proxyFor({ HTTPS_PROXY: "user:p%40ss@proxy.corp:3128" }, https("s3.amazonaws.com"))
    expect(p).toMatchObject({ _tag: "Proxy", shown: "http://proxy.corp:3128" })
    expect(p._tag === "Proxy" && p.url.password).toBe("p%40ss")
    expect(shownProxy(new URL("https://u:secret@[::1]:3128"))).toBe("https://[::1]:3128")
  })

  it("a value that is no http(s) proxy URL: Invalid, naming the variable and never the value", () => {
    for (const value of ["socks5://u:hunter2@proxy:1080", "http://", "ftp://hunter2@x"]) {
      const p = proxyFor({ https_proxy: value }, https("s3.amazonaws.com"))
      expect(p).toMatchObject({ _tag: "Invalid", variable: "https_proxy", message: expect.stringContaining("not an http:// or https:// proxy URL") })
      expect(JSON.stringify(p)).not.toContain("hunter2")
    }
  })

  it("with the Kubernetes client's schemes, a SOCKS5 proxy too (ssh -D), as Go's ProxyFromEnvironment; socks4 is still refused", () => {
    for (const value of ["socks5://127.0.0.2:1080", "socks5h://u:hunter2@bastion:1080"]) {
      expect(proxyFor({ HTTPS_PROXY: value }, https("api.cluster.example.com:6443"), kubeProxySchemes)).toMatchObject({
        _tag: "Proxy",
        shown: value.replace("u:hunter2@", ""),
      })
    }
    const refused = proxyFor({ HTTPS_PROXY: "socks4://hunter2@bastion:1080" }, https("api.cluster.example.com:6443"), kubeProxySchemes)
    expect(refused).toMatchObject({ _tag: "Invalid", message: expect.stringContaining("not an http://, https://, socks5:// or socks5h:// proxy URL") })
    expect(JSON.stringify(refused)).not.toContain("hunter2")
  })

  // As Go: a proxy cannot reach this host's loopback, and the demo's local Swift must work from a shell with a proxy set.
  test.prop([fc.ipV4().filter((ip) => ip.startsWith("127.")), fc.constantFrom("localhost", "s3.localhost", "[::1]", "LOCALHOST.")])(
    "a loopback host goes directly whatever the proxy variables",
    (ip, name) => {
      const env = { HTTPS_PROXY: "http://p:1", HTTP_PROXY: "http://p:1", NO_PROXY: "example.com" }
      for (const host of [ip, name]) {
        expect(proxyFor(env, https(`${host}:9000`))).toEqual({ _tag: "Direct" })
        expect(proxyFor(env, new URL(`http://${host}:9000`))).toEqual({ _tag: "Direct" })
      }
      expect(proxyFor(env, https("128.0.0.1"))).toMatchObject({ _tag: "Proxy" })
      expect(proxyFor(env, https("localhost.example.org"))).toMatchObject({ _tag: "Proxy" })
    },
  )

  it("NO_PROXY (either case) sends a listed host directly", () => {
    expect(proxyFor({ HTTPS_PROXY: "http://p:1", NO_PROXY: ".svc,s3.example.com" }, https("s3.openshift-storage.svc"))).toEqual({ _tag: "Direct" })
    expect(proxyFor({ HTTPS_PROXY: "http://p:1", no_proxy: "s3.example.com" }, https("s3.example.com"))).toEqual({ _tag: "Direct" })
    expect(proxyFor({ HTTPS_PROXY: "http://p:1", NO_PROXY: "other.com" }, https("s3.example.com"))).toMatchObject({ _tag: "Proxy" })
  })
})

describe("bypassesProxy (NO_PROXY as curl and Go read it)", () => {
  it("OpenShift's noProxy: domains with a leading dot, CIDRs of its networks, IPs, localhost", () => {
    const noProxy = ".cluster.local,.svc,10.0.0.0/16,10.128.0.0/14,127.0.0.1,169.254.169.254,172.30.0.0/16,api-int.c1.example.com,localhost"
    expect(bypassesProxy(noProxy, new URL("https://s3.openshift-storage.svc:443"))).toBe(true)
    expect(bypassesProxy(noProxy, new URL("http://10.0.3.7:9000"))).toBe(true)
    expect(bypassesProxy(noProxy, new URL("http://172.30.255.1"))).toBe(true)
    expect(bypassesProxy(noProxy, new URL("http://127.0.0.1:8080"))).toBe(true)
    expect(bypassesProxy(noProxy, new URL("http://localhost:8080"))).toBe(true)
    expect(bypassesProxy(noProxy, new URL("http://10.1.0.1"))).toBe(false)
    expect(bypassesProxy(noProxy, new URL("https://s3.us-east-1.amazonaws.com"))).toBe(false)
    expect(bypassesProxy(noProxy, new URL("https://svc.example.com"))).toBe(false)
  })

  it("`*` bypasses every host; entries are trimmed, case-insensitive; a trailing dot on the host is ignored", () => {
    expect(bypassesProxy("*", new URL("https://anything.example"))).toBe(true)
    expect(bypassesProxy(" Example.COM , other", new URL("https://s3.example.com."))).toBe(true)
    expect(bypassesProxy("", new URL("https://s3.example.com"))).toBe(false)
  })

  it("host:port applies to that port only (the scheme's default when the URL has none)", () => {
    expect(bypassesProxy("minio:9000", new URL("http://minio:9000"))).toBe(true)
    expect(bypassesProxy("minio:9000", new URL("http://minio:9001"))).toBe(false)
    expect(bypassesProxy("s3.example.com:443", new URL("https://s3.example.com"))).toBe(true)
    expect(bypassesProxy("10.0.0.0/8:443", new URL("https://10.2.3.4"))).toBe(true)
  })

  it("IPv6: addresses, bracketed with a port, CIDRs; an IP entry never matches a name nor a name an IP", () => {
    expect(bypassesProxy("::1", new URL("http://[::1]:9000"))).toBe(true)
    expect(bypassesProxy("[::1]:9000", new URL("http://[::1]:9000"))).toBe(true)
    expect(bypassesProxy("fd00::/8", new URL("http://[fd01::5]"))).toBe(true)
    expect(bypassesProxy("fd00::/8", new URL("http://[fe80::5]"))).toBe(false)
    expect(bypassesProxy("10.0.0.1", new URL("http://host10"))).toBe(false)
    expect(bypassesProxy("0.0.0.0/0", new URL("http://example.com"))).toBe(false)
  })

  // Before, a prefix length that is no number was read by Number(): "" and " " as a /0 (every address), "0x8" as a /8.
  it.each(["10.0.0.0/", "10.0.0.0/0x8", "10.0.0.0/+8", "10.0.0.0/8.0", "fd00::/", "fd00::/1e1"])(
    "an entry whose prefix length is not decimal digits (%s) covers nothing",
    (entry) => {
      for (const host of ["http://10.2.3.4", "http://192.168.1.1", "http://[fd00::1]"]) expect(bypassesProxy(entry, new URL(host))).toBe(false)
    },
  )

  test.prop([domain, domain, fc.constantFrom("", ".", "*.")])(
    "a domain entry covers it and its subdomains, and nothing that merely ends in its text",
    (base, sub, lead) => {
      expect(bypassesProxy(`${lead}${base}`, https(base))).toBe(true)
      expect(bypassesProxy(`${lead}${base}`, https(`${sub}.${base}`))).toBe(true)
      expect(bypassesProxy(`${lead}${base}`, https(`x${base}`))).toBe(false)
    },
  )

  test.prop([fc.ipV4(), fc.integer({ min: 0, max: 32 })])("an IPv4 CIDR covers exactly the addresses whose first bits are its network's", (ip, bits) => {
    const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0)
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    const net = (toInt(ip) & mask) >>> 0
    const netText = [24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")
    expect(bypassesProxy(`${netText}/${bits}`, new URL(`http://${ip}`))).toBe(true)
    if (bits > 0) {
      const outside = (net ^ (1 << (32 - bits))) >>> 0
      const outsideText = [24, 16, 8, 0].map((s) => (outside >>> s) & 255).join(".")
      expect(bypassesProxy(`${netText}/${bits}`, new URL(`http://${outsideText}`))).toBe(false)
    }
  })

  test.prop([fc.array(domain, { maxLength: 5 }), domain])("no entry that is not `*` covers a host outside all of them", (entries, host) => {
    fc.pre(entries.every((e) => host !== e && !host.endsWith(`.${e}`)))
    expect(bypassesProxy(entries.join(","), https(host))).toBe(false)
  })
})
