import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { Etcd, type EtcdConnection } from "../../../src/services/etcd/etcd.ts"
import * as EtcdLive from "../../../src/services/etcd/etcd-live.ts"
import { TrailerCheck } from "../../../src/services/etcd/snapshot-trailer.ts"
import { freeLoopbackPort } from "../../../src/services/local-etcd.ts"
import { clientTls, generateTlsBundle } from "../../../src/services/tls-certs.ts"
import { etcd3Client, seedKeyName, seedKeys, snapshotStatus, TestEtcd, valueFor } from "../../support/etcd-fixture.ts"

/** Runs `f` with an Etcd service on another connection than the shared one. */
const withConnection = <A, E>(connection: EtcdConnection, f: Effect.Effect<A, E, Etcd>) =>
  Effect.scoped(Layer.build(EtcdLive.live(connection)).pipe(Effect.flatMap((context) => Effect.provideContext(f, context))))

/** The error a status call on `connection` fails with. */
const statusError = (connection: EtcdConnection) =>
  Effect.flip(
    withConnection(
      connection,
      Effect.flatMap(Etcd, (e) => e.status),
    ),
  )

layer(TestEtcd.layerWithEtcd(), { excludeTestServices: true })("Etcd live layer against etcd 3.5 over TLS", (it) => {
  it.effect("reports member status and reads keys at past revisions", () =>
    Effect.gen(function* () {
      const { member } = yield* TestEtcd
      const client = yield* etcd3Client(member.connection)
      const first = yield* Effect.promise(() => client.put("/live/k").value("one"))
      yield* Effect.promise(() => client.put("/live/k").value("two"))
      const etcd = yield* Etcd
      const status = yield* etcd.status
      assert.strictEqual(status.version, "3.5.16")
      assert.strictEqual(status.endpoint, member.clientUrl)
      assert.isAbove(status.dbSize, 0)
      const revision = Number(first.header.revision)
      assert.isAtLeast(status.revision, revision + 1)
      const old = yield* etcd.get("/live/k", { revision })
      assert.strictEqual(Buffer.from(old!.value).toString(), "one")
      assert.strictEqual(old!.modRevision, revision)
      assert.strictEqual(Buffer.from((yield* etcd.get("/live/k"))!.value).toString(), "two")
      assert.isUndefined(yield* etcd.get("/live/missing"))
      assert.isUndefined(yield* etcd.get("/live/k", { revision: revision - 1 }))
    }).pipe(Effect.scoped),
  )

  it.effect("reads a prefix of more keys than one page, at one revision", () =>
    Effect.gen(function* () {
      const { member } = yield* TestEtcd
      const client = yield* etcd3Client(member.connection)
      const revision = yield* seedKeys(client, 250, 64)
      yield* Effect.promise(() => client.put(seedKeyName(0)).value("changed later"))
      const kvs = yield* (yield* Etcd).getPrefix("/registry/test/", { revision })
      assert.strictEqual(kvs.length, 250)
      assert.deepStrictEqual(
        kvs.map((kv) => kv.key),
        Array.from({ length: 250 }, (_, i) => seedKeyName(i)),
      )
      assert.isTrue(kvs.every((kv, i) => Buffer.from(kv.value).equals(valueFor(i, 64))))
      // A page at a time: the keys after a given one, at most `limit`.
      const page = yield* (yield* Etcd).getPrefix("/registry/test/", { revision, limit: 120, after: seedKeyName(9) })
      assert.deepStrictEqual(
        page.map((kv) => kv.key),
        Array.from({ length: 120 }, (_, i) => seedKeyName(i + 10)),
      )
    }).pipe(Effect.scoped),
  )

  it.effect("streams a snapshot that carries etcd's sha256 trailer and that etcdutl reads", () =>
    Effect.gen(function* () {
      const { workDir } = yield* TestEtcd
      const chunks = yield* Stream.runCollect((yield* Etcd).snapshot)
      const check = new TrailerCheck()
      for (const c of chunks) check.push(c)
      assert.property(check.finish(), "sha256")
      const file = join(workDir, "live-snapshot.db")
      writeFileSync(file, Buffer.concat(chunks))
      const status = yield* snapshotStatus(file)
      assert.isAbove(status.totalKey, 0)
    }),
  )

  it.effect("a revision compacted away is an EtcdRevisionUnavailable error", () =>
    Effect.gen(function* () {
      const { member } = yield* TestEtcd
      const client = yield* etcd3Client(member.connection)
      const old = Number((yield* Effect.promise(() => client.put("/live/c").value("1"))).header.revision)
      const latest = Number((yield* Effect.promise(() => client.put("/live/c").value("2"))).header.revision)
      yield* Effect.promise(() => client.kv.compact({ revision: latest }))
      const error = yield* Effect.flip((yield* Etcd).get("/live/c", { revision: old }))
      assert.strictEqual(error._tag, "EtcdRevisionUnavailable")
      assert.include(error.message, `revision ${old}`)
    }).pipe(Effect.scoped),
  )

  it.effect("an endpoint nothing listens on is EtcdUnreachable, quickly", () =>
    Effect.gen(function* () {
      const { member } = yield* TestEtcd
      const port = yield* freeLoopbackPort
      const endpoint = `https://127.0.0.1:${port}`
      const started = Date.now()
      const error = yield* statusError({ ...member.connection, endpoints: [endpoint] })
      assert.strictEqual(error._tag, "EtcdUnreachable")
      assert.include(error.message, `cannot reach etcd at ${endpoint}`)
      assert.include(error.message, "ECONNREFUSED")
      assert.isBelow(Date.now() - started, 5000)
    }),
  )

  it.effect("the first endpoint that answers is used", () =>
    Effect.gen(function* () {
      const { member } = yield* TestEtcd
      const dead = `https://127.0.0.1:${yield* freeLoopbackPort}`
      const used = yield* withConnection(
        { ...member.connection, endpoints: [dead, member.clientUrl] },
        Effect.flatMap(Etcd, (e) => e.endpoint),
      )
      assert.strictEqual(used, member.clientUrl)
    }),
  )

  it.effect("a client certificate from another CA is EtcdTlsRejected (client-certificate)", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const other = yield* generateTlsBundle(join(workDir, "other-ca"), { caName: "another CA" })
      const tls = { ...clientTls(other), cacert: member.tls!.caCert }
      const error = yield* statusError({ endpoints: [member.clientUrl], tls })
      assert.strictEqual(error._tag, "EtcdTlsRejected")
      assert.strictEqual((error as { rejected?: string }).rejected, "client-certificate")
      assert.include(error.message, `etcd at ${member.clientUrl} rejected the client certificate`)
    }),
  )

  it.effect("a CA bundle that did not sign etcd's certificate is EtcdTlsRejected (server-certificate)", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const other = yield* generateTlsBundle(join(workDir, "other-ca-2"), { caName: "yet another CA" })
      const tls = { ...clientTls(member.tls!), cacert: other.caCert }
      const error = yield* statusError({ endpoints: [member.clientUrl], tls })
      assert.strictEqual(error._tag, "EtcdTlsRejected")
      assert.strictEqual((error as { rejected?: string }).rejected, "server-certificate")
    }),
  )

  it.effect("connection failures carry Node's errno and the TLS code as fields", () =>
    Effect.gen(function* () {
      const { member, workDir } = yield* TestEtcd
      const dead = `https://127.0.0.1:${yield* freeLoopbackPort}`
      const refused = yield* statusError({ ...member.connection, endpoints: [dead] })
      assert.deepInclude(refused, { _tag: "EtcdUnreachable", errno: "ECONNREFUSED", grpcStatus: 14 })
      const other = yield* generateTlsBundle(join(workDir, "other-ca-3"), { caName: "a third CA" })
      const tls = { ...clientTls(other), cacert: member.tls!.caCert }
      const rejected = yield* statusError({ endpoints: [member.clientUrl], tls })
      assert.deepInclude(rejected, { _tag: "EtcdTlsRejected", tlsCode: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA" })
    }),
  )

  it.effect(
    "a key of another certificate, or files swapped, is EtcdCredentialsUnreadable naming the three files before any connection, never their contents",
    () =>
      Effect.gen(function* () {
        const { member } = yield* TestEtcd
        const bundle = member.tls!
        const dead = `https://127.0.0.1:${yield* freeLoopbackPort}`
        for (const tls of [
          { ...clientTls(bundle), key: bundle.serverKey },
          { ...clientTls(bundle), cert: bundle.clientKey },
          { ...clientTls(bundle), key: bundle.clientCert },
        ]) {
          // Nothing listens there: only a check before connecting can name the credentials.
          const error = yield* statusError({ endpoints: [dead], tls })
          assert.strictEqual(error._tag, "EtcdCredentialsUnreadable")
          assert.include(error.message, `the etcd client certificate ${tls.cert}, its key ${tls.key} and the CA bundle ${tls.cacert} cannot be used`)
          assert.notInclude(error.message, "PRIVATE KEY")
        }
      }),
  )

  it.effect("a missing key file is EtcdCredentialsUnreadable naming the path, never the contents", () =>
    Effect.gen(function* () {
      const { member } = yield* TestEtcd
      const tls = { ...clientTls(member.tls!), key: "/nonexistent/tls.key" }
      const error = yield* statusError({ endpoints: [member.clientUrl], tls })
      assert.strictEqual(error._tag, "EtcdCredentialsUnreadable")
      assert.include(error.message, "/nonexistent/tls.key")
      assert.include(error.message, "ENOENT")
    }),
  )
})
