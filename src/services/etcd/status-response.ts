/** etcdserverpb.StatusResponse, the answer of `Maintenance/Status` (etcd's `api/etcdserverpb/rpc.proto`). */
import { boolField, type Draft, intField, lenField, messageField, readMessage, stringField, uint64Field, utf8 } from "../../domain/protobuf-wire.ts"
import { decodeResponseHeader, emptyHeader, type ResponseHeader } from "./response-header.ts"

/** Field numbers of `StatusResponse`. */
export const StatusResponseField = {
  header: 1,
  version: 2,
  dbSize: 3,
  leader: 4,
  raftIndex: 5,
  raftTerm: 6,
  raftAppliedIndex: 7,
  errors: 8,
  dbSizeInUse: 9,
  isLearner: 10,
} as const

export interface StatusResponse {
  readonly header: ResponseHeader
  readonly version: string
  readonly dbSize: number
  readonly leader: string
  readonly raftIndex: number
  readonly raftTerm: number
  readonly raftAppliedIndex: number
  readonly errors: ReadonlyArray<string>
  readonly dbSizeInUse: number
  readonly isLearner: boolean
}

type StatusDraft = Draft<StatusResponse>
const F = StatusResponseField
const readers = {
  [F.header]: messageField<StatusDraft, ResponseHeader>("header", decodeResponseHeader),
  [F.version]: stringField<StatusDraft>("version"),
  [F.dbSize]: intField<StatusDraft>("dbSize"),
  [F.leader]: uint64Field<StatusDraft>("leader"),
  [F.raftIndex]: intField<StatusDraft>("raftIndex"),
  [F.raftTerm]: intField<StatusDraft>("raftTerm"),
  [F.raftAppliedIndex]: intField<StatusDraft>("raftAppliedIndex"),
  [F.errors]: lenField<StatusDraft>((r, s) => {
    s.errors.push(utf8.decode(r.bytes()))
  }),
  [F.dbSizeInUse]: intField<StatusDraft>("dbSizeInUse"),
  [F.isLearner]: boolField<StatusDraft>("isLearner"),
}

export const decodeStatusResponse = (buf: Uint8Array): StatusResponse =>
  readMessage<StatusDraft>(
    buf,
    { header: emptyHeader, version: "", dbSize: 0, leader: "0", raftIndex: 0, raftTerm: 0, raftAppliedIndex: 0, errors: [], dbSizeInUse: 0, isLearner: false },
    readers,
  )
