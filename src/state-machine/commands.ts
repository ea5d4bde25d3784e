/**
 * The binary codec of replicated commands (the Raft log's payload, so compact and JSON-free).
 *
 * Layout (see docs/state-machine.md): [version u8 = 1][tag u8][fields...]. Integers are unsigned
 * LEB128 varints, strings and byte strings are varint-length-prefixed, booleans are bits of a
 * flags byte. Decoding is strict: truncation, unknown tags or flag bits, overlong varints,
 * invalid UTF-8 and trailing bytes all throw CORRUPT_COMMAND; so whatever decodes re-encodes to
 * exactly the same bytes.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { invalidArgument, StateMachineError, StateMachineErrorCode } from './errors.js';
import type {
  CheckpointSessionsCommand,
  Command,
  Compare,
  CompareOp,
  CompareTarget,
  CreateCommand,
  DeleteNodeCommand,
  CompareRange,
  RangeMode,
  RangeOp,
  SessionCheckpoint,
  SessionCloseReason,
  TxnCommand,
  TxnOp,
} from './types.js';

export const COMMAND_CODEC_VERSION = 1;

/** Type tags. Txn ops reuse the command tags for put/delete/deleteRange plus RANGE_OP. */
export const CommandTag = {
  noop: 0,
  put: 1,
  delete: 2,
  deleteRange: 3,
  txn: 4,
  compact: 5,
  deleteInterval: 7,
  openSession: 16,
  closeSession: 17,
  checkpointSessions: 18,
  /** openSession with a chosen id: [ttlMs][sessionId]. */
  openSessionWithId: 19,
  create: 24,
  deleteNode: 25,
} as const;
const RANGE_OP_TAG = 6;

/**
 * Tags set aside for commands a later version adds, so old and new encodings never collide. A
 * replica that does not know them reports UNSUPPORTED_COMMAND (upgrade every replica first).
 */
export const ReservedTagRanges: readonly {
  readonly from: number;
  readonly to: number;
  readonly purpose: string;
}[] = [
  { from: 20, to: 23, purpose: 'further session commands' },
  { from: 26, to: 31, purpose: 'further tree node commands' },
  { from: 32, to: 39, purpose: 'service registry (register, deregister, heartbeat)' },
  { from: 40, to: 47, purpose: 'health checks (check state changes)' },
];

const FLAG_PREV_KV = 0b01;
/** put: a session id (varint) follows the value. */
const FLAG_SESSION = 0b10;
const FLAG_IGNORE_VALUE = 0b100;
const FLAG_IGNORE_SESSION = 0b1000;
/** deleteInterval / range op: a rangeEnd string follows the key. */
const FLAG_RANGE_END = 0b100;
const FLAG_KEYS_ONLY = 0b01;
const FLAG_COUNT_ONLY = 0b10;
/**
 * A compare's first byte: the target index in the low nibble; the key range in bits 4-5 (index
 * into COMPARE_RANGES); bit 6 set when a rangeEnd string follows the key. Encodings written
 * before ranges existed have the high bits clear and decode as before.
 */
const COMPARE_TARGET_MASK = 0x0f;
const COMPARE_RANGE_SHIFT = 4;
const COMPARE_HAS_RANGE_END = 0x40;
/** create flags; a session id (varint) follows the value when CREATE_SESSION is set. */
const CREATE_SESSION = 0b001;
const CREATE_SEQUENTIAL = 0b010;
const CREATE_PARENTS = 0b100;
/** deleteNode: an expected version (varint) follows the path. */
const DELETE_NODE_VERSION = 0b1;

type CompareRangeMode = NonNullable<CompareRange['range']>;
type WriteOp = Exclude<TxnOp, RangeOp | TxnCommand>;

const CLOSE_REASONS: readonly SessionCloseReason[] = ['closed', 'expired'];

const RANGE_MODES: readonly RangeMode[] = ['exact', 'prefix', 'children', 'interval'];
const COMPARE_TARGETS: readonly CompareTarget[] = [
  'value',
  'version',
  'createRevision',
  'modRevision',
  'lease',
];
const COMPARE_RANGES: readonly CompareRangeMode[] = ['exact', 'prefix', 'interval'];
const COMPARE_OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];

