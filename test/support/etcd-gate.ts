/**
 * An Etcd decorator that pauses the snapshot stream after a number of bytes until the test
 * opens the gate: with the consumer paused, etcd is held by flow control, so a test can kill
 * the member or interrupt the backup at a known point of the stream.
 */
import { Deferred, Effect, Layer, Stream } from "effect"
import { Etcd } from "../../src/services/etcd/etcd.ts"

export interface Gate {
  /** Completed when the stream has passed `afterBytes` and is waiting. */
  readonly reached: Deferred.Deferred<void>
  /** Complete it to let the stream go on. */
  readonly open: Deferred.Deferred<void>
}

export const makeGate = Effect.all({ reached: Deferred.make<void>(), open: Deferred.make<void>() })

/** Wraps the Etcd service below it so its snapshot waits at the gate once `afterBytes` were sent. */
export const gatedEtcd = (gate: Gate, afterBytes: number): Layer.Layer<Etcd, never, Etcd> =>
  Layer.effect(
    Etcd,
    Effect.map(Etcd, (etcd) =>
      Etcd.of({
        ...etcd,
        snapshot: Stream.suspend(() => {
          let sent = 0
          return etcd.snapshot.pipe(
            Stream.mapEffect((chunk) => {
              const before = sent
              sent += chunk.length
              return before < afterBytes && sent >= afterBytes
                ? Effect.andThen(Deferred.succeed(gate.reached, undefined), Effect.as(Deferred.await(gate.open), chunk))
                : Effect.succeed(chunk)
            }),
          )
        }),
      }),
    ),
  )
