/**
 * Loads proto/raft.proto at runtime with @grpc/proto-loader and exposes the RaftPeer service
 * definition typed with the hand-written wire shapes.
 *
 * The Send stream (every append, heartbeat and response between peers) does not use
 * proto-loader's (de)serializers: see sendStreamCodec below.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';
// protobufjs is what proto-loader runs on (same installed copy); we use it directly for the
// Send stream's codec. It is a transitive dependency (via @grpc/proto-loader).
import protobuf from 'protobufjs';
import { ProtoNotFoundError } from './errors.js';
import type {
  AppendRequestWire,
  AppendResponseWire,
  EntryWire,
  HeartbeatRequestWire,
  HeartbeatResponseWire,
  MessageBatchWire,
  ProposalRequestWire,
  ProposalResponseWire,
  RaftMessageBodyCase,
  RaftMessageWire,
  ReadIndexRequestWire,
  ReadIndexResponseWire,
  SendAckWire,
  SnapshotAckWire,
  SnapshotChunkWire,
  VoteRequestWire,
  VoteResponseWire,
} from './wire-types.js';

/** The options every consumer of the wire shapes in wire-types.ts relies on. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  // Indexes and terms stay below 2^53; the codec rejects anything that does not.
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
};

/**
 * Finds `proto/<fileName>` by walking up from this module's directory. The same code runs as
 * src/transport/*.ts (vitest, tsx) and as dist/src/transport/*.js (compiled), which sit at
 * different depths below the repository root, so a fixed relative path would break one of
 * them. RAFTREE_PROTO_DIR overrides the search for unusual layouts (bundles, containers).
 */
