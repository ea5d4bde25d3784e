/**
 * Turns untrusted wire requests into state-machine commands and reads, enforcing the request
 * limits on the way. Everything is checked BEFORE proposing, so nothing invalid reaches the
 * log; each refusal says what was wrong and what to do instead.
 */
import { Buffer } from 'node:buffer';
import type { RequestLimits } from '../node/node-config.js';
import {
  StateMachineError,
  validateCommand,
  type Command,
  type Compare,
  type CompareOp,
  type DeleteCommand,
  type DeleteRangeCommand,
  type PutCommand,
  type RangeMode,
  type RangeRequest,
  type TxnCommand,
  type TxnOp,
  type WatchOptions,
} from '../state-machine/index.js';
import { fromStateMachineError, invalidArgument, tooLarge } from './errors.js';
import { bytes, flag, integer, text } from './field-readers.js';
import type {
  CompareWire,
  DeleteRequestWire,
  PutRequestWire,
  RangeRequestWire,
  RequestOpWire,
  TxnRequestWire,
  WatchCreateRequestWire,
} from './wire-types.js';

// --- Field readers (the basic ones are in field-readers.ts) ---------------------------------------

function nonNegative(value: unknown, what: string): number {
  const n = integer(value, what);
  if (n < 0) throw invalidArgument(`${what} must not be negative, got ${n}`);
  return n;
}

function enumValue<T>(value: unknown, values: readonly T[], names: readonly string[], what: string): T {
  const index = integer(value, what);
  const found = values[index];
  if (found === undefined) {
    throw invalidArgument(`${what} ${index} is not one of ${names.map((n, i) => `${n} (${i})`).join(', ')}`);
  }
  return found;
}

// --- Keys and paths -----------------------------------------------------------------------------

/** A key quoted for a message: long keys are cut so the message stays readable. */
export function quoteKey(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key);
}

function checkKey(key: string, what: string, limits: RequestLimits, allowEmpty = false): void {
  if (key.length === 0 && !allowEmpty)
    throw invalidArgument(`${what} is empty: give a key, e.g. "/app/config"`);
  // Cheap bound first: a UTF-16 string encodes to at most 3 bytes per code unit.
  if (key.length * 3 > limits.maxKeyBytes) {
    const size = Buffer.byteLength(key, 'utf8');
    if (size > limits.maxKeyBytes) {
      throw invalidArgument(
        `${what} is ${size} bytes (UTF-8); keys may be at most ${limits.maxKeyBytes} bytes`,
      );
    }
  }
}

/**
 * A path whose children can be listed: `/`, or `/`-separated names with a leading `/`, no empty
 * segment and no trailing `/` (so `/a` and `/a/` cannot name the same parent two ways).
 */
export function checkChildrenPath(path: string, what: string): void {
  if (path === '/') return;
  const fix = 'CHILDREN needs a path like "/services/web" (or "/" for the root)';
  if (!path.startsWith('/'))
    throw invalidArgument(`${what} ${quoteKey(path)} does not start with '/': ${fix}`);
  if (path.endsWith('/')) throw invalidArgument(`${what} ${quoteKey(path)} ends with '/': ${fix}`);
  if (path.includes('//'))
    throw invalidArgument(`${what} ${quoteKey(path)} has an empty segment ('//'): ${fix}`);
}

function checkValue(value: Uint8Array, what: string, limits: RequestLimits): void {
  if (value.length > limits.maxValueBytes) {
    throw tooLarge(`${what} is ${value.length} bytes; values may be at most ${limits.maxValueBytes} bytes`);
  }
}

const RANGE_MODES: readonly RangeMode[] = ['exact', 'prefix', 'children'];
const RANGE_MODE_NAMES = ['EXACT', 'PREFIX', 'CHILDREN'];

function keyAndMode(
  wireKey: unknown,
  wireMode: unknown,
  what: string,
  limits: RequestLimits,
): [string, RangeMode] {
  const mode = enumValue(wireMode, RANGE_MODES, RANGE_MODE_NAMES, `${what} mode`);
  const key = text(wireKey, `${what} key`);
  // A prefix of '' means every key, which a read or a watch may ask for.
  checkKey(key, `${what} key`, limits, mode === 'prefix');
  if (mode === 'children') checkChildrenPath(key, `${what} key`);
  return [key, mode];
}

