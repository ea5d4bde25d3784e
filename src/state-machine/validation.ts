/**
 * Structural validation of commands and reads, independent of the store's state. apply() runs it
 * before touching anything, so a rejected command changes nothing; the API layer may run it
 * before proposing to fail fast. Size limits (key/value/txn length) are the API layer's job.
 */
import { invalidArgument, StateMachineError, StateMachineErrorCode } from './errors.js';
import type { Command, Compare, RangeRequest, TxnCommand, TxnOp } from './types.js';

const RANGE_MODES: ReadonlySet<string> = new Set(['exact', 'prefix', 'children']);
const COMPARE_OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '>']);
const NUMBER_TARGETS: ReadonlySet<string> = new Set(['version', 'createRevision', 'modRevision']);

function requireKey(key: unknown, what: string): void {
  if (typeof key !== 'string') throw invalidArgument(`${what} must be a string`);
  if (key.length === 0) throw invalidArgument(`${what} must not be empty`);
}

function requireCount(value: unknown, what: string): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) {
    throw invalidArgument(`${what} must be a non-negative integer, got ${String(value)}`);
  }
}

function requireBytes(value: unknown, what: string): void {
  if (!(value instanceof Uint8Array)) throw invalidArgument(`${what} must be a Uint8Array`);
}

/** Throws INVALID_ARGUMENT unless `request` is a well-formed read. A prefix read may use '' (all keys). */
export function validateRangeRequest(request: RangeRequest): void {
  const mode = request.range ?? 'exact';
  if (!RANGE_MODES.has(mode))
    throw invalidArgument(`range must be 'exact', 'prefix' or 'children', got '${mode}'`);
  if (mode === 'prefix') {
    if (typeof request.key !== 'string') throw invalidArgument('range key must be a string');
  } else {
    requireKey(request.key, 'range key');
  }
  requireCount(request.revision, 'range revision');
  requireCount(request.limit, 'range limit');
}

/** Throws a typed error (INVALID_ARGUMENT, DUPLICATE_KEY) unless `command` is well-formed. */
export function validateCommand(command: Command): void {
  switch (command.type) {
    case 'put':
      requireKey(command.key, 'put key');
      requireBytes(command.value, 'put value');
      return;
    case 'delete':
      requireKey(command.key, 'delete key');
      return;
    case 'deleteRange':
      requireKey(
        command.prefix,
        'deleteRange prefix (use a non-empty prefix; deleting every key is not allowed)',
      );
      return;
    case 'txn':
      validateTxn(command);
      return;
    case 'compact':
      if (!Number.isSafeInteger(command.revision) || command.revision < 1) {
        throw invalidArgument(`compact revision must be a positive integer, got ${command.revision}`);
      }
      return;
    case 'noop':
      return;
    default:
      throw invalidArgument(`unknown command type '${(command as { type: unknown }).type as string}'`);
  }
}

function validateCompare(compare: Compare): void {
  requireKey(compare.key, 'compare key');
  if (!COMPARE_OPS.has(compare.op))
    throw invalidArgument(`compare op must be =, !=, < or >, got '${compare.op}'`);
  if (compare.target === 'value') {
    requireBytes(compare.value, 'value compare operand');
  } else if (NUMBER_TARGETS.has(compare.target)) {
    requireCount(compare.value, `${compare.target} compare operand`);
    if (compare.value === undefined) throw invalidArgument(`${compare.target} compare needs a number`);
  } else {
    throw invalidArgument(`compare target must be value, version, createRevision or modRevision`);
  }
}

function validateTxn(txn: TxnCommand): void {
  for (const compare of txn.compare) validateCompare(compare);
  validateBranch(txn.success, 'success');
  validateBranch(txn.failure, 'failure');
}

function validateOp(op: TxnOp): void {
  if (op.type === 'range') validateRangeRequest(op);
  else if (op.type === 'put' || op.type === 'delete' || op.type === 'deleteRange') validateCommand(op);
  else throw invalidArgument(`unknown txn op type '${(op as { type: unknown }).type as string}'`);
}

/**
 * Like etcd, a branch may put each key once, and may not put a key it also deletes: the outcome
 * would depend on op order in a way clients rarely mean. Deletes may overlap each other.
 */
function validateBranch(ops: readonly TxnOp[], branch: string): void {
  const putKeys = new Set<string>();
  const deletedKeys = new Set<string>();
  const deletedPrefixes: string[] = [];
  for (const op of ops) {
    validateOp(op);
    if (op.type === 'put') {
      if (putKeys.has(op.key)) throw duplicateKey(op.key, branch);
      putKeys.add(op.key);
    } else if (op.type === 'delete') {
      deletedKeys.add(op.key);
    } else if (op.type === 'deleteRange') {
      deletedPrefixes.push(op.prefix);
    }
  }
  for (const key of putKeys) {
    if (deletedKeys.has(key) || deletedPrefixes.some((prefix) => key.startsWith(prefix))) {
      throw duplicateKey(key, branch);
    }
  }
}

function duplicateKey(key: string, branch: string): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.DuplicateKey,
    `duplicate key given in txn request: the ${branch} branch writes "${key}" more than once ` +
      `(each key may be put at most once and not also deleted in one txn)`,
    { key },
  );
}
