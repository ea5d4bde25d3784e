/**
 * etcd KV requests (Range, Put, DeleteRange, Txn, Compact) turned into raftree reads and
 * commands, with etcd's own checks and error messages (clients match on them), before anything
 * is proposed. Keys arrive as bytes; stored keys are strings, so byte ranges become string
 * ranges with exactly the same members (see key-bytes.ts).
 */
import type { RequestLimits } from '../node/node-config.js';
import type {
  Compare,
  CompareOp,
  DeleteCommand,
  DeleteIntervalCommand,
  DeleteRangeCommand,
  PutCommand,
  RangeRequest,
  TxnCommand,
  TxnOp,
} from '../state-machine/index.js';
import { EtcdError, EtcdErrors } from './errors.js';
import { decodeKey, etcdRange, type EtcdKeyRange } from './key-bytes.js';
import {
  CompareResult,
  CompareTarget,
  SortOrder,
  SortTarget,
  type CompareWire,
  type DeleteRangeRequestWire,
  type PutRequestWire,
  type RangeRequestWire,
  type RequestOpWire,
  type TxnRequestWire,
} from './wire-types.js';
import * as grpc from '@grpc/grpc-js';

// --- Field readers ------------------------------------------------------------------------------

function invalid(message: string): EtcdError {
  return new EtcdError(grpc.status.INVALID_ARGUMENT, message);
}

/** An int64 field (proto-loader gives strings); raftree's revisions and ids stay below 2^53. */
export function int64(value: unknown, what: string): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw invalid(`raftree: ${what} must be an integer of magnitude below 2^53, got ${String(value)}`);
  }
  return n;
}

function bytesOf(value: unknown): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(0);
}

/** A lease id: 0 for none, otherwise a raftree session id (a positive integer below 2^53). */
export function leaseIdOf(value: unknown, what = 'lease'): number {
  const id = int64(value, what);
  if (id < 0) throw invalid(`raftree: ${what} must not be negative, got ${id}`);
  return id;
}

/** A key to write: UTF-8 (raftree stores keys as text) and within the key size limit. */
function writableKey(bytes: Uint8Array, limits: RequestLimits): string {
  if (bytes.length === 0) throw EtcdErrors.emptyKey;
  if (bytes.length > limits.maxKeyBytes) throw EtcdErrors.requestTooLarge;
  const key = decodeKey(bytes);
  if (key === undefined) {
    throw invalid('raftree: keys must be valid UTF-8 (raftree stores keys as text; etcd allows any bytes)');
  }
  return key;
}

// --- Ranges -------------------------------------------------------------------------------------

/** Where a key range starts and ends as a raftree range read (no key matches an empty interval). */
export function rangeSelector(range: EtcdKeyRange): Pick<RangeRequest, 'key' | 'range' | 'rangeEnd'> {
  switch (range.kind) {
    case 'single':
      return range.key === undefined
        ? { key: '', range: 'interval', rangeEnd: '' }
        : { key: range.key, range: 'exact' };
    case 'prefix':
      return range.prefix === '' ? { key: '', range: 'interval' } : { key: range.prefix, range: 'prefix' };
    case 'interval':
      return range.end === undefined
        ? { key: range.start, range: 'interval' }
        : { key: range.start, range: 'interval', rangeEnd: range.end };
    case 'empty':
      return { key: '', range: 'interval', rangeEnd: '' };
  }
}

/** How a Range's results are filtered, sorted and cut after the read (etcd does the same). */
export interface RangeShaping {
  readonly sortOrder: number;
  readonly sortTarget: number;
  readonly limit: number;
  readonly minModRevision: number;
  readonly maxModRevision: number;
  readonly minCreateRevision: number;
  readonly maxCreateRevision: number;
}

export interface EtcdRange {
  readonly request: RangeRequest;
  readonly serializable: boolean;
  /** Present when the read must fetch every match and filter / sort / cut it afterwards. */
  readonly shaping?: RangeShaping;
}

function enumOf(value: unknown, allowed: Readonly<Record<string, number>>, what: string): number {
  const n = typeof value === 'number' ? value : 0;
  if (!Object.values(allowed).includes(n)) {
    throw invalid(`raftree: ${what} ${String(value)} is not one of ${Object.keys(allowed).join(', ')}`);
  }
  return n;
}

