import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CommandTag,
  decodeCommand,
  encodeCommand,
  ReservedTagRanges,
} from '../../../src/state-machine/commands.js';
import { StateMachineError } from '../../../src/state-machine/errors.js';
import type { Command } from '../../../src/state-machine/types.js';
import { commandArb } from './arbitraries.js';
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
    const tags = [1, 16, 17, 18, 24, 25];
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

  it('decodes only the flag bits each command defines', () => {
    expect(
      expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 2, 2, 0)), 'CORRUPT_COMMAND').message,
    ).toMatch(/flag/); // delete has no session
    expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 24, 8, 0, 0)), 'CORRUPT_COMMAND');
    expectThrowsCode(() => decodeCommand(Uint8Array.of(1, 25, 2, 0)), 'CORRUPT_COMMAND');
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
