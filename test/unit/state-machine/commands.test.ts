import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CommandTag,
  decodeCommand,
  encodeCommand,
  ReservedTagRanges,
} from '../../../src/state-machine/commands.js';
import { StateMachineError } from '../../../src/state-machine/errors.js';
import type { Command, Compare, TxnCommand, TxnOp } from '../../../src/state-machine/types.js';
import {
  commandArb,
  compareArb,
  deleteIntervalArb,
  nestedTxnArb,
  openSessionArb,
  putArb,
  rangeOpArb,
} from './arbitraries.js';
import { bytes, expectThrowsCode } from './helpers.js';

/** Decodes, insisting that any failure is a typed decode error (never a crash of another kind). */
function decodeOrTypedError(data: Uint8Array): Command | StateMachineError {
  try {
    return decodeCommand(data);
  } catch (error) {
    expect(error).toBeInstanceOf(StateMachineError);
    expect(['CORRUPT_COMMAND', 'UNSUPPORTED_COMMAND']).toContain((error as StateMachineError).code);
    return error as StateMachineError;
  }
}

describe('command codec', () => {
  it('round-trips every command', () => {
    fc.assert(
      fc.property(commandArb, (command) => {
        expect(decodeCommand(encodeCommand(command))).toEqual(command);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips the etcd-compatible shapes', () => {
    // Each shape on its own, so every run exercises one (commandArb spreads them thin).
    const shapes: fc.Arbitrary<Command> = fc.oneof(
      deleteIntervalArb,
      putArb.filter((put) => put.ignoreValue === true || put.ignoreSession === true),
      openSessionArb.filter((open) => open.sessionId !== undefined),
      nestedTxnArb.filter((txn) => [...txn.success, ...txn.failure].some((op) => op.type === 'txn')),
      fc
        .array(compareArb, { minLength: 1, maxLength: 3 })
        .map((compare): Command => ({ type: 'txn', compare, success: [], failure: [] })),
      fc
        .array(rangeOpArb, { minLength: 1, maxLength: 3 })
        .map((success): Command => ({ type: 'txn', compare: [], success, failure: [] })),
    );
    fc.assert(
      fc.property(shapes, (command) => {
        expect(decodeCommand(encodeCommand(command))).toEqual(command);
      }),
      { numRuns: 300 },
    );
  });

  it('is canonical: whatever decodes re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (data) => {
        // Steer half the inputs past the version byte so decoding gets somewhere.
        const input = data.length > 0 && data[0]! % 2 === 0 ? Uint8Array.of(1, ...data.subarray(1)) : data;
        const decoded = decodeOrTypedError(input);
        if (!(decoded instanceof StateMachineError)) expect(encodeCommand(decoded)).toEqual(input);
      }),
      { numRuns: 2000 },
    );
  });

  it('is canonical for the session and tree tags too', () => {
    const tags = [1, 7, 16, 17, 18, 19, 24, 25];
    fc.assert(
      fc.property(fc.constantFrom(...tags), fc.uint8Array({ maxLength: 24 }), (tag, rest) => {
        const input = Uint8Array.of(1, tag, ...rest);
        const decoded = decodeOrTypedError(input);
        if (!(decoded instanceof StateMachineError)) expect(encodeCommand(decoded)).toEqual(input);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects every truncation and survives byte corruption of valid encodings with typed errors', () => {
    fc.assert(
      fc.property(commandArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (command, where, newByte) => {
        const encoded = encodeCommand(command);
        const cut = where % encoded.length;
        expect(decodeOrTypedError(encoded.subarray(0, cut))).toBeInstanceOf(StateMachineError);
        const damaged = encoded.slice();
        damaged[cut] = newByte;
        const decoded = decodeOrTypedError(damaged);
        if (!(decoded instanceof StateMachineError)) expect(encodeCommand(decoded)).toEqual(damaged);
        expect(decodeOrTypedError(Uint8Array.of(...encoded, 0))).toBeInstanceOf(StateMachineError);
      }),
      { numRuns: 500 },
    );
  });

  it('has the documented layout', () => {
    // version 1, tag put, flags (prevKv), key "/a" (len 2), value "x" (len 1)
    expect([...encodeCommand({ type: 'put', key: '/a', value: bytes('x'), prevKv: true })]).toEqual([
      1, 1, 1, 2, 0x2f, 0x61, 1, 0x78,
    ]);
    expect([...encodeCommand({ type: 'compact', revision: 300 })]).toEqual([
      1,
      CommandTag.compact,
      0xac,
      0x02,
    ]);
    expect([...encodeCommand({ type: 'noop' })]).toEqual([1, 0]);
    expect([
      ...encodeCommand({
        type: 'txn',
        compare: [],
        success: [{ type: 'range', key: 'k', range: 'prefix', limit: 2 }],
        failure: [],
      }),
    ]).toEqual([1, CommandTag.txn, 0, 1, 6, 1, 0, 1, 0x6b, 0, 2, 0]);
    // put with a session: flags bit1, the session id after the value
    expect([...encodeCommand({ type: 'put', key: '/a', value: bytes('x'), session: 300 })]).toEqual([
      1, 1, 2, 2, 0x2f, 0x61, 1, 0x78, 0xac, 0x02,
    ]);
    expect([...encodeCommand({ type: 'openSession', ttlMs: 1000 })]).toEqual([1, 16, 0xe8, 0x07]);
    expect([...encodeCommand({ type: 'closeSession', sessionId: 5, reason: 'expired' })]).toEqual([
      1, 17, 5, 1,
    ]);
    expect([
      ...encodeCommand({
        type: 'checkpointSessions',
        sessions: [
          { sessionId: 5, remainingMs: 7 },
          { sessionId: 9, remainingMs: 0 },
        ],
      }),
    ]).toEqual([1, 18, 2, 5, 7, 9, 0]);
    // create: flags (bit0 session, bit1 sequential, bit2 parents), path, value, session
    expect([
      ...encodeCommand({
        type: 'create',
        path: '/l',
        value: bytes('v'),
        session: 3,
        sequential: true,
        parents: true,
      }),
    ]).toEqual([1, 24, 7, 2, 0x2f, 0x6c, 1, 0x76, 3]);
    expect([...encodeCommand({ type: 'create', path: '/l', value: new Uint8Array(0) })]).toEqual([
      1, 24, 0, 2, 0x2f, 0x6c, 0,
    ]);
    // deleteNode: flags (bit0 expectedVersion), path, expectedVersion
    expect([...encodeCommand({ type: 'deleteNode', path: '/l', expectedVersion: 2 })]).toEqual([
      1, 25, 1, 2, 0x2f, 0x6c, 2,
    ]);
    expect([...encodeCommand({ type: 'deleteNode', path: '/l' })]).toEqual([1, 25, 0, 2, 0x2f, 0x6c]);
  });

  it('has the documented layout for the etcd-compatible shapes', () => {
    // deleteInterval: flags (bit0 prevKv, bit2 rangeEnd), key, rangeEnd
    expect([...encodeCommand({ type: 'deleteInterval', key: 'a', rangeEnd: 'c', prevKv: true })]).toEqual([
      1, 7, 0b101, 1, 0x61, 1, 0x63,
    ]);
    expect([...encodeCommand({ type: 'deleteInterval', key: '' })]).toEqual([1, 7, 0, 0]);
    // put flags: bit2 ignoreValue, bit3 ignoreSession
    expect([
      ...encodeCommand({
        type: 'put',
        key: 'a',
        value: new Uint8Array(0),
        ignoreValue: true,
        ignoreSession: true,
      }),
    ]).toEqual([1, 1, 0b1100, 1, 0x61, 0]);
    // openSession with a chosen id: its own tag, [ttlMs][sessionId]
    expect([...encodeCommand({ type: 'openSession', ttlMs: 1000, sessionId: 300 })]).toEqual([
      1, 19, 0xe8, 0x07, 0xac, 0x02,
    ]);
    // A compare's first byte: target (lease = 4) | range << 4 (interval = 2) | 0x40 (rangeEnd follows)
    const compare: Compare = {
      key: 'a',
      target: 'lease',
      op: '=',
      value: 7,
      range: 'interval',
      rangeEnd: 'b',
    };
    expect([...encodeCommand({ type: 'txn', compare: [compare], success: [], failure: [] })]).toEqual([
      1, 4, 1, 0x64, 0, 1, 0x61, 1, 0x62, 7, 0, 0,
    ]);
    // A nested txn is a txn op with the txn tag; a range op's flag bit2 says a rangeEnd follows.
    const inner: TxnCommand = {
      type: 'txn',
      compare: [],
      success: [{ type: 'range', key: '', range: 'interval', rangeEnd: 'b' }],
      failure: [],
    };
    expect([...encodeCommand({ type: 'txn', compare: [], success: [inner], failure: [] })]).toEqual([
      1, 4, 0, 1, 4, 0, 1, 6, 3, 0b100, 0, 1, 0x62, 0, 0, 0, 0,
    ]);
  });

  it('decodes compares written before ranges existed as before', () => {
    // txn | 1 compare: target byte (index < 4, high bits clear) | op | key "/a" | operand | 0 | 0
    const old = (target: number, op: number, operand: number[]): Uint8Array =>
      Uint8Array.of(1, 4, 1, target, op, 2, 0x2f, 0x61, ...operand, 0, 0);
    const expected: Compare[] = [
      { key: '/a', target: 'value', op: '=', value: bytes('x') },
      { key: '/a', target: 'version', op: '!=', value: 2 },
      { key: '/a', target: 'createRevision', op: '<', value: 300 },
      { key: '/a', target: 'modRevision', op: '>', value: 0 },
    ];
    const encodings = [old(0, 0, [1, 0x78]), old(1, 1, [2]), old(2, 2, [0xac, 0x02]), old(3, 3, [0])];
    encodings.forEach((data, i) => {
      const decoded = decodeCommand(data);
      expect(decoded).toEqual({ type: 'txn', compare: [expected[i]], success: [], failure: [] });
      expect(Object.keys((decoded as TxnCommand).compare[0]!)).not.toContain('range');
      // ... and such compares still encode to the old bytes.
      expect(encodeCommand(decoded)).toEqual(data);
    });
  });

  it('refuses unknown compare flag bits, targets and ranges', () => {
    const withHead = (head: number): Uint8Array => Uint8Array.of(1, 4, 1, head, 0, 1, 0x61, 0, 0, 0);
    for (const head of [0x80, 0x81, 0x84 | 0x10]) {
      expect(expectThrowsCode(() => decodeCommand(withHead(head)), 'CORRUPT_COMMAND').message).toMatch(
        /unknown compare flag bits/,
      );
    }
    for (const target of [5, 9, 15]) {
      expect(expectThrowsCode(() => decodeCommand(withHead(target)), 'CORRUPT_COMMAND').message).toMatch(
        /unknown compare target/,
      );
    }
    expect(expectThrowsCode(() => decodeCommand(withHead(0x31)), 'CORRUPT_COMMAND').message).toMatch(
      /unknown compare range 3/,
    );
  });

  it('decodes txns nested 8 deep, and refuses deeper ones', () => {
    const nest = (levels: number): TxnCommand => {
      let txn: TxnCommand = { type: 'txn', compare: [], success: [], failure: [] };
      for (let i = 0; i < levels; i++) {
        const op: TxnOp = txn;
        txn = { type: 'txn', compare: [], success: [], failure: [op] };
      }
      return txn;
    };
    expect(decodeCommand(encodeCommand(nest(8)))).toEqual(nest(8));
    expect(expectThrowsCode(() => decodeCommand(encodeCommand(nest(9))), 'CORRUPT_COMMAND').message).toMatch(
      /nested more than 8 deep/,
    );
  });

  it('decodes only the flag bits each command defines', () => {
    expect(
      expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 2, 2, 0)), 'CORRUPT_COMMAND').message,
    ).toMatch(/flag/); // delete has no session
    expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 24, 8, 0, 0)), 'CORRUPT_COMMAND');
    expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 25, 2, 0)), 'CORRUPT_COMMAND');
    // Only put keeps values / owners; only deleteInterval (and range ops) carry a rangeEnd.
    expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 2, 0b100, 1, 0x61)), 'CORRUPT_COMMAND');
    expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 7, 0b1000, 1, 0x61)), 'CORRUPT_COMMAND');
    expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 1, 0b10000, 1, 0x61, 0)), 'CORRUPT_COMMAND');
    expect(
      expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 17, 1, 2)), 'CORRUPT_COMMAND').message,
    ).toMatch(/close reason 2/);
  });

  it('carries keys longer than 127 UTF-8 bytes and the largest safe integer', () => {
    const key = `/${'é'.repeat(100)}/\u{1F600}`;
    expect(decodeCommand(encodeCommand({ type: 'delete', key }))).toEqual({ type: 'delete', key });
    const compact: Command = { type: 'compact', revision: Number.MAX_SAFE_INTEGER };
    expect(decodeCommand(encodeCommand(compact))).toEqual(compact);
  });

  it('names what is wrong', () => {
    expect(expectThrowsCode(() => decodeCommand(new Uint8Array(0)), 'CORRUPT_COMMAND').message).toMatch(
      /truncated/,
    );
    expect(expectThrowsCode(() => decodeCommand(Uint8Array.of(2, 0)), 'CORRUPT_COMMAND').message).toMatch(
      /version 2/,
    );
    expect(expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 99)), 'CORRUPT_COMMAND').message).toMatch(
      /tag 99/,
    );
    expect(
      expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 2, 2, 0)), 'CORRUPT_COMMAND').message,
    ).toMatch(/flag/);
    expect(
      expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 2, 0, 1, 0xff)), 'CORRUPT_COMMAND').message,
    ).toMatch(/UTF-8/);
    expect(
      expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 5, 0x81, 0)), 'CORRUPT_COMMAND').message,
    ).toMatch(/overlong/);
    const tooBig = Uint8Array.of(1, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
    expect(expectThrowsCode(() => decodeCommand(tooBig), 'CORRUPT_COMMAND').message).toMatch(/2\^53/);
    // A txn claiming 2^40 compares fails on the missing bytes, without allocating for the claim.
    expectThrowsCode(
      () => decodeCommand(Uint8Array.of(1, 4, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20)),
      'CORRUPT_COMMAND',
    );
  });

  it('reports reserved tags as unsupported rather than corrupt', () => {
    for (const range of ReservedTagRanges) {
      for (const tag of [range.from, range.to]) {
        const error = expectThrowsCode(() => decodeCommand(Uint8Array.of(1, tag)), 'UNSUPPORTED_COMMAND');
        expect(error.message).toContain(range.purpose);
      }
    }
  });

  it('refuses to encode what the format cannot carry', () => {
    expectThrowsCode(() => encodeCommand({ type: 'compact', revision: -1 }), 'INVALID_ARGUMENT');
    expectThrowsCode(() => encodeCommand({ type: 'compact', revision: 1.5 }), 'INVALID_ARGUMENT');
    // Deliberately ill-typed, as a caller outside TypeScript might send it.
    expectThrowsCode(
      () => encodeCommand({ type: 'put', key: 7, value: bytes('') } as unknown as Command),
      'INVALID_ARGUMENT',
    );
    expectThrowsCode(() => encodeCommand({ type: 'bogus' } as unknown as Command), 'INVALID_ARGUMENT');
    expectThrowsCode(
      () => encodeCommand({ type: 'put', key: '/a', value: bytes(''), session: -3 }),
      'INVALID_ARGUMENT',
    );
    expectThrowsCode(() => encodeCommand({ type: 'openSession', ttlMs: 1.5 }), 'INVALID_ARGUMENT');
    expectThrowsCode(
      () => encodeCommand({ type: 'closeSession', sessionId: 1, reason: 'x' } as unknown as Command),
      'INVALID_ARGUMENT',
    );
    expectThrowsCode(
      () => encodeCommand({ type: 'checkpointSessions', sessions: [{ sessionId: 1, remainingMs: -1 }] }),
      'INVALID_ARGUMENT',
    );
    expectThrowsCode(
      () => encodeCommand({ type: 'deleteNode', path: '/a', expectedVersion: Number.NaN }),
      'INVALID_ARGUMENT',
    );
  });
});