function corrupt(message: string): StateMachineError {
  return new StateMachineError(StateMachineErrorCode.CorruptCommand, `corrupt command: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Encoding

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalidArgument(`cannot encode ${what}: not a string`);
  return value;
}

function requireUint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`cannot encode ${what}: ${String(value)} is not a non-negative integer`);
  }
  return value;
}

function requireBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgument(`cannot encode ${what}: not a Uint8Array`);
  return value;
}

function indexIn<T>(values: readonly T[], value: T, what: string): number {
  const index = values.indexOf(value);
  if (index === -1) throw invalidArgument(`cannot encode ${what}: unknown value '${String(value)}'`);
  return index;
}

/** Encodes a command; throws INVALID_ARGUMENT for a value the format cannot carry (not for semantic errors). */
export function encodeCommand(command: Command): Uint8Array {
  // Sizing a put or create up front spares a large value the buffer's repeated doubling.
  const name = command.type === 'put' ? command.key : command.type === 'create' ? command.path : undefined;
  const value = command.type === 'put' || command.type === 'create' ? command.value : undefined;
  const size =
    typeof name === 'string' && value instanceof Uint8Array ? 24 + name.length * 3 + value.length : 64;
  const writer = new ByteWriter(size);
  writer.u8(COMMAND_CODEC_VERSION);
  switch (command.type) {
    case 'noop':
      writer.u8(CommandTag.noop);
      break;
    case 'compact':
      writer.u8(CommandTag.compact);
      writer.varint(requireUint(command.revision, 'compact revision'));
      break;
    case 'txn':
      writer.u8(CommandTag.txn);
      writeTxn(writer, command);
      break;
    case 'put':
    case 'delete':
    case 'deleteRange':
    case 'deleteInterval':
      writeWriteOp(writer, command);
      break;
    case 'openSession':
      writer.u8(command.sessionId === undefined ? CommandTag.openSession : CommandTag.openSessionWithId);
      writer.varint(requireUint(command.ttlMs, 'openSession ttlMs'));
      if (command.sessionId !== undefined) {
        writer.varint(requireUint(command.sessionId, 'openSession sessionId'));
      }
      break;
    case 'closeSession':
      writer.u8(CommandTag.closeSession);
      writer.varint(requireUint(command.sessionId, 'closeSession sessionId'));
      writer.u8(indexIn(CLOSE_REASONS, command.reason, 'closeSession reason'));
      break;
    case 'checkpointSessions':
      writeCheckpoint(writer, command);
      break;
    case 'create':
      writeCreate(writer, command);
      break;
    case 'deleteNode':
      writeDeleteNode(writer, command);
      break;
    default:
      throw invalidArgument(
        `cannot encode command of unknown type '${(command as { type: unknown }).type as string}'`,
      );
  }
  return writer.finish();
}

function writeFlags(op: WriteOp): number {
  let flags = op.prevKv === true ? FLAG_PREV_KV : 0;
  if (op.type === 'put') {
    if (op.session !== undefined) flags |= FLAG_SESSION;
    if (op.ignoreValue === true) flags |= FLAG_IGNORE_VALUE;
    if (op.ignoreSession === true) flags |= FLAG_IGNORE_SESSION;
  } else if (op.type === 'deleteInterval' && op.rangeEnd !== undefined) {
    flags |= FLAG_RANGE_END;
  }
  return flags;
}

function writeWriteOp(writer: ByteWriter, op: WriteOp): void {
  writer.u8(CommandTag[op.type]);
  writer.u8(writeFlags(op));
  if (op.type === 'deleteRange') {
    writer.string(requireString(op.prefix, 'deleteRange prefix'));
  } else {
    writer.string(requireString(op.key, `${op.type} key`));
  }
  if (op.type === 'put') {
    writer.bytes(requireBytes(op.value, 'put value'));
    if (op.session !== undefined) writer.varint(requireUint(op.session, 'put session'));
  } else if (op.type === 'deleteInterval' && op.rangeEnd !== undefined) {
    writer.string(requireString(op.rangeEnd, 'deleteInterval rangeEnd'));
  }
}

function writeCheckpoint(writer: ByteWriter, command: CheckpointSessionsCommand): void {
  writer.u8(CommandTag.checkpointSessions);
  if (!Array.isArray(command.sessions))
    throw invalidArgument('cannot encode checkpointSessions: sessions is not an array');
  writer.varint(command.sessions.length);
  for (const entry of command.sessions) {
    writer.varint(requireUint(entry?.sessionId, 'checkpoint sessionId'));
    writer.varint(requireUint(entry?.remainingMs, 'checkpoint remainingMs'));
  }
}

function writeCreate(writer: ByteWriter, command: CreateCommand): void {
  writer.u8(CommandTag.create);
  writer.u8(
    (command.session !== undefined ? CREATE_SESSION : 0) |
      (command.sequential === true ? CREATE_SEQUENTIAL : 0) |
      (command.parents === true ? CREATE_PARENTS : 0),
  );
  writer.string(requireString(command.path, 'create path'));
  writer.bytes(requireBytes(command.value, 'create value'));
  if (command.session !== undefined) writer.varint(requireUint(command.session, 'create session'));
}

function writeDeleteNode(writer: ByteWriter, command: DeleteNodeCommand): void {
  writer.u8(CommandTag.deleteNode);
  writer.u8(command.expectedVersion !== undefined ? DELETE_NODE_VERSION : 0);
  writer.string(requireString(command.path, 'deleteNode path'));
  if (command.expectedVersion !== undefined) {
    writer.varint(requireUint(command.expectedVersion, 'deleteNode expectedVersion'));
  }
}

function writeTxn(writer: ByteWriter, txn: TxnCommand): void {
  writer.varint(txn.compare.length);
  for (const compare of txn.compare) writeCompare(writer, compare);
  for (const branch of [txn.success, txn.failure]) {
    writer.varint(branch.length);
    for (const op of branch) writeTxnOp(writer, op);
  }
}

function writeCompare(writer: ByteWriter, compare: Compare): void {
  const range = indexIn(COMPARE_RANGES, compare.range ?? 'exact', 'compare range');
  writer.u8(
    indexIn(COMPARE_TARGETS, compare.target, 'compare target') |
      (range << COMPARE_RANGE_SHIFT) |
      (compare.rangeEnd !== undefined ? COMPARE_HAS_RANGE_END : 0),
  );
  writer.u8(indexIn(COMPARE_OPS, compare.op, 'compare op'));
  writer.string(requireString(compare.key, 'compare key'));
  if (compare.rangeEnd !== undefined) writer.string(requireString(compare.rangeEnd, 'compare rangeEnd'));
  if (compare.target === 'value') writer.bytes(requireBytes(compare.value, 'compare value'));
  else writer.varint(requireUint(compare.value, `${compare.target} compare operand`));
}

function writeTxnOp(writer: ByteWriter, op: TxnOp): void {
  if (
    op.type === 'put' ||
    op.type === 'delete' ||
    op.type === 'deleteRange' ||
    op.type === 'deleteInterval'
  ) {
    writeWriteOp(writer, op);
    return;
  }
  if (op.type === 'txn') {
    writer.u8(CommandTag.txn);
    writeTxn(writer, op);
    return;
  }
  if (op.type !== 'range') {
    throw invalidArgument(
      `cannot encode txn op of unknown type '${(op as { type: unknown }).type as string}'`,
    );
  }
  writer.u8(RANGE_OP_TAG);
  writer.u8(indexIn(RANGE_MODES, op.range ?? 'exact', 'range mode'));
  writer.u8(
    (op.keysOnly === true ? FLAG_KEYS_ONLY : 0) |
      (op.countOnly === true ? FLAG_COUNT_ONLY : 0) |
      (op.rangeEnd !== undefined ? FLAG_RANGE_END : 0),
  );
  writer.string(requireString(op.key, 'range key'));
  if (op.rangeEnd !== undefined) writer.string(requireString(op.rangeEnd, 'range rangeEnd'));
  writer.varint(requireUint(op.revision ?? 0, 'range revision'));
  writer.varint(requireUint(op.limit ?? 0, 'range limit'));
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Decodes a command; throws CORRUPT_COMMAND (or UNSUPPORTED_COMMAND for a reserved tag), never anything else. */
export function decodeCommand(bytes: Uint8Array): Command {
  const reader = new ByteReader(bytes, corrupt);
  const version = reader.u8();
  if (version !== COMMAND_CODEC_VERSION) {
    throw corrupt(
      `codec version ${version} is not supported (this replica speaks version ${COMMAND_CODEC_VERSION})`,
    );
  }
  const tag = reader.u8();
  let command: Command;
  switch (tag) {
    case CommandTag.noop:
      command = { type: 'noop' };
      break;
    case CommandTag.compact:
      command = { type: 'compact', revision: reader.varint() };
      break;
    case CommandTag.txn:
      command = readTxn(reader);
      break;
    case CommandTag.put:
    case CommandTag.delete:
    case CommandTag.deleteRange:
    case CommandTag.deleteInterval:
      command = readWriteOp(reader, tag);
      break;
    case CommandTag.openSession:
      command = { type: 'openSession', ttlMs: reader.varint() };
      break;
    case CommandTag.openSessionWithId: {
      const ttlMs = reader.varint();
      command = { type: 'openSession', ttlMs, sessionId: reader.varint() };
      break;
    }
    case CommandTag.closeSession: {
      const sessionId = reader.varint();
      command = { type: 'closeSession', sessionId, reason: readEnum(reader, CLOSE_REASONS, 'close reason') };
      break;
    }
    case CommandTag.checkpointSessions: {
      const sessions: SessionCheckpoint[] = [];
      for (let count = reader.varint(); count > 0; count--) {
        const sessionId = reader.varint();
        sessions.push({ sessionId, remainingMs: reader.varint() });
      }
      command = { type: 'checkpointSessions', sessions };
      break;
    }
    case CommandTag.create:
      command = readCreate(reader);
      break;
    case CommandTag.deleteNode: {
      const flags = readFlags(reader, DELETE_NODE_VERSION, 'deleteNode');
      const path = reader.string();
      command =
        (flags & DELETE_NODE_VERSION) !== 0
          ? { type: 'deleteNode', path, expectedVersion: reader.varint() }
          : { type: 'deleteNode', path };
      break;
    }
    default:
      throw unknownTag(tag);
  }
  reader.expectEnd();
  return command;
}

function unknownTag(tag: number): StateMachineError {
  const reserved = ReservedTagRanges.find((range) => tag >= range.from && tag <= range.to);
  if (reserved !== undefined) {
    return new StateMachineError(
      StateMachineErrorCode.UnsupportedCommand,
      `command tag ${tag} is reserved for ${reserved.purpose}, which this replica does not implement; ` +
        `upgrade every replica before using it`,
    );
  }
  return corrupt(`unknown command tag ${tag}`);
}

function readFlags(reader: ByteReader, allowed: number, what: string): number {
  const flags = reader.u8();
  if ((flags & ~allowed) !== 0) throw corrupt(`unknown ${what} flag bits 0x${flags.toString(16)}`);
  return flags;
}

function allowedWriteFlags(tag: number): number {
  if (tag === CommandTag.put) return FLAG_PREV_KV | FLAG_SESSION | FLAG_IGNORE_VALUE | FLAG_IGNORE_SESSION;
  if (tag === CommandTag.deleteInterval) return FLAG_PREV_KV | FLAG_RANGE_END;
  return FLAG_PREV_KV;
}

function readWriteOp(reader: ByteReader, tag: number): WriteOp {
  const flags = readFlags(reader, allowedWriteFlags(tag), 'write');
  const prevKv = (flags & FLAG_PREV_KV) !== 0;
  const keyOrPrefix = reader.string();
  if (tag === CommandTag.put) {
    const value = reader.bytes();
    return {
      type: 'put',
      key: keyOrPrefix,
      value,
      ...(prevKv ? { prevKv: true } : {}),
      ...((flags & FLAG_SESSION) !== 0 ? { session: reader.varint() } : {}),
      ...((flags & FLAG_IGNORE_VALUE) !== 0 ? { ignoreValue: true } : {}),
      ...((flags & FLAG_IGNORE_SESSION) !== 0 ? { ignoreSession: true } : {}),
    };
  }
  let op: WriteOp;
  if (tag === CommandTag.delete) op = { type: 'delete', key: keyOrPrefix };
  else if (tag === CommandTag.deleteRange) op = { type: 'deleteRange', prefix: keyOrPrefix };
  else if ((flags & FLAG_RANGE_END) !== 0)
    op = { type: 'deleteInterval', key: keyOrPrefix, rangeEnd: reader.string() };
  else op = { type: 'deleteInterval', key: keyOrPrefix };
  return prevKv ? { ...op, prevKv: true } : op;
}

function readCreate(reader: ByteReader): CreateCommand {
  const flags = readFlags(reader, CREATE_SESSION | CREATE_SEQUENTIAL | CREATE_PARENTS, 'create');
  const path = reader.string();
  const value = reader.bytes();
  return {
    type: 'create',
    path,
    value,
    ...((flags & CREATE_SESSION) !== 0 ? { session: reader.varint() } : {}),
    ...((flags & CREATE_SEQUENTIAL) !== 0 ? { sequential: true } : {}),
    ...((flags & CREATE_PARENTS) !== 0 ? { parents: true } : {}),
  };
}

function readEnum<T>(reader: ByteReader, values: readonly T[], what: string): T {
  const index = reader.u8();
  const value = values[index];
  if (value === undefined) throw corrupt(`unknown ${what} ${index}`);
  return value;
}

/** Nesting deeper than validation allows is refused while decoding, before the stack grows. */
const MAX_DECODED_TXN_DEPTH = 8;

function readTxn(reader: ByteReader, depth = 0): TxnCommand {
  if (depth > MAX_DECODED_TXN_DEPTH) throw corrupt(`txn nested more than ${MAX_DECODED_TXN_DEPTH} deep`);
  // Counts come from untrusted bytes: grow arrays item by item (each item consumes input)
  // instead of preallocating a claimed length.
  const compare: Compare[] = [];
  for (let count = reader.varint(); count > 0; count--) compare.push(readCompare(reader));
  const success: TxnOp[] = [];
  for (let count = reader.varint(); count > 0; count--) success.push(readTxnOp(reader, depth));
  const failure: TxnOp[] = [];
  for (let count = reader.varint(); count > 0; count--) failure.push(readTxnOp(reader, depth));
  return { type: 'txn', compare, success, failure };
}

function readCompare(reader: ByteReader): Compare {
  const head = reader.u8();
  if ((head & ~(COMPARE_TARGET_MASK | (0b11 << COMPARE_RANGE_SHIFT) | COMPARE_HAS_RANGE_END)) !== 0) {
    throw corrupt(`unknown compare flag bits 0x${head.toString(16)}`);
  }
  const target = COMPARE_TARGETS[head & COMPARE_TARGET_MASK];
  if (target === undefined) throw corrupt(`unknown compare target ${head & COMPARE_TARGET_MASK}`);
  const range = COMPARE_RANGES[(head >> COMPARE_RANGE_SHIFT) & 0b11];
  if (range === undefined) throw corrupt(`unknown compare range ${(head >> COMPARE_RANGE_SHIFT) & 0b11}`);
  const op = readEnum(reader, COMPARE_OPS, 'compare op');
  const key = reader.string();
  // Canonical shape: optional fields appear only when set, so decode(encode(x)) deep-equals x.
  const where = {
    ...(range !== 'exact' ? { range } : {}),
    ...((head & COMPARE_HAS_RANGE_END) !== 0 ? { rangeEnd: reader.string() } : {}),
  };
  if (target === 'value') return { key, target, op, value: reader.bytes(), ...where };
  return { key, target, op, value: reader.varint(), ...where };
}

function readTxnOp(reader: ByteReader, depth: number): TxnOp {
  const tag = reader.u8();
  if (
    tag === CommandTag.put ||
    tag === CommandTag.delete ||
    tag === CommandTag.deleteRange ||
    tag === CommandTag.deleteInterval
  ) {
    return readWriteOp(reader, tag);
  }
  if (tag === CommandTag.txn) return readTxn(reader, depth + 1);
  if (tag !== RANGE_OP_TAG) throw corrupt(`unknown txn op tag ${tag}`);
  const range = readEnum(reader, RANGE_MODES, 'range mode');
  const flags = readFlags(reader, FLAG_KEYS_ONLY | FLAG_COUNT_ONLY | FLAG_RANGE_END, 'range');
  const key = reader.string();
  const rangeEnd = (flags & FLAG_RANGE_END) !== 0 ? reader.string() : undefined;
  const revision = reader.varint();
  const limit = reader.varint();
  // Canonical shape: optional fields appear only when set, so decode(encode(x)) deep-equals x.
  return {
    type: 'range',
    key,
    range,
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
    ...(revision > 0 ? { revision } : {}),
    ...(limit > 0 ? { limit } : {}),
    ...((flags & FLAG_KEYS_ONLY) !== 0 ? { keysOnly: true } : {}),
    ...((flags & FLAG_COUNT_ONLY) !== 0 ? { countOnly: true } : {}),
  };
}
