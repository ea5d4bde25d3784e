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
  Command,
  Compare,
  CompareOp,
  CompareTarget,
  RangeMode,
  RangeOp,
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
  { from: 16, to: 23, purpose: 'sessions (create, keep-alive, close, expire)' },
  { from: 24, to: 31, purpose: 'tree nodes (create with parents, ephemeral, sequential)' },
  { from: 32, to: 39, purpose: 'service registry (register, deregister, heartbeat)' },
  { from: 40, to: 47, purpose: 'health checks (check state changes)' },
];

const FLAG_PREV_KV = 0b01;
const FLAG_KEYS_ONLY = 0b01;
const FLAG_COUNT_ONLY = 0b10;

const RANGE_MODES: readonly RangeMode[] = ['exact', 'prefix', 'children'];
const COMPARE_TARGETS: readonly CompareTarget[] = ['value', 'version', 'createRevision', 'modRevision'];
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
  // Sizing a put up front spares a large value the buffer's repeated doubling.
  const putSize =
    command.type === 'put' && typeof command.key === 'string' && command.value instanceof Uint8Array
      ? 16 + command.key.length * 3 + command.value.length
      : 64;
  const writer = new ByteWriter(putSize);
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
      writeWriteOp(writer, command);
      break;
    default:
      throw invalidArgument(
        `cannot encode command of unknown type '${(command as { type: unknown }).type as string}'`,
      );
  }
  return writer.finish();
}

function writeWriteOp(writer: ByteWriter, op: Exclude<TxnOp, RangeOp>): void {
  writer.u8(CommandTag[op.type]);
  writer.u8(op.prevKv === true ? FLAG_PREV_KV : 0);
  if (op.type === 'deleteRange') {
    writer.string(requireString(op.prefix, 'deleteRange prefix'));
  } else {
    writer.string(requireString(op.key, `${op.type} key`));
  }
  if (op.type === 'put') writer.bytes(requireBytes(op.value, 'put value'));
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
  writer.u8(indexIn(COMPARE_TARGETS, compare.target, 'compare target'));
  writer.u8(indexIn(COMPARE_OPS, compare.op, 'compare op'));
  writer.string(requireString(compare.key, 'compare key'));
  if (compare.target === 'value') writer.bytes(requireBytes(compare.value, 'compare value'));
  else writer.varint(requireUint(compare.value, `${compare.target} compare operand`));
}

function writeTxnOp(writer: ByteWriter, op: TxnOp): void {
  if (op.type === 'put' || op.type === 'delete' || op.type === 'deleteRange') {
    writeWriteOp(writer, op);
    return;
  }
  if (op.type !== 'range') {
    throw invalidArgument(
      `cannot encode txn op of unknown type '${(op as { type: unknown }).type as string}'`,
    );
  }
  writer.u8(RANGE_OP_TAG);
  writer.u8(indexIn(RANGE_MODES, op.range ?? 'exact', 'range mode'));
  writer.u8((op.keysOnly === true ? FLAG_KEYS_ONLY : 0) | (op.countOnly === true ? FLAG_COUNT_ONLY : 0));
  writer.string(requireString(op.key, 'range key'));
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
      command = readWriteOp(reader, tag);
      break;
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

function readWriteOp(reader: ByteReader, tag: number): Exclude<TxnOp, RangeOp> {
  const prevKv = (readFlags(reader, FLAG_PREV_KV, 'write') & FLAG_PREV_KV) !== 0;
  const keyOrPrefix = reader.string();
  let op: Exclude<TxnOp, RangeOp>;
  if (tag === CommandTag.put) op = { type: 'put', key: keyOrPrefix, value: reader.bytes() };
  else if (tag === CommandTag.delete) op = { type: 'delete', key: keyOrPrefix };
  else op = { type: 'deleteRange', prefix: keyOrPrefix };
  return prevKv ? { ...op, prevKv: true } : op;
}

function readEnum<T>(reader: ByteReader, values: readonly T[], what: string): T {
  const index = reader.u8();
  const value = values[index];
  if (value === undefined) throw corrupt(`unknown ${what} ${index}`);
  return value;
}

function readTxn(reader: ByteReader): TxnCommand {
  // Counts come from untrusted bytes: grow arrays item by item (each item consumes input)
  // instead of preallocating a claimed length.
  const compare: Compare[] = [];
  for (let count = reader.varint(); count > 0; count--) compare.push(readCompare(reader));
  const success: TxnOp[] = [];
  for (let count = reader.varint(); count > 0; count--) success.push(readTxnOp(reader));
  const failure: TxnOp[] = [];
  for (let count = reader.varint(); count > 0; count--) failure.push(readTxnOp(reader));
  return { type: 'txn', compare, success, failure };
}

function readCompare(reader: ByteReader): Compare {
  const target = readEnum(reader, COMPARE_TARGETS, 'compare target');
  const op = readEnum(reader, COMPARE_OPS, 'compare op');
  const key = reader.string();
  if (target === 'value') return { key, target, op, value: reader.bytes() };
  return { key, target, op, value: reader.varint() };
}

function readTxnOp(reader: ByteReader): TxnOp {
  const tag = reader.u8();
  if (tag === CommandTag.put || tag === CommandTag.delete || tag === CommandTag.deleteRange) {
    return readWriteOp(reader, tag);
  }
  if (tag !== RANGE_OP_TAG) throw corrupt(`unknown txn op tag ${tag}`);
  const range = readEnum(reader, RANGE_MODES, 'range mode');
  const flags = readFlags(reader, FLAG_KEYS_ONLY | FLAG_COUNT_ONLY, 'range');
  const key = reader.string();
  const revision = reader.varint();
  const limit = reader.varint();
  // Canonical shape: optional fields appear only when set, so decode(encode(x)) deep-equals x.
  return {
    type: 'range',
    key,
    range,
    ...(revision > 0 ? { revision } : {}),
    ...(limit > 0 ? { limit } : {}),
    ...((flags & FLAG_KEYS_ONLY) !== 0 ? { keysOnly: true } : {}),
    ...((flags & FLAG_COUNT_ONLY) !== 0 ? { countOnly: true } : {}),
  };
}
