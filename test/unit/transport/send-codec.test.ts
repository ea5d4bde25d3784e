/**
 * The Send stream's own (de)serializer (raft-proto.ts's sendStreamCodec) against the one
 * @grpc/proto-loader generates, which older nodes still run: the bytes must be identical, and
 * decoding must hand decodeMessage exactly what proto-loader's decoder would have.
 */
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, isStreamedMessage } from '../../../src/transport/message-codec.js';
import type { StreamedMessage } from '../../../src/transport/message-codec.js';
import {
  PROTO_LOADER_OPTIONS,
  RAFT_PEER_SERVICE_NAME,
  findProtoFile,
  raftPeerService,
  sendStreamCodec,
} from '../../../src/transport/raft-proto.js';
import type { MessageBatchWire, RaftMessageWire } from '../../../src/transport/wire-types.js';
import { everyMessageType } from './helpers.js';

type Serialize = (batch: MessageBatchWire) => Buffer;
type Deserialize = (frame: Buffer) => MessageBatchWire;

/** proto-loader's own Send method, as an older node (or raftPeerService before) has it. */
function protoLoaderSend(): { requestSerialize: Serialize; requestDeserialize: Deserialize } {
  const definition = protoLoader.loadSync(findProtoFile('raft.proto'), PROTO_LOADER_OPTIONS);
  const service = definition[RAFT_PEER_SERVICE_NAME] as protoLoader.ServiceDefinition;
  const send = service['Send']!;
  return {
    requestSerialize: (batch) => send.requestSerialize(batch),
    requestDeserialize: (frame) => send.requestDeserialize(frame) as MessageBatchWire,
  };
}

const theirs = protoLoaderSend();
const ours = sendStreamCodec();
const streamed = (): StreamedMessage[] => everyMessageType('n1', 'n2').filter(isStreamedMessage);

