/**
 * Conversion between the core's `Message` union and the proto wire shapes.
 *
 * Encoding trusts its input (it comes from our own core). Decoding trusts nothing: the bytes
 * came from the network, so every number is checked to be an exact non-negative integer, every
 * id non-empty, the oneof set, enums known and an append's entries contiguous. Anything else
 * is a MalformedMessageError, which the peer service turns into INVALID_ARGUMENT.
 */
import { EntryType } from '../raft/types.js';
import type { ConfState, Entry, Message, NodeId, SnapshotMeta, SnapshotRequest } from '../raft/types.js';
import { MalformedMessageError } from './errors.js';
import type {
  ConfStateWire,
  EntryWire,
  RaftMessageBodies,
  RaftMessageBodyCase,
  RaftMessageWire,
  SnapshotHeaderWire,
  SnapshotMetaWire,
  VoteRequestWire,
  VoteResponseWire,
} from './wire-types.js';

/** Everything that travels on the Send stream; snapshots take InstallSnapshot instead. */
export type StreamedMessage = Exclude<Message, SnapshotRequest>;

/** Node ids are short names; anything longer is garbage, not a peer. */
const MAX_NODE_ID_LENGTH = 256;

export function isStreamedMessage(message: Message): message is StreamedMessage {
  return message.type !== 'snapshot';
}

function assertNever(value: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}

// ---------------------------------------------------------------------------------------------
// Encoding (core -> wire)

function encodeEntry(entry: Entry): EntryWire {
  return { index: entry.index, term: entry.term, type: entry.type, data: entry.data };
}

export function encodeMessage(message: StreamedMessage): RaftMessageWire {
  // Each case spells out the envelope in one object literal rather than spreading a shared
  // one: objects built by `{ ...envelope, body }` are markedly slower for protobufjs's encoder
  // to read (it probes every oneof member on each message), ~4x for a batch of heartbeats.
  const { from, to, term } = message;
  switch (message.type) {
    case 'vote':
    case 'preVote': {
      const body: VoteRequestWire = {
        lastLogIndex: message.lastLogIndex,
        lastLogTerm: message.lastLogTerm,
        transfer: message.transfer,
      };
      return message.type === 'vote' ? { from, to, term, vote: body } : { from, to, term, preVote: body };
    }
    case 'voteResp':
    case 'preVoteResp': {
      const body: VoteResponseWire = { reject: message.reject };
      return message.type === 'voteResp'
        ? { from, to, term, voteResp: body }
        : { from, to, term, preVoteResp: body };
    }
    case 'append':
      return {
        from,
        to,
        term,
        append: {
          prevLogIndex: message.prevLogIndex,
          prevLogTerm: message.prevLogTerm,
          entries: message.entries.map(encodeEntry),
          commit: message.commit,
          commitOnly: message.commitOnly === true,
        },
      };
    case 'appendResp':
      return {
        from,
        to,
        term,
        appendResp: {
          reject: message.reject,
          index: message.index,
          rejectHintIndex: message.rejectHintIndex,
          rejectHintTerm: message.rejectHintTerm,
        },
      };
    case 'heartbeat':
      return { from, to, term, heartbeat: { commit: message.commit, readContext: message.readContext } };
    case 'heartbeatResp':
      return { from, to, term, heartbeatResp: { readContext: message.readContext } };
    case 'timeoutNow':
      return { from, to, term, timeoutNow: {} };
    case 'readIndex':
      return { from, to, term, readIndex: { requestIds: message.requestIds } };
    case 'readIndexResp':
      return {
        from,
        to,
        term,
        readIndexResp: { requestIds: message.requestIds, index: message.index, reject: message.reject },
      };
    case 'propose':
      return { from, to, term, propose: { proposalId: message.proposalId, commands: message.commands } };
    case 'proposeResp':
      return {
        from,
        to,
        term,
        proposeResp: { proposalId: message.proposalId, index: message.index, reject: message.reject },
      };
    default:
      return assertNever(message, 'message type');
  }
}

function encodeConfState(conf: ConfState): ConfStateWire {
  return { voters: conf.voters, learners: conf.learners };
}

function encodeSnapshotMeta(meta: SnapshotMeta): SnapshotMetaWire {
  return { index: meta.index, term: meta.term, conf: encodeConfState(meta.conf) };
}

export function encodeSnapshotHeader(message: SnapshotRequest): SnapshotHeaderWire {
  return {
    from: message.from,
    to: message.to,
    term: message.term,
    meta: encodeSnapshotMeta(message.snapshot.meta),
    totalBytes: message.snapshot.data.byteLength,
  };
}