// --- Reads --------------------------------------------------------------------------------------

export interface ValidatedRange {
  readonly request: RangeRequest;
  readonly serializable: boolean;
}

export function toRangeRequest(
  wire: RangeRequestWire,
  limits: RequestLimits,
  what = 'range',
): ValidatedRange {
  const [key, range] = keyAndMode(wire.key, wire.mode, what, limits);
  const revision = nonNegative(wire.revision, `${what} revision`);
  const limit = nonNegative(wire.limit, `${what} limit`);
  const keysOnly = flag(wire.keysOnly, `${what} keys_only`);
  const countOnly = flag(wire.countOnly, `${what} count_only`);
  const request: RangeRequest = {
    key,
    range,
    ...(revision > 0 ? { revision } : {}),
    ...(limit > 0 ? { limit } : {}),
    ...(keysOnly ? { keysOnly } : {}),
    ...(countOnly ? { countOnly } : {}),
  };
  return { request, serializable: flag(wire.serializable, `${what} serializable`) };
}

// --- Writes -------------------------------------------------------------------------------------

export function toPutCommand(wire: PutRequestWire, limits: RequestLimits, what = 'put'): PutCommand {
  const key = text(wire.key, `${what} key`);
  checkKey(key, `${what} key`, limits);
  const value = bytes(wire.value, `${what} value`);
  checkValue(value, `${what} value for ${quoteKey(key)}`, limits);
  return flag(wire.prevKv, `${what} prev_kv`)
    ? { type: 'put', key, value, prevKv: true }
    : { type: 'put', key, value };
}

export function toDeleteCommand(
  wire: DeleteRequestWire,
  limits: RequestLimits,
  what = 'delete',
): DeleteCommand | DeleteRangeCommand {
  const key = text(wire.key, `${what} key`);
  const prefix = flag(wire.prefix, `${what} prefix`);
  const prevKv = flag(wire.prevKv, `${what} prev_kv`);
  if (prefix && key.length === 0) {
    throw invalidArgument(
      `${what} with an empty prefix would delete every key and is refused; give a non-empty prefix (e.g. "/app/")`,
    );
  }
  checkKey(key, `${what} key`, limits);
  const command: DeleteCommand | DeleteRangeCommand = prefix
    ? { type: 'deleteRange', prefix: key }
    : { type: 'delete', key };
  return prevKv ? { ...command, prevKv: true } : command;
}

export function toCompactRevision(wireRevision: unknown): number {
  const revision = integer(wireRevision, 'compact revision');
  if (revision < 1) {
    throw invalidArgument(
      `compact revision must be a positive revision (history before it is dropped), got ${revision}`,
    );
  }
  return revision;
}

// --- Txn ----------------------------------------------------------------------------------------

const COMPARE_TARGETS: readonly Compare['target'][] = ['value', 'version', 'createRevision', 'modRevision'];
const COMPARE_TARGET_NAMES = ['VALUE', 'VERSION', 'CREATE_REVISION', 'MOD_REVISION'];
const COMPARE_OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];
const COMPARE_OP_NAMES = ['EQUAL', 'NOT_EQUAL', 'LESS', 'GREATER'];

function toCompare(wire: CompareWire, limits: RequestLimits, what: string): Compare {
  if (wire === null || typeof wire !== 'object') throw invalidArgument(`${what} is missing`);
  const key = text(wire.key, `${what} key`);
  checkKey(key, `${what} key`, limits);
  const target = enumValue(wire.target, COMPARE_TARGETS, COMPARE_TARGET_NAMES, `${what} target`);
  const op = enumValue(wire.result, COMPARE_OPS, COMPARE_OP_NAMES, `${what} result`);
  if (target === 'value') {
    const value = bytes(wire.value, `${what} value`);
    checkValue(value, `${what} value`, limits);
    return { key, target, op, value };
  }
  return { key, target, op, value: nonNegative(wire.number, `${what} number`) };
}

