/** fast-check generators of commands in their canonical shape (optional fields absent rather than false/0). */
import fc from 'fast-check';
import type {
  CheckpointSessionsCommand,
  CloseSessionCommand,
  Command,
  Compare,
  CreateCommand,
  DeleteCommand,
  DeleteIntervalCommand,
  DeleteNodeCommand,
  DeleteRangeCommand,
  OpenSessionCommand,
  PutCommand,
  RangeOp,
  TxnCommand,
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
/** Any put shape the codec carries, including combinations validation refuses (ignoreValue with a value). */
export const putArb: fc.Arbitrary<PutCommand> = fc.record(
  {
    type: fc.constant('put' as const),
    key: anyKey,
    value: anyBytes,
    prevKv: optionalTrue,
    session: anyUint,
    ignoreValue: optionalTrue,
    ignoreSession: optionalTrue,
  },
  { requiredKeys: ['type', 'key', 'value'] },
);
export const openSessionArb: fc.Arbitrary<OpenSessionCommand> = fc.record(
  { type: fc.constant('openSession' as const), ttlMs: anyUint, sessionId: anyUint },
  { requiredKeys: ['type', 'ttlMs'] },
);
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
/** deleteInterval, with or without an end (the codec carries '' keys and ends below the start). */
export const deleteIntervalArb: fc.Arbitrary<DeleteIntervalCommand> = fc.record(
  { type: fc.constant('deleteInterval' as const), key: anyKey, rangeEnd: anyKey, prevKv: optionalTrue },
  { requiredKeys: ['type', 'key'] },
);
export const rangeOpArb: fc.Arbitrary<RangeOp> = fc.record(
  {
    type: fc.constant('range' as const),
    key: anyKey,
    range: fc.constantFrom('exact' as const, 'prefix' as const, 'children' as const, 'interval' as const),
    rangeEnd: anyKey,
    revision: revisionNumber,
    limit: revisionNumber,
    keysOnly: optionalTrue,
    countOnly: optionalTrue,
  },
  { requiredKeys: ['type', 'key', 'range'] },
);
/**
 * Which keys a compare looks at. 'exact' is the default and canonically absent; a rangeEnd may
 * come with any range here (the codec carries it; validation allows it only with 'interval').
 */
const compareWhereArb = fc.record(
  { range: fc.constantFrom('prefix' as const, 'interval' as const), rangeEnd: anyKey },
  { requiredKeys: [] },
);
const compareOpArb = fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const);
export const compareArb: fc.Arbitrary<Compare> = fc.oneof(
  fc
    .tuple(
      fc.record({ key: anyKey, target: fc.constant('value' as const), op: compareOpArb, value: anyBytes }),
      compareWhereArb,
    )
    .map(([compare, where]): Compare => ({ ...compare, ...where })),
  fc
    .tuple(
      fc.record({
        key: anyKey,
        target: fc.constantFrom(
          'version' as const,
          'createRevision' as const,
          'modRevision' as const,
          'lease' as const,
        ),
        op: compareOpArb,
        value: fc.oneof(fc.nat(), revisionNumber),
      }),
      compareWhereArb,
    )
    .map(([compare, where]): Compare => ({ ...compare, ...where })),
);

/** A txn whose ops may themselves be txns, `depth` levels further down at most. */
export function txnArb(depth: number): fc.Arbitrary<TxnCommand> {
  const leaf: fc.Arbitrary<TxnOp> = fc.oneof(
    putArb,
    deleteArb,
    deleteRangeArb,
    deleteIntervalArb,
    rangeOpArb,
  );
  const op: fc.Arbitrary<TxnOp> =
    depth <= 0 ? leaf : fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 1, arbitrary: txnArb(depth - 1) });
  return fc.record({
    type: fc.constant('txn' as const),
    compare: fc.array(compareArb, { maxLength: 4 }),
    success: fc.array(op, { maxLength: 4 }),
    failure: fc.array(op, { maxLength: 4 }),
  });
}

/** Txns nested up to three levels below the top one. */
export const nestedTxnArb: fc.Arbitrary<TxnCommand> = txnArb(3);

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  putArb,
  deleteArb,
  deleteRangeArb,
  deleteIntervalArb,
  nestedTxnArb,
  fc.record({ type: fc.constant('compact' as const), revision: revisionNumber }),
  fc.constant({ type: 'noop' as const }),
  openSessionArb,
  closeSessionArb,
  checkpointSessionsArb,
  createArb,
  deleteNodeArb,
);