// ---------------------------------------------------------------------------------------------
// Decoding (wire -> core), validating as we go

function malformed(detail: string): never {
  throw new MalformedMessageError(detail);
}

/** uint64 fields decode to numbers; above 2^53 they have silently lost precision. */
function exactCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    malformed(`${field} must be an integer in [0, 2^53), got ${String(value)}`);
  }
  return value;
}

function nodeId(value: unknown, field: string): NodeId {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NODE_ID_LENGTH) {
    malformed(`${field} must be a node id of 1..${MAX_NODE_ID_LENGTH} characters`);
  }
  return value;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') malformed(`${field} must be a bool`);
  return value;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    malformed(`${field} must be a list of strings`);
  }
  return value as string[];
}

function nodeIdList(value: unknown, field: string): NodeId[] {
  return stringList(value, field).map((id, i) => nodeId(id, `${field}[${i}]`));
}

/**
 * A plain Uint8Array over the same memory: callers compare and store plain Uint8Arrays, and a
 * Buffer's extra methods (and its different equality in tests) should not leak into the core.
 */
export function plainBytes(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) malformed(`${field} must be bytes`);
  if (value.constructor === Uint8Array) return value;
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function decodeEntryType(value: unknown, field: string): EntryType {
  if (value === EntryType.Normal || value === EntryType.ConfChange) return value;
  return malformed(`${field} is not a known entry type: ${String(value)}`);
}

function decodeEntries(value: unknown, prevLogIndex: number): Entry[] {
  if (!Array.isArray(value)) malformed('append.entries must be a list');
  return (value as readonly EntryWire[]).map((wire, i): Entry => {
    const field = `append.entries[${i}]`;
    if (typeof wire !== 'object' || wire === null) malformed(`${field} is missing`);
    const index = exactCount(wire.index, `${field}.index`);
    // The core assumes an append's entries follow prevLogIndex without gaps; a peer that
    // violates that is broken or hostile, so stop it here rather than in the log.
    if (index !== prevLogIndex + 1 + i) {
      malformed(`${field}.index is ${index}, expected ${prevLogIndex + 1 + i} (entries must be contiguous)`);
    }
    return {
      index,
      term: exactCount(wire.term, `${field}.term`),
      type: decodeEntryType(wire.type, `${field}.type`),
      data: plainBytes(wire.data, `${field}.data`),
    };
  });
}

/** Fetches the member of the oneof the decoder said is present, insisting it is an object. */
function bodyOf<K extends RaftMessageBodyCase>(wire: RaftMessageWire, bodyCase: K): RaftMessageBodies[K] {
  const body = wire[bodyCase];
  if (typeof body !== 'object' || body === null) malformed(`body ${bodyCase} is missing`);
  return body as RaftMessageBodies[K];
}