export function toRange(wire: RangeRequestWire): EtcdRange {
  const key = bytesOf(wire.key);
  if (key.length === 0) throw EtcdErrors.emptyKey;
  const selector = rangeSelector(etcdRange(key, bytesOf(wire.range_end)));
  const limit = Math.max(0, int64(wire.limit, 'limit'));
  const revision = Math.max(0, int64(wire.revision, 'revision'));
  const shaping: RangeShaping = {
    sortOrder: enumOf(wire.sort_order, SortOrder, 'sort_order'),
    sortTarget: enumOf(wire.sort_target, SortTarget, 'sort_target'),
    limit,
    minModRevision: int64(wire.min_mod_revision, 'min_mod_revision'),
    maxModRevision: int64(wire.max_mod_revision, 'max_mod_revision'),
    minCreateRevision: int64(wire.min_create_revision, 'min_create_revision'),
    maxCreateRevision: int64(wire.max_create_revision, 'max_create_revision'),
  };
  const needsShaping =
    shaping.sortOrder !== SortOrder.NONE ||
    shaping.sortTarget !== SortTarget.KEY ||
    shaping.minModRevision !== 0 ||
    shaping.maxModRevision !== 0 ||
    shaping.minCreateRevision !== 0 ||
    shaping.maxCreateRevision !== 0;
  const request: RangeRequest = {
    ...selector,
    ...(revision > 0 ? { revision } : {}),
    // Shaped reads fetch everything first and cut afterwards, as etcd does.
    ...(limit > 0 && !needsShaping ? { limit } : {}),
    ...(wire.keys_only === true ? { keysOnly: true } : {}),
    ...(wire.count_only === true ? { countOnly: true } : {}),
  };
  return {
    request,
    serializable: wire.serializable === true,
    ...(needsShaping ? { shaping } : {}),
  };
}

// --- Writes -------------------------------------------------------------------------------------

export function toPut(wire: PutRequestWire, limits: RequestLimits): PutCommand {
  const key = writableKey(bytesOf(wire.key), limits);
  const value = bytesOf(wire.value);
  if (value.length > limits.maxValueBytes) throw EtcdErrors.requestTooLarge;
  const lease = leaseIdOf(wire.lease);
  const ignoreValue = wire.ignore_value === true;
  const ignoreLease = wire.ignore_lease === true;
  if (ignoreValue && value.length > 0) throw EtcdErrors.valueProvided;
  if (ignoreLease && lease !== 0) throw EtcdErrors.leaseProvided;
  return {
    type: 'put',
    key,
    value,
    ...(lease !== 0 ? { session: lease } : {}),
    ...(wire.prev_kv === true ? { prevKv: true } : {}),
    ...(ignoreValue ? { ignoreValue: true } : {}),
    ...(ignoreLease ? { ignoreSession: true } : {}),
  };
}

export function toDelete(
  wire: DeleteRangeRequestWire,
): DeleteCommand | DeleteRangeCommand | DeleteIntervalCommand {
  const key = bytesOf(wire.key);
  if (key.length === 0) throw EtcdErrors.emptyKey;
  const prevKv = wire.prev_kv === true ? { prevKv: true } : {};
  const range = etcdRange(key, bytesOf(wire.range_end));
  switch (range.kind) {
    case 'single':
      // A key that is not UTF-8 cannot exist: an empty interval deletes nothing.
      return range.key === undefined
        ? { type: 'deleteInterval', key: '', rangeEnd: '', ...prevKv }
        : { type: 'delete', key: range.key, ...prevKv };
    case 'prefix':
      return range.prefix === ''
        ? { type: 'deleteInterval', key: '', ...prevKv }
        : { type: 'deleteRange', prefix: range.prefix, ...prevKv };
    case 'interval':
      return range.end === undefined
        ? { type: 'deleteInterval', key: range.start, ...prevKv }
        : { type: 'deleteInterval', key: range.start, rangeEnd: range.end, ...prevKv };
    case 'empty':
      return { type: 'deleteInterval', key: '', rangeEnd: '', ...prevKv };
  }
}

// --- Txn ----------------------------------------------------------------------------------------

