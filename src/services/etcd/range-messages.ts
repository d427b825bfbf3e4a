/**
 * `KV/Range`: etcdserverpb.RangeRequest, RangeResponse and the mvccpb.KeyValue it carries
 * (etcd's `api/etcdserverpb/rpc.proto` and `api/mvccpb/kv.proto`).
 */
import { boolField, bytesField, type Draft, intField, lenField, messageField, readMessage, Writer } from "../../domain/protobuf-wire.ts"
import { decodeResponseHeader, emptyHeader, type ResponseHeader } from "./response-header.ts"

/** Field numbers of `RangeRequest` (those the backup sets). */
export const RangeRequestField = { key: 1, rangeEnd: 2, limit: 3, revision: 4, keysOnly: 8 } as const
/** Field numbers of `mvccpb.KeyValue`. */
export const KeyValueField = { key: 1, createRevision: 2, modRevision: 3, version: 4, value: 5, lease: 6 } as const
/** Field numbers of `RangeResponse`. */
export const RangeResponseField = { header: 1, kvs: 2, more: 3, count: 4 } as const

export interface RangeRequest {
  readonly key: Uint8Array
  readonly rangeEnd?: Uint8Array | undefined
  readonly limit?: number | undefined
  /** 0: the latest revision. */
  readonly revision?: number | undefined
  /** Keys without their values (the values come back empty). */
  readonly keysOnly?: boolean | undefined
}

export const encodeRangeRequest = (req: RangeRequest): Uint8Array =>
  new Writer()
    .bytes(RangeRequestField.key, req.key)
    .bytes(RangeRequestField.rangeEnd, req.rangeEnd ?? new Uint8Array(0))
    .int(RangeRequestField.limit, req.limit ?? 0)
    .int(RangeRequestField.revision, req.revision ?? 0)
    .int(RangeRequestField.keysOnly, req.keysOnly === true ? 1 : 0)
    .finish()

export interface WireKeyValue {
  readonly key: Uint8Array
  readonly createRevision: number
  readonly modRevision: number
  readonly version: number
  readonly value: Uint8Array
  readonly lease: number
}

type KeyValueDraft = Draft<WireKeyValue>
const keyValueReaders = {
  [KeyValueField.key]: bytesField<KeyValueDraft>("key"),
  [KeyValueField.createRevision]: intField<KeyValueDraft>("createRevision", "create_revision"),
  [KeyValueField.modRevision]: intField<KeyValueDraft>("modRevision", "mod_revision"),
  [KeyValueField.version]: intField<KeyValueDraft>("version"),
  [KeyValueField.value]: bytesField<KeyValueDraft>("value"),
  [KeyValueField.lease]: intField<KeyValueDraft>("lease"),
}

const decodeKeyValue = (buf: Uint8Array): WireKeyValue =>
  readMessage<KeyValueDraft>(
    buf,
    { key: new Uint8Array(0), createRevision: 0, modRevision: 0, version: 0, value: new Uint8Array(0), lease: 0 },
    keyValueReaders,
  )

export interface RangeResponse {
  readonly header: ResponseHeader
  readonly kvs: ReadonlyArray<WireKeyValue>
  readonly more: boolean
  readonly count: number
}

type RangeDraft = Draft<RangeResponse>
const rangeResponseReaders = {
  [RangeResponseField.header]: messageField<RangeDraft, ResponseHeader>("header", decodeResponseHeader),
  [RangeResponseField.kvs]: lenField<RangeDraft>((r, m) => {
    m.kvs.push(decodeKeyValue(r.bytes()))
  }),
  [RangeResponseField.more]: boolField<RangeDraft>("more"),
  [RangeResponseField.count]: intField<RangeDraft>("count"),
}

export const decodeRangeResponse = (buf: Uint8Array): RangeResponse =>
  readMessage<RangeDraft>(buf, { header: emptyHeader, kvs: [], more: false, count: 0 }, rangeResponseReaders)