export function decodeMessage(wire: RaftMessageWire): StreamedMessage {
  if (typeof wire !== 'object' || wire === null) malformed('message is missing');
  const from = nodeId(wire.from, 'from');
  const to = nodeId(wire.to, 'to');
  const term = exactCount(wire.term, 'term');
  const bodyCase = wire.body;
  if (bodyCase === undefined) malformed('message has no body (unknown or missing type)');
  switch (bodyCase) {
    case 'vote':
    case 'preVote': {
      const body = bodyOf(wire, bodyCase);
      return {
        type: bodyCase,
        from,
        to,
        term,
        lastLogIndex: exactCount(body.lastLogIndex, `${bodyCase}.lastLogIndex`),
        lastLogTerm: exactCount(body.lastLogTerm, `${bodyCase}.lastLogTerm`),
        transfer: flag(body.transfer, `${bodyCase}.transfer`),
      };
    }
    case 'voteResp':
    case 'preVoteResp': {
      const body = bodyOf(wire, bodyCase);
      return { type: bodyCase, from, to, term, reject: flag(body.reject, `${bodyCase}.reject`) };
    }
    case 'append': {
      const body = bodyOf(wire, bodyCase);
      const prevLogIndex = exactCount(body.prevLogIndex, 'append.prevLogIndex');
      return {
        type: 'append',
        from,
        to,
        term,
        prevLogIndex,
        prevLogTerm: exactCount(body.prevLogTerm, 'append.prevLogTerm'),
        entries: decodeEntries(body.entries, prevLogIndex),
        commit: exactCount(body.commit, 'append.commit'),
        commitOnly: flag(body.commitOnly, 'append.commitOnly'),
      };
    }
    case 'appendResp': {
      const body = bodyOf(wire, bodyCase);
      return {
        type: 'appendResp',
        from,
        to,
        term,
        reject: flag(body.reject, 'appendResp.reject'),
        index: exactCount(body.index, 'appendResp.index'),
        rejectHintIndex: exactCount(body.rejectHintIndex, 'appendResp.rejectHintIndex'),
        rejectHintTerm: exactCount(body.rejectHintTerm, 'appendResp.rejectHintTerm'),
      };
    }
    case 'heartbeat': {
      const body = bodyOf(wire, bodyCase);
      return {
        type: 'heartbeat',
        from,
        to,
        term,
        commit: exactCount(body.commit, 'heartbeat.commit'),
        readContext: exactCount(body.readContext, 'heartbeat.readContext'),
      };
    }
    case 'heartbeatResp': {
      const body = bodyOf(wire, bodyCase);
      return {
        type: 'heartbeatResp',
        from,
        to,
        term,
        readContext: exactCount(body.readContext, 'heartbeatResp.readContext'),
      };
    }
    case 'timeoutNow':
      bodyOf(wire, bodyCase);
      return { type: 'timeoutNow', from, to, term };
    case 'readIndex': {
      const body = bodyOf(wire, bodyCase);
      return {
        type: 'readIndex',
        from,
        to,
        term,
        requestIds: stringList(body.requestIds, 'readIndex.requestIds'),
      };
    }
    case 'readIndexResp': {
      const body = bodyOf(wire, bodyCase);
      return {
        type: 'readIndexResp',
        from,
        to,
        term,
        requestIds: stringList(body.requestIds, 'readIndexResp.requestIds'),
        index: exactCount(body.index, 'readIndexResp.index'),
        reject: flag(body.reject, 'readIndexResp.reject'),
      };
    }
    case 'propose': {
      const body = bodyOf(wire, bodyCase);
      if (!Array.isArray(body.commands)) malformed('propose.commands must be a list');
      return {
        type: 'propose',
        from,
        to,
        term,
        proposalId: exactCount(body.proposalId, 'propose.proposalId'),
        commands: body.commands.map((command, i) => plainBytes(command, `propose.commands[${i}]`)),
      };
    }
    case 'proposeResp': {
      const body = bodyOf(wire, bodyCase);
      return {
        type: 'proposeResp',
        from,
        to,
        term,
        proposalId: exactCount(body.proposalId, 'proposeResp.proposalId'),
        index: exactCount(body.index, 'proposeResp.index'),
        reject: flag(body.reject, 'proposeResp.reject'),
      };
    }
    default:
      return malformed(`unknown message body ${JSON.stringify(bodyCase satisfies never)}`);
  }
}

/** The envelope of an incoming snapshot, validated; the image follows in chunks. */
export interface SnapshotHeader {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
}

export function decodeSnapshotHeader(wire: SnapshotHeaderWire): SnapshotHeader {
  const meta = wire.meta;
  if (typeof meta !== 'object' || meta === null) malformed('snapshot header has no meta');
  const conf = meta.conf;
  if (typeof conf !== 'object' || conf === null) malformed('snapshot meta has no conf');
  return {
    from: nodeId(wire.from, 'from'),
    to: nodeId(wire.to, 'to'),
    term: exactCount(wire.term, 'term'),
    meta: {
      index: exactCount(meta.index, 'meta.index'),
      term: exactCount(meta.term, 'meta.term'),
      conf: {
        voters: nodeIdList(conf.voters, 'meta.conf.voters'),
        learners: nodeIdList(conf.learners, 'meta.conf.learners'),
      },
    },
    totalBytes: exactCount(wire.totalBytes, 'totalBytes'),
  };
}

// ---------------------------------------------------------------------------------------------
// Sizing, for queue byte caps and batch limits

/** Per-message and per-entry allowance for tags, varints and envelopes; deliberately generous. */
const MESSAGE_OVERHEAD_BYTES = 64;
const ENTRY_OVERHEAD_BYTES = 32;

/** An upper-bound-ish estimate of the encoded size; cheap, and good enough for caps. */
export function estimateEncodedBytes(message: StreamedMessage): number {
  let bytes = MESSAGE_OVERHEAD_BYTES + message.from.length + message.to.length;
  switch (message.type) {
    case 'append':
      for (const entry of message.entries) bytes += ENTRY_OVERHEAD_BYTES + entry.data.byteLength;
      break;
    case 'readIndex':
    case 'readIndexResp':
      for (const id of message.requestIds) bytes += 8 + id.length * 3;
      break;
    case 'propose':
      for (const command of message.commands) bytes += 8 + command.byteLength;
      break;
    default:
      break;
  }
  return bytes;
}