/** decodeMessage's verdict: the message, or the error it threw. */
function verdict(wire: RaftMessageWire): StreamedMessage | string {
  try {
    return decodeMessage(wire);
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** Both decoders on one frame: the same objects, and the same verdicts from decodeMessage. */
function expectSameDecoding(frame: Buffer): MessageBatchWire {
  const mine = ours.requestDeserialize(frame);
  expect(mine).toStrictEqual(theirs.requestDeserialize(frame));
  expect(mine.messages.map(verdict)).toStrictEqual(theirs.requestDeserialize(frame).messages.map(verdict));
  return mine;
}

/** A frame built field by field, for what neither serializer would write. */
function rawFrame(build: (message: protobuf.Writer) => void): Buffer {
  const message = protobuf.Writer.create();
  build(message);
  const body = message.finish();
  return Buffer.from(protobuf.Writer.create().uint32(0x0a).bytes(body).finish());
}

describe('Send stream codec', () => {
  it('is the codec raftPeerService uses for Send (and only for Send)', () => {
    const service = raftPeerService();
    expect(service.Send.requestSerialize).toBe(ours.requestSerialize);
    expect(service.Send.requestDeserialize).toBe(ours.requestDeserialize);
    expect(service.InstallSnapshot.requestSerialize).not.toBe(ours.requestSerialize);
  });

  it('writes the bytes proto-loader writes, for every message type', () => {
    const messages = streamed();
    for (const message of messages) {
      const batch = { messages: [encodeMessage(message)] };
      expect(ours.requestSerialize(batch).equals(theirs.requestSerialize(batch)), message.type).toBe(true);
    }
    const batch = { messages: messages.map(encodeMessage) };
    const frame = ours.requestSerialize(batch);
    expect(Buffer.isBuffer(frame)).toBe(true);
    expect(frame.equals(theirs.requestSerialize(batch))).toBe(true);
    expect(ours.requestSerialize({ messages: [] })).toHaveLength(0);
  });

  it('decodes to exactly what proto-loader decodes to, for every message type', () => {
    const frame = theirs.requestSerialize({ messages: streamed().map(encodeMessage) });
    const decoded = expectSameDecoding(frame);
    expect(decoded.messages.map(decodeMessage)).toStrictEqual(streamed());
    expectSameDecoding(Buffer.alloc(0));
  });

  it('interoperates both ways: new sender to old receiver and old sender to new receiver', () => {
    const messages = streamed();
    const batch = { messages: messages.map(encodeMessage) };
    expect(theirs.requestDeserialize(ours.requestSerialize(batch)).messages.map(decodeMessage)).toStrictEqual(
      messages,
    );
    const decoded = ours.requestDeserialize(theirs.requestSerialize(batch)).messages.map(decodeMessage);
    expect(decoded).toStrictEqual(messages);
    for (const message of decoded) {
      if (message.type === 'append')
        for (const e of message.entries) expect(e.data.constructor).toBe(Uint8Array);
      if (message.type === 'propose')
        for (const c of message.commands) expect(c.constructor).toBe(Uint8Array);
    }
  });

  it('fills in absent fields as proto-loader does (every body at its defaults)', () => {
    const bodies = ['vote', 'preVote', 'voteResp', 'preVoteResp', 'append', 'appendResp', 'heartbeat'];
    const more = ['heartbeatResp', 'timeoutNow', 'readIndex', 'readIndexResp', 'propose', 'proposeResp'];
    const wires = [{}, { from: 'n1' }, ...[...bodies, ...more].map((body) => ({ [body]: {} }))];
    const frame = theirs.requestSerialize({ messages: wires as unknown as RaftMessageWire[] });
    const decoded = expectSameDecoding(frame);
    expect(decoded.messages[0]).toStrictEqual({ from: '', to: '', term: 0 });
    // An entry with nothing set: its data must still be bytes, not the prototype's array.
    const entryFrame = theirs.requestSerialize({
      messages: [
        { from: 'n1', to: 'n2', term: 1, append: { entries: [{}, {}] } },
      ] as unknown as RaftMessageWire[],
    });
    const append = expectSameDecoding(entryFrame).messages[0]!.append!;
    expect(append.entries[0]!.data).toBeInstanceOf(Uint8Array);
    expect(append.entries[0]).toStrictEqual({ index: 0, term: 0, type: 0, data: Buffer.alloc(0) });
  });

  it('does not hand out shared arrays for absent repeated fields', () => {
    // The codec passes decode's arrays on without copying; that is only safe because
    // protobufjs's generated constructors give every message fresh ones (the core keeps them).
    const frame = theirs.requestSerialize({
      messages: [
        { from: 'n1', to: 'n2', term: 1, readIndex: {} },
        { from: 'n1', to: 'n2', term: 1, readIndex: {} },
      ] as unknown as RaftMessageWire[],
    });
    const [a, b] = ours.requestDeserialize(frame).messages;
    expect(Object.isFrozen(a!.readIndex!.requestIds)).toBe(false);
    expect(a!.readIndex!.requestIds).not.toBe(b!.readIndex!.requestIds);
  });

  it('keeps every oneof member a hostile sender sets, naming the highest-numbered', () => {
    const wire = {
      from: 'n1',
      to: 'n2',
      term: 1,
      heartbeatResp: { readContext: 3 },
      vote: { lastLogIndex: 1, lastLogTerm: 1, transfer: false },
      proposeResp: { proposalId: 1, index: 2, reject: false },
    };
    const decoded = expectSameDecoding(theirs.requestSerialize({ messages: [wire as RaftMessageWire] }));
    expect(decoded.messages[0]!.body).toBe('proposeResp');
    // Members in wire order opposite to field order: still the highest-numbered wins.
    const reversed = rawFrame((m) => {
      m.uint32(0x0a).string('n1').uint32(0x12).string('n2');
      m.uint32((23 << 3) | 2).bytes(new Uint8Array(0)); // proposeResp {}
      m.uint32((10 << 3) | 2).bytes(new Uint8Array(0)); // vote {}
    });
    expect(expectSameDecoding(reversed).messages[0]!.body).toBe('proposeResp');
  });

  it('converts uint64 exactly as proto-loader does, and decodeMessage still rejects >= 2^53', () => {
    const values = ['0', '1', '4294967295', '4294967296', '9007199254740991', '9007199254740992'];
    const large = ['9007199254740993', '1152921504606846976', '9223372036854775808', '18446744073709551615'];
    for (const value of [...values, ...large]) {
      const frame = rawFrame((m) => {
        m.uint32(0x0a).string('n1').uint32(0x12).string('n2');
        const bits = BigInt(value);
        const long = { low: Number(bits & 0xffffffffn), high: Number(bits >> 32n), unsigned: true };
        m.uint32(0x18).uint64(long as protobuf.Long); // term, all 64 bits
        m.uint32((18 << 3) | 2).bytes(new Uint8Array(0)); // timeoutNow {}
      });
      const wire = expectSameDecoding(frame).messages[0]!;
      const result = verdict(wire);
      if (BigInt(value) <= BigInt(Number.MAX_SAFE_INTEGER)) {
        expect(wire.term).toBe(Number(value));
        expect(result).toMatchObject({ type: 'timeoutNow', term: Number(value) });
      } else {
        expect(result).toMatch(/MalformedMessageError: term must be an integer/);
      }
    }
  });

  it('skips unknown fields and passes unknown enum values through, as proto-loader does', () => {
    const frame = rawFrame((m) => {
      m.uint32(0x0a).string('n1').uint32(0x12).string('n2').uint32(0x18).uint64(4);
      m.uint32((99 << 3) | 2).string('from a newer node'); // unknown field
      const entry = protobuf.Writer.create().uint32(0x08).uint64(1).uint32(0x18).int32(7); // type 7
      const append = protobuf.Writer.create()
        .uint32((3 << 3) | 2)
        .bytes(entry.finish());
      m.uint32((14 << 3) | 2).bytes(append.finish());
    });
    const wire = expectSameDecoding(frame).messages[0]!;
    expect(wire.append!.entries[0]!.type).toBe(7);
    expect(verdict(wire)).toMatch(/not a known entry type: 7/);
  });

  it('rejects truncated frames by throwing, as proto-loader does', () => {
    const truncated = Buffer.from([0x0a, 0x40, 0x0a, 0x02]);
    expect(() => theirs.requestDeserialize(truncated)).toThrow();
    expect(() => ours.requestDeserialize(truncated)).toThrow();
  });

  it('covers every field of every message raft.proto puts in a batch', () => {
    // Driven by the schema rather than our fixtures: a field added to raft.proto that the
    // hand-written decoder does not know would make the two decoders disagree here.
    const root = new protobuf.Root().loadSync(findProtoFile('raft.proto'), { keepCase: false });
    root.resolveAll();
    const scalar = (field: protobuf.Field): unknown => {
      if (field.resolvedType instanceof protobuf.Enum) return 1;
      if (field.resolvedType instanceof protobuf.Type) return populated(field.resolvedType);
      switch (field.type) {
        case 'string':
          return 'ünï';
        case 'bool':
          return true;
        case 'bytes':
          return new Uint8Array([1, 2, 3]);
        default:
          return 4294967296 + field.id; // needs both halves of a uint64
      }
    };
    function populated(type: protobuf.Type): Record<string, unknown> {
      const object: Record<string, unknown> = {};
      for (const field of type.fieldsArray) {
        if (field.partOf !== null) continue;
        object[field.name] = field.repeated ? [scalar(field), scalar(field)] : scalar(field);
      }
      return object;
    }
    const messageType = root.lookupType('raftree.raft.RaftMessage');
    const members = messageType.oneofs['body']!.fieldsArray;
    expect(members.length).toBeGreaterThan(0);
    for (const member of members) {
      const message = { ...populated(messageType), [member.name]: scalar(member) };
      const frame = theirs.requestSerialize({ messages: [message as unknown as RaftMessageWire] });
      const decoded = expectSameDecoding(frame);
      expect(decoded.messages[0]!.body).toBe(member.name);
      expect(ours.requestSerialize(decoded).equals(frame), member.name).toBe(true);
    }
  });
});