function toTxnOp(wire: RequestOpWire, limits: RequestLimits, what: string): TxnOp {
  if (wire === null || typeof wire !== 'object') throw invalidArgument(`${what} is missing`);
  switch (wire.request) {
    case 'range':
      if (wire.range)
        return { type: 'range', ...toRangeRequest(wire.range, limits, `${what} range`).request };
      break;
    case 'put':
      if (wire.put) return toPutCommand(wire.put, limits, `${what} put`);
      break;
    case 'delete':
      if (wire.delete) return toDeleteCommand(wire.delete, limits, `${what} delete`);
      break;
  }
  throw invalidArgument(`${what} is empty: set one of range, put or delete`);
}

function list<T>(value: unknown, what: string, limits: RequestLimits): readonly T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidArgument(`${what} must be a list`);
  if (value.length > limits.maxTxnOps) {
    throw invalidArgument(
      `txn has ${value.length} ${what}; at most ${limits.maxTxnOps} are allowed in each of compare, success and failure`,
    );
  }
  return value as T[];
}

export function toTxnCommand(wire: TxnRequestWire, limits: RequestLimits): TxnCommand {
  const compares = list<CompareWire>(wire.compare, 'compares', limits);
  const success = list<RequestOpWire>(wire.success, 'success ops', limits);
  const failure = list<RequestOpWire>(wire.failure, 'failure ops', limits);
  const command: TxnCommand = {
    type: 'txn',
    compare: compares.map((c, i) => toCompare(c, limits, `txn compare #${i + 1}`)),
    success: success.map((op, i) => toTxnOp(op, limits, `txn success op #${i + 1}`)),
    failure: failure.map((op, i) => toTxnOp(op, limits, `txn failure op #${i + 1}`)),
  };
  checkCommand(command);
  return command;
}

/** The state machine's own structural checks (duplicate keys in a txn branch...), before proposing. */
export function checkCommand(command: Command): void {
  try {
    validateCommand(command);
  } catch (error) {
    throw error instanceof StateMachineError ? fromStateMachineError(error) : error;
  }
}

// --- Watch --------------------------------------------------------------------------------------

export interface ValidatedWatch {
  readonly options: WatchOptions;
  readonly progressNotify: boolean;
  /** 0: the server chooses. */
  readonly watchId: number;
}

export function toWatchOptions(wire: WatchCreateRequestWire, limits: RequestLimits): ValidatedWatch {
  const [key, range] = keyAndMode(wire.key, wire.mode, 'watch', limits);
  const startRevision = nonNegative(wire.startRevision, 'watch start_revision');
  const prevKv = flag(wire.prevKv, 'watch prev_kv');
  return {
    options: { key, range, ...(startRevision > 0 ? { startRevision } : {}), ...(prevKv ? { prevKv } : {}) },
    progressNotify: flag(wire.progressNotify, 'watch progress_notify'),
    watchId: nonNegative(wire.watchId, 'watch_id'),
  };
}

// --- Cluster ------------------------------------------------------------------------------------

const MEMBER_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function toMemberId(value: unknown, what: string): string {
  const id = text(value, what);
  if (id.length === 0) throw invalidArgument(`${what} is empty: name the member, e.g. "n4"`);
  if (!MEMBER_ID.test(id)) {
    throw invalidArgument(
      `${what} ${quoteKey(id)} may contain only letters, digits, '_', '.' and '-' (at most 64)`,
    );
  }
  return id;
}

export function toMemberAddress(value: unknown): string {
  const address = text(value, 'member address');
  if (address.length === 0)
    throw invalidArgument('member address is required: give HOST:PORT, e.g. "10.0.0.4:7001"');
  const match = /^([^\s:][^\s]*):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port > 0 && port <= 65535)) {
    throw invalidArgument(`member address ${quoteKey(address)} is not HOST:PORT (e.g. "10.0.0.4:7001")`);
  }
  return address;
}
