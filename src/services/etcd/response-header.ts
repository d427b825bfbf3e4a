/** etcdserverpb.ResponseHeader (etcd's `api/etcdserverpb/rpc.proto`), the header of every etcd response. */
import { type Draft, intField, readMessage, uint64Field } from "../../domain/protobuf-wire.ts"

/** Field numbers of `ResponseHeader`. */
export const ResponseHeaderField = { clusterId: 1, memberId: 2, revision: 3, raftTerm: 4 } as const

export interface ResponseHeader {
  readonly clusterId: string
  readonly memberId: string
  readonly revision: number
  readonly raftTerm: number
}

/** What a response without a header field decodes to (proto3 defaults). */
export const emptyHeader: ResponseHeader = { clusterId: "0", memberId: "0", revision: 0, raftTerm: 0 }

type HeaderDraft = Draft<ResponseHeader>
const readers = {
  [ResponseHeaderField.clusterId]: uint64Field<HeaderDraft>("clusterId"),
  [ResponseHeaderField.memberId]: uint64Field<HeaderDraft>("memberId"),
  [ResponseHeaderField.revision]: intField<HeaderDraft>("revision"),
  [ResponseHeaderField.raftTerm]: intField<HeaderDraft>("raftTerm", "raft_term"),
}

export const decodeResponseHeader = (buf: Uint8Array): ResponseHeader => readMessage<HeaderDraft>(buf, { ...emptyHeader }, readers)
