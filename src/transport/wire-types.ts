/**
 * Hand-written shapes of the proto/raft.proto messages as @grpc/proto-loader hands them to
 * us and accepts them back, given the options in raft-proto.ts (camelCase field names,
 * uint64 as JS numbers, enums as numbers, defaults filled in, the `body` oneof named in a
 * virtual `body` property). Keep in step with the .proto file.
 *
 * Decoded `bytes` fields arrive as Buffers (a Uint8Array subclass) that may share memory
 * with the whole received frame; the codec turns them into plain Uint8Array views.
 *
 * The Send stream (MessageBatch) bypasses proto-loader's (de)serializers for speed (see
 * sendStreamCodec in raft-proto.ts) but produces and accepts these same shapes; its encoder
 * additionally needs every field in its encoded JS type and at most one `body` member set,
 * which encodeMessage guarantees.
 */

export interface EntryWire {
  readonly index: number;
  readonly term: number;
  /** proto enum EntryType; open enum, so any number may arrive. */
  readonly type: number;
  readonly data: Uint8Array;
}

export interface VoteRequestWire {
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly transfer: boolean;
}

export interface VoteResponseWire {
  readonly reject: boolean;
}

export interface AppendRequestWire {
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly EntryWire[];
  readonly commit: number;
  readonly commitOnly: boolean;
}

export interface AppendResponseWire {
  readonly reject: boolean;
  readonly index: number;
  readonly rejectHintIndex: number;
  readonly rejectHintTerm: number;
}

export interface HeartbeatRequestWire {
  readonly commit: number;
  readonly readContext: number;
}

export interface HeartbeatResponseWire {
  readonly readContext: number;
}

export type TimeoutNowRequestWire = Readonly<Record<string, never>>;

export interface ReadIndexRequestWire {
  readonly requestIds: readonly string[];
}

export interface ReadIndexResponseWire {
  readonly requestIds: readonly string[];
  readonly index: number;
  readonly reject: boolean;
}

export interface ProposalRequestWire {
  readonly proposalId: number;
  readonly commands: readonly Uint8Array[];
}

export interface ProposalResponseWire {
  readonly proposalId: number;
  readonly index: number;
  readonly reject: boolean;
}

/** The members of `oneof body`, by their (camelCased) field names. */
export interface RaftMessageBodies {
  readonly vote: VoteRequestWire;
  readonly preVote: VoteRequestWire;
  readonly voteResp: VoteResponseWire;
  readonly preVoteResp: VoteResponseWire;
  readonly append: AppendRequestWire;
  readonly appendResp: AppendResponseWire;
  readonly heartbeat: HeartbeatRequestWire;
  readonly heartbeatResp: HeartbeatResponseWire;
  readonly timeoutNow: TimeoutNowRequestWire;
  readonly readIndex: ReadIndexRequestWire;
  readonly readIndexResp: ReadIndexResponseWire;
  readonly propose: ProposalRequestWire;
  readonly proposeResp: ProposalResponseWire;
}

export type RaftMessageBodyCase = keyof RaftMessageBodies;

export type RaftMessageWire = {
  readonly from: string;
  readonly to: string;
  readonly term: number;
  /** Set by the decoder (oneofs: true) to the name of the member present; ignored on encode. */
  readonly body?: RaftMessageBodyCase;
} & { readonly [K in RaftMessageBodyCase]?: RaftMessageBodies[K] | null };

export interface MessageBatchWire {
  readonly messages: readonly RaftMessageWire[];
}

export type SendAckWire = Readonly<Record<string, never>>;

export interface ConfStateWire {
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

export interface SnapshotMetaWire {
  readonly index: number;
  readonly term: number;
  /** null when absent on the wire (defaults: true fills unset message fields with null). */
  readonly conf: ConfStateWire | null;
}

export interface SnapshotHeaderWire {
  readonly from: string;
  readonly to: string;
  readonly term: number;
  readonly meta: SnapshotMetaWire | null;
  readonly totalBytes: number;
}

export interface SnapshotChunkWire {
  readonly header: SnapshotHeaderWire | null;
  readonly offset: number;
  readonly data: Uint8Array;
}

export type SnapshotAckWire = Readonly<Record<string, never>>;