const COMPARE_OPS: Readonly<Record<number, CompareOp>> = {
  [CompareResult.EQUAL]: '=',
  [CompareResult.GREATER]: '>',
  [CompareResult.LESS]: '<',
  [CompareResult.NOT_EQUAL]: '!=',
};

function toCompare(wire: CompareWire): Compare {
  const op = COMPARE_OPS[typeof wire.result === 'number' ? wire.result : -1];
  if (op === undefined) throw invalid(`raftree: compare result ${String(wire.result)} is not known`);
  const selector = rangeSelector(etcdRange(bytesOf(wire.key), bytesOf(wire.range_end)));
  const where = {
    key: selector.key,
    ...(selector.range !== 'exact' ? { range: selector.range as 'prefix' | 'interval' } : {}),
    ...(selector.rangeEnd !== undefined ? { rangeEnd: selector.rangeEnd } : {}),
  };
  // The operand is the oneof member named by the target; another member (or none) reads as 0,
  // as in etcd.
  const operands = wire as unknown as Readonly<Record<string, unknown>>;
  const number = (value: unknown, what: string): number => {
    const n = int64(value, what);
    if (n < 0) throw invalid(`raftree: compare ${what} must not be negative, got ${n}`);
    return n;
  };
  switch (wire.target) {
    case CompareTarget.VERSION:
      return { ...where, target: 'version', op, value: number(operands['version'], 'version') };
    case CompareTarget.CREATE:
      return {
        ...where,
        target: 'createRevision',
        op,
        value: number(operands['create_revision'], 'create_revision'),
      };
    case CompareTarget.MOD:
      return { ...where, target: 'modRevision', op, value: number(operands['mod_revision'], 'mod_revision') };
    case CompareTarget.LEASE:
      return { ...where, target: 'lease', op, value: number(operands['lease'], 'lease') };
    case CompareTarget.VALUE:
      return { ...where, target: 'value', op, value: bytesOf(operands['value']) };
    default:
      throw invalid(`raftree: compare target ${String(wire.target)} is not known`);
  }
}

/** A txn op and, for a range op, how its result is shaped (parallel to the op list). */
export interface TxnPlanWire {
  readonly command: TxnCommand;
  /** Per branch op: the range's shaping, a nested txn's plan, or undefined. */
  readonly success: readonly (RangeShaping | TxnPlanWire | undefined)[];
  readonly failure: readonly (RangeShaping | TxnPlanWire | undefined)[];
}

function toOp(
  wire: RequestOpWire,
  limits: RequestLimits,
): { op: TxnOp; shape: RangeShaping | TxnPlanWire | undefined } {
  switch (wire.request) {
    case 'request_range': {
      const range = toRange(wire.request_range);
      return { op: { type: 'range', ...range.request }, shape: range.shaping };
    }
    case 'request_put':
      return { op: toPut(wire.request_put, limits), shape: undefined };
    case 'request_delete_range':
      return { op: toDelete(wire.request_delete_range), shape: undefined };
    case 'request_txn': {
      const plan = toTxn(wire.request_txn, limits);
      return { op: plan.command, shape: plan };
    }
    case undefined:
      break;
  }
  throw invalid('raftree: a txn op names no request (set one of request_range, request_put, ...)');
}

export function toTxn(wire: TxnRequestWire, limits: RequestLimits): TxnPlanWire {
  const compares = wire.compare ?? [];
  const successOps = wire.success ?? [];
  const failureOps = wire.failure ?? [];
  if (
    compares.length > limits.maxTxnOps ||
    successOps.length > limits.maxTxnOps ||
    failureOps.length > limits.maxTxnOps
  ) {
    throw EtcdErrors.tooManyOps;
  }
  const success = successOps.map((op) => toOp(op, limits));
  const failure = failureOps.map((op) => toOp(op, limits));
  return {
    command: {
      type: 'txn',
      compare: compares.map(toCompare),
      success: success.map((s) => s.op),
      failure: failure.map((s) => s.op),
    },
    success: success.map((s) => s.shape),
    failure: failure.map((s) => s.shape),
  };
}

export function toCompactRevision(revision: unknown): number {
  const n = int64(revision, 'revision');
  if (n <= 0) throw invalid(`raftree: compaction revision must be positive, got ${n}`);
  return n;
}