export function findProtoFile(fileName: string): string {
  const override = process.env['RAFTREE_PROTO_DIR'];
  if (override !== undefined && override !== '') {
    const candidate = resolve(override, fileName);
    if (existsSync(candidate)) return candidate;
    throw new ProtoNotFoundError(`RAFTREE_PROTO_DIR is set but ${candidate} does not exist`);
  }
  const start = dirname(fileURLToPath(import.meta.url));
  let directory = start;
  for (;;) {
    const candidate = join(directory, 'proto', fileName);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  throw new ProtoNotFoundError(`proto/${fileName} not found in ${start} or any directory above it`);
}

export const RAFT_PEER_SERVICE_NAME = 'raftree.raft.RaftPeer';

/** Request header of a Send stream: the id of the sending node (see PeerLink). */
export const PEER_FROM_METADATA = 'raftree-peer-from';

export interface RaftPeerServiceDefinition {
  readonly Send: MethodDefinition<MessageBatchWire, SendAckWire>;
  readonly InstallSnapshot: MethodDefinition<SnapshotChunkWire, SnapshotAckWire>;
}

let cachedService: RaftPeerServiceDefinition | null = null;

/** The RaftPeer service definition (loaded once; loading parses the .proto file). */
export function raftPeerService(): RaftPeerServiceDefinition {
  if (cachedService !== null) return cachedService;
  const packageDefinition = protoLoader.loadSync(findProtoFile('raft.proto'), PROTO_LOADER_OPTIONS);
  const service = packageDefinition[RAFT_PEER_SERVICE_NAME];
  if (service === undefined || !('Send' in service) || !('InstallSnapshot' in service)) {
    throw new ProtoNotFoundError(
      `${RAFT_PEER_SERVICE_NAME} with Send and InstallSnapshot is not in raft.proto`,
    );
  }
  // proto-loader types messages as `object`; the wire shapes are our promise about what the
  // options above make of raft.proto, and the codec validates decoded values anyway.
  const loaded = service as unknown as RaftPeerServiceDefinition;
  // Send carries nearly all peer traffic, so it gets the cheaper codec; InstallSnapshot moves
  // a few large chunks per snapshot, where proto-loader's per-message copies do not matter.
  cachedService = { ...loaded, Send: { ...loaded.Send, ...sendStreamCodec() } };
  return cachedService;
}

// ---------------------------------------------------------------------------------------------
// The Send stream's codec
//
// proto-loader serializes with `encode(fromObject(obj))` and deserializes with
// `toObject(decode(buf), options)`. Both copies are pure overhead for us: fromObject turns
// every uint64 into a Long only for encode to take it apart again, and toObject fills in
// defaults through Long objects. On a busy cluster they showed up among the top self-time
// functions on every node. So:
//
// - Serializing calls protobufjs's `encode` on the wire objects directly. encode accepts plain
//   objects as long as every field already has its encoded JS type (numbers for uint64 and
//   enums, Uint8Array for bytes, arrays for repeated fields), which message-codec.ts's
//   encodeMessage guarantees. It also writes *every* oneof member that is set, so this relies
//   on encodeMessage setting exactly one. The bytes are the same as proto-loader's for every
//   value below 2^63 (fromObject saturates larger numbers; ours never exceed 2^53).
// - Deserializing calls `decode` and converts the decoded message into exactly what
//   toObject(PROTO_LOADER_OPTIONS) would have produced (the wire shapes in wire-types.ts),
//   by hand, per message type. message-codec.ts's decodeMessage then validates it as before.
//   test/unit/transport/send-codec.test.ts checks both directions against proto-loader's
//   own (de)serializers.

/** The low and high 32 bits of a protobufjs uint64 (a `Long` from the `long` package). */
interface LongBits {
  readonly low: number;
  readonly high: number;
}

/** An element of a decoded repeated field, or the value of a decoded singular scalar. */
type DecodedScalar<T> = T extends number
  ? number | LongBits // a uint64 (a Long; a number if protobufjs runs without `long`) or an enum
  : T extends string | boolean | Uint8Array
    ? T
    : Decoded<T>;

/**
 * A field as protobufjs's decode leaves it in a message whose converted shape has type T.
 * Fields present on the wire are own properties, and so is every repeated field: the generated
 * constructor gives each message fresh arrays, so we can hand those on without copying. Other
 * absent fields read the generated class's prototype defaults: a frozen Long zero for uint64,
 * null for message fields, "", false and 0 for the rest, and for bytes a frozen empty *array*.
 */
type DecodedValue<T> = T extends Uint8Array
  ? Uint8Array | readonly never[]
  : T extends readonly (infer E)[]
    ? readonly DecodedScalar<E>[]
    : T extends number | string | boolean
      ? DecodedScalar<T>
      : Decoded<T> | null;
type Decoded<W> = { readonly [K in keyof W]-?: DecodedValue<Exclude<W[K], null | undefined>> };

/**
 * A uint64 as a number, exactly as proto-loader's `longs: Number` does it (LongBits.toNumber
 * with unsigned = true): exact below 2^53, rounded above, so decodeMessage's safe-integer
 * check rejects anything that lost precision, just as before.
 */
function uint64(value: number | LongBits): number {
  if (typeof value === 'number') return value;
  return (value.high >>> 0) * 4294967296 + (value.low >>> 0);
}

/** An absent bytes field reads the prototype's empty array; toObject gives an empty Buffer. */
function bytes(value: Uint8Array | readonly never[]): Uint8Array {
  return value instanceof Uint8Array ? value : Buffer.alloc(0);
}

function entry(m: Decoded<EntryWire>): EntryWire {
  // Enums decode as plain numbers (int32 on the wire); uint64 passes those through unchanged.
  return { index: uint64(m.index), term: uint64(m.term), type: uint64(m.type), data: bytes(m.data) };
}

function voteRequest(m: Decoded<VoteRequestWire>): VoteRequestWire {
  return { lastLogIndex: uint64(m.lastLogIndex), lastLogTerm: uint64(m.lastLogTerm), transfer: m.transfer };
}

function voteResponse(m: Decoded<VoteResponseWire>): VoteResponseWire {
  return { reject: m.reject };
}

function appendRequest(m: Decoded<AppendRequestWire>): AppendRequestWire {
  return {
    prevLogIndex: uint64(m.prevLogIndex),
    prevLogTerm: uint64(m.prevLogTerm),
    entries: m.entries.map(entry),
    commit: uint64(m.commit),
    commitOnly: m.commitOnly,
  };
}

function appendResponse(m: Decoded<AppendResponseWire>): AppendResponseWire {
  return {
    reject: m.reject,
    index: uint64(m.index),
    rejectHintIndex: uint64(m.rejectHintIndex),
    rejectHintTerm: uint64(m.rejectHintTerm),
  };
}

function heartbeatRequest(m: Decoded<HeartbeatRequestWire>): HeartbeatRequestWire {
  return { commit: uint64(m.commit), readContext: uint64(m.readContext) };
}

function heartbeatResponse(m: Decoded<HeartbeatResponseWire>): HeartbeatResponseWire {
  return { readContext: uint64(m.readContext) };
}

function readIndexRequest(m: Decoded<ReadIndexRequestWire>): ReadIndexRequestWire {
  return { requestIds: m.requestIds };
}

function readIndexResponse(m: Decoded<ReadIndexResponseWire>): ReadIndexResponseWire {
  return { requestIds: m.requestIds, index: uint64(m.index), reject: m.reject };
}

function proposalRequest(m: Decoded<ProposalRequestWire>): ProposalRequestWire {
  return { proposalId: uint64(m.proposalId), commands: m.commands };
}

function proposalResponse(m: Decoded<ProposalResponseWire>): ProposalResponseWire {
  return { proposalId: uint64(m.proposalId), index: uint64(m.index), reject: m.reject };
}

/**
 * The members of `oneof body` in field-number order. sendStreamCodec checks this against
 * raft.proto when it loads, and the `satisfies` below against wire-types.ts at compile time.
 */
const BODY_CASES = [
  'vote',
  'preVote',
  'voteResp',
  'preVoteResp',
  'append',
  'appendResp',
  'heartbeat',
  'heartbeatResp',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
  'propose',
  'proposeResp',
] as const satisfies readonly RaftMessageBodyCase[];
// Fails to compile when wire-types.ts gains a body member that BODY_CASES (and so, very
// likely, raftMessage below) lacks.
const _everyBodyCase: Record<Exclude<RaftMessageBodyCase, (typeof BODY_CASES)[number]>, never> = {};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * One RaftMessage. A well-formed message has one body member; a hostile one may carry several
 * (protobufjs keeps them all). Like toObject, we keep every one present and name the
 * highest-numbered in `body`, hence the field-number order below. The members are spelled out
 * rather than looped over by name: 13 named property reads per message are cheaper than 13
 * keyed ones, and need no casts.
 */
function raftMessage(m: Decoded<RaftMessageWire>): RaftMessageWire {
  const wire: Mutable<RaftMessageWire> = { from: m.from, to: m.to, term: uint64(m.term) };
  if (m.vote !== null) {
    wire.vote = voteRequest(m.vote);
    wire.body = 'vote';
  }
  if (m.preVote !== null) {
    wire.preVote = voteRequest(m.preVote);
    wire.body = 'preVote';
  }
  if (m.voteResp !== null) {
    wire.voteResp = voteResponse(m.voteResp);
    wire.body = 'voteResp';
  }
  if (m.preVoteResp !== null) {
    wire.preVoteResp = voteResponse(m.preVoteResp);
    wire.body = 'preVoteResp';
  }
  if (m.append !== null) {
    wire.append = appendRequest(m.append);
    wire.body = 'append';
  }
  if (m.appendResp !== null) {
    wire.appendResp = appendResponse(m.appendResp);
    wire.body = 'appendResp';
  }
  if (m.heartbeat !== null) {
    wire.heartbeat = heartbeatRequest(m.heartbeat);
    wire.body = 'heartbeat';
  }
  if (m.heartbeatResp !== null) {
    wire.heartbeatResp = heartbeatResponse(m.heartbeatResp);
    wire.body = 'heartbeatResp';
  }
  if (m.timeoutNow !== null) {
    wire.timeoutNow = {};
    wire.body = 'timeoutNow';
  }
  if (m.readIndex !== null) {
    wire.readIndex = readIndexRequest(m.readIndex);
    wire.body = 'readIndex';
  }
  if (m.readIndexResp !== null) {
    wire.readIndexResp = readIndexResponse(m.readIndexResp);
    wire.body = 'readIndexResp';
  }
  if (m.propose !== null) {
    wire.propose = proposalRequest(m.propose);
    wire.body = 'propose';
  }
  if (m.proposeResp !== null) {
    wire.proposeResp = proposalResponse(m.proposeResp);
    wire.body = 'proposeResp';
  }
  return wire;
}

/** The serializer/deserializer pair for Send's requests (MessageBatch), replacing proto-loader's. */
export interface SendStreamCodec {
  readonly requestSerialize: (batch: MessageBatchWire) => Buffer;
  readonly requestDeserialize: (frame: Buffer) => MessageBatchWire;
}

let cachedCodec: SendStreamCodec | null = null;

export function sendStreamCodec(): SendStreamCodec {
  if (cachedCodec !== null) return cachedCodec;
  // The same parse proto-loader does (it calls Root.loadSync with its options): camelCase
  // field names unless keepCase, which is what the wire shapes use.
  const root = new protobuf.Root().loadSync(findProtoFile('raft.proto'), {
    keepCase: PROTO_LOADER_OPTIONS.keepCase === true,
  });
  root.resolveAll();
  const batchType = root.lookupType('raftree.raft.MessageBatch');
  const messageType = root.lookupType('raftree.raft.RaftMessage');
  // The hand-written body decoders must cover the oneof exactly, in field-number order:
  // a member we did not know about would otherwise be dropped silently on receipt.
  const oneofMembers = (messageType.oneofs['body']?.fieldsArray ?? [])
    .slice()
    .sort((a, b) => a.id - b.id)
    .map((field) => field.name);
  if (oneofMembers.join() !== BODY_CASES.join()) {
    throw new ProtoNotFoundError(
      `raft.proto's RaftMessage.body is [${oneofMembers.join(', ')}] but the transport decodes ` +
        `[${BODY_CASES.join(', ')}]; update raft-proto.ts and wire-types.ts`,
    );
  }
  cachedCodec = {
    requestSerialize: (batch) => {
      // encode's declared parameter is an index-signature object, which interfaces are not.
      const frame = batchType.encode(batch as unknown as Record<string, unknown>).finish();
      // Node's protobufjs writer returns a Buffer already; grpc-js needs one.
      return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    },
    requestDeserialize: (frame) => {
      // decode returns a generic Message; its fields are as Decoded describes (see above).
      const decoded = batchType.decode(frame) as unknown as Decoded<MessageBatchWire>;
      return { messages: decoded.messages.map(raftMessage) };
    },
  };
  return cachedCodec;
}
