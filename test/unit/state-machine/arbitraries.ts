/** fast-check generators of commands in their canonical shape (optional fields absent rather than false/0). */
import fc from 'fast-check';
import type {
  CheckpointSessionsCommand,
  CloseSessionCommand,
  Command,
  Compare,
  CreateCommand,
  DeleteCommand,
  DeleteNodeCommand,
  DeleteRangeCommand,
  OpenSessionCommand,
  PutCommand,
  RangeOp,
  TxnOp,
} from '../../../src/state-machine/types.js';

/**
 * One code point, any plane, never a lone surrogate (which UTF-8 cannot carry). Hand-rolled
 * because fast-check's built-in 'binary' unit is ~20x slower.
 */
export const codePoint = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
  fc
    .integer({ min: 0x80, max: 0x10ffff })
    .map((c) => String.fromCodePoint(c >= 0xd800 && c <= 0xdfff ? c + 0x800 : c)),
);

export const anyKey = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: codePoint, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: codePoint, minLength: 120, maxLength: 300 }) }, // multi-byte length prefixes
);
export const anyBytes = fc.uint8Array({ maxLength: 64 });
const revisionNumber = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const optionalTrue = fc.constant(true as const);

/** Any number the codec carries (the codec does not judge: validation rejects 0 where it must). */
const anyUint = fc.oneof(fc.nat({ max: 300 }), revisionNumber);
export const putArb: fc.Arbitrary<PutCommand> = fc.record(
  { type: fc.constant('put' as const), key: anyKey, value: anyBytes, prevKv: optionalTrue, session: anyUint },
  { requiredKeys: ['type', 'key', 'value'] },
);
export const openSessionArb: fc.Arbitrary<OpenSessionCommand> = fc.record({
  type: fc.constant('openSession' as const),
  ttlMs: anyUint,
});
export const closeSessionArb: fc.Arbitrary<CloseSessionCommand> = fc.record({
  type: fc.constant('closeSession' as const),
  sessionId: anyUint,
  reason: fc.constantFrom('closed' as const, 'expired' as const),
});
export const checkpointSessionsArb: fc.Arbitrary<CheckpointSessionsCommand> = fc.record({
  type: fc.constant('checkpointSessions' as const),
  sessions: fc.array(fc.record({ sessionId: anyUint, remainingMs: anyUint }), { maxLength: 5 }),
});
export const createArb: fc.Arbitrary<CreateCommand> = fc.record(
  {
    type: fc.constant('create' as const),
    path: anyKey,
    value: anyBytes,
    session: anyUint,
    sequential: optionalTrue,
    parents: optionalTrue,
  },
  { requiredKeys: ['type', 'path', 'value'] },
);
export const deleteNodeArb: fc.Arbitrary<DeleteNodeCommand> = fc.record(
  { type: fc.constant('deleteNode' as const), path: anyKey, expectedVersion: anyUint },
  { requiredKeys: ['type', 'path'] },
);
export const deleteArb: fc.Arbitrary<DeleteCommand> = fc.record(
  { type: fc.constant('delete' as const), key: anyKey, prevKv: optionalTrue },
  { requiredKeys: ['type', 'key'] },
);
export const deleteRangeArb: fc.Arbitrary<DeleteRangeCommand> = fc.record(
  { type: fc.constant('deleteRange' as const), prefix: anyKey, prevKv: optionalTrue },
  { requiredKeys: ['type', 'prefix'] },
);
export const rangeOpArb: fc.Arbitrary<RangeOp> = fc.record(
  {
    type: fc.constant('range' as const),
    key: anyKey,
    range: fc.constantFrom('exact' as const, 'prefix' as const, 'children' as const),
    revision: revisionNumber,
    limit: revisionNumber,
    keysOnly: optionalTrue,
    countOnly: optionalTrue,
  },
  { requiredKeys: ['type', 'key', 'range'] },
);
export const compareArb: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({
    key: anyKey,
    target: fc.constant('value' as const),
    op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    value: anyBytes,
  }),
  fc.record({
    key: anyKey,
    target: fc.constantFrom('version' as const, 'createRevision' as const, 'modRevision' as const),
    op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    value: fc.oneof(fc.nat(), revisionNumber),
  }),
);
const txnOpArb: fc.Arbitrary<TxnOp> = fc.oneof(putArb, deleteArb, deleteRangeArb, rangeOpArb);

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  putArb,
  deleteArb,
  deleteRangeArb,
  fc.record({
    type: fc.constant('txn' as const),
    compare: fc.array(compareArb, { maxLength: 4 }),
    success: fc.array(txnOpArb, { maxLength: 4 }),
    failure: fc.array(txnOpArb, { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant('compact' as const), revision: revisionNumber }),
  fc.constant({ type: 'noop' as const }),
  openSessionArb,
  closeSessionArb,
  checkpointSessionsArb,
  createArb,
  deleteNodeArb,
);
