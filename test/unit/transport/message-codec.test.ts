import { describe, expect, it } from 'vitest';
import { EntryType } from '../../../src/raft/types.js';
import type { Message, SnapshotRequest } from '../../../src/raft/types.js';
import { MalformedMessageError } from '../../../src/transport/errors.js';
import {
  decodeMessage,
  decodeSnapshotHeader,
  encodeMessage,
  isStreamedMessage,
} from '../../../src/transport/message-codec.js';
import type { StreamedMessage } from '../../../src/transport/message-codec.js';
import { raftPeerService } from '../../../src/transport/raft-proto.js';
import { SnapshotAssembler, snapshotChunks } from '../../../src/transport/snapshot-chunks.js';
import type {
  MessageBatchWire,
  RaftMessageWire,
  SnapshotChunkWire,
} from '../../../src/transport/wire-types.js';
import { ALL_MESSAGE_TYPES, everyMessageType } from './helpers.js';

/** Through the real protobuf serializer and back, as the network would do it. */
function throughProtobuf(messages: readonly StreamedMessage[]): StreamedMessage[] {
  const method = raftPeerService().Send;
  const frame = method.requestSerialize({ messages: messages.map(encodeMessage) });
  return method.requestDeserialize(frame).messages.map(decodeMessage);
}

function decodeRaw(wire: Record<string, unknown>): StreamedMessage {
  const method = raftPeerService().Send;
  const frame = method.requestSerialize({ messages: [wire as unknown as RaftMessageWire] });
  const decoded: MessageBatchWire = method.requestDeserialize(frame);
  return decodeMessage(decoded.messages[0]!);
}

function reassemble(message: SnapshotRequest, chunkBytes: number): SnapshotRequest {
  const method = raftPeerService().InstallSnapshot;
  const chunks = [...snapshotChunks(message, chunkBytes)].map(
    (chunk) => method.requestDeserialize(method.requestSerialize(chunk)) as SnapshotChunkWire,
  );
  const first = chunks[0]!;
  const assembler = new SnapshotAssembler(decodeSnapshotHeader(first.header!));
  for (const chunk of chunks) assembler.append(chunk.offset, chunk.data);
  return assembler.finish();
}

describe('message codec', () => {
  it('fixtures cover every message type', () => {
    const covered = new Set(everyMessageType('n1', 'n2').map((m) => m.type));
    expect([...covered].sort()).toEqual([...ALL_MESSAGE_TYPES].sort());
  });

  it('round-trips every streamed message type through protobuf exactly', () => {
    const messages = everyMessageType('n1', 'n2').filter(isStreamedMessage);
    const decoded = throughProtobuf(messages);
    expect(decoded).toStrictEqual(messages);
    for (const message of decoded) {
      if (message.type !== 'append') continue;
      for (const entry of message.entries) expect(entry.data.constructor).toBe(Uint8Array);
    }
  });

  it('round-trips snapshots through chunks of any size', () => {
    const data = new Uint8Array(10_000).map((_, i) => (i * 31) % 256);
    const message: Message = {
      type: 'snapshot',
      from: 'n1',
      to: 'n2',
      term: 3,
      snapshot: { meta: { index: 77, term: 3, conf: { voters: ['n1', 'n2'], learners: [] } }, data },
    };
    for (const chunkBytes of [1, 999, 10_000, 1 << 20]) {
      expect(reassemble(message, chunkBytes)).toStrictEqual(message);
    }
    const empty: SnapshotRequest = { ...message, snapshot: { ...message.snapshot, data: new Uint8Array(0) } };
    expect([...snapshotChunks(empty, 1024)]).toHaveLength(1);
    expect(reassemble(empty, 1024)).toStrictEqual(empty);
  });

  describe('rejects malformed input', () => {
    const envelope = { from: 'n1', to: 'n2', term: 1 };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['no body', { ...envelope }, /no body/],
      ['empty from', { ...envelope, from: '', timeoutNow: {} }, /from/],
      ['empty to', { ...envelope, to: '', timeoutNow: {} }, /to/],
      ['term beyond 2^53', { ...envelope, term: 2 ** 60, timeoutNow: {} }, /term/],
      [
        'index beyond 2^53',
        { ...envelope, appendResp: { reject: false, index: 2 ** 54, rejectHintIndex: 0, rejectHintTerm: 0 } },
        /appendResp.index/,
      ],
      [
        'unknown entry type',
        {
          ...envelope,
          append: {
            prevLogIndex: 0,
            prevLogTerm: 0,
            commit: 0,
            entries: [{ index: 1, term: 1, type: 7, data: new Uint8Array(0) }],
          },
        },
        /entry type/,
      ],
      [
        'a gap in entries',
        {
          ...envelope,
          append: {
            prevLogIndex: 4,
            prevLogTerm: 1,
            commit: 0,
            entries: [
              { index: 5, term: 1, type: EntryType.Normal, data: new Uint8Array(0) },
              { index: 7, term: 1, type: EntryType.Normal, data: new Uint8Array(0) },
            ],
          },
        },
        /contiguous/,
      ],
      [
        'entries not following prevLogIndex',
        {
          ...envelope,
          append: {
            prevLogIndex: 4,
            prevLogTerm: 1,
            commit: 0,
            entries: [{ index: 9, term: 1, type: 0, data: new Uint8Array(0) }],
          },
        },
        /contiguous/,
      ],
    ];
    for (const [name, wire, pattern] of cases) {
      it(name, () => {
        expect(() => decodeRaw(wire)).toThrow(MalformedMessageError);
        expect(() => decodeRaw(wire)).toThrow(pattern);
      });
    }

    it('snapshot header without meta or conf', () => {
      expect(() => decodeSnapshotHeader({ from: 'a', to: 'b', term: 1, meta: null, totalBytes: 0 })).toThrow(
        /meta/,
      );
      expect(() =>
        decodeSnapshotHeader({
          from: 'a',
          to: 'b',
          term: 1,
          meta: { index: 1, term: 1, conf: null },
          totalBytes: 0,
        }),
      ).toThrow(/conf/);
    });

    it('snapshot chunks out of place, too many, or too few', () => {
      const header = decodeSnapshotHeader({
        from: 'a',
        to: 'b',
        term: 1,
        meta: { index: 1, term: 1, conf: { voters: ['a'], learners: [] } },
        totalBytes: 4,
      });
      const gap = new SnapshotAssembler(header);
      gap.append(0, new Uint8Array(2));
      expect(() => gap.append(3, new Uint8Array(1))).toThrow(/offset 3, expected 2/);
      const overflow = new SnapshotAssembler(header);
      expect(() => overflow.append(0, new Uint8Array(5))).toThrow(/exceed/);
      const truncated = new SnapshotAssembler(header);
      truncated.append(0, new Uint8Array(3));
      expect(() => truncated.finish()).toThrow(/3 of 4/);
    });
  });
});
