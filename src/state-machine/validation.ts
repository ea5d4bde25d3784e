/**
 * Structural validation of commands and reads, independent of the store's state. apply() runs it
 * before touching anything, so a rejected command changes nothing; the API layer may run it
 * before proposing to fail fast. Size limits (key/value/txn length) are the API layer's job.
 */
import { MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS } from './coordination.js';
import { invalidArgument, invalidPath, StateMachineError, StateMachineErrorCode } from './errors.js';
import { pathProblem } from './paths.js';
import type {
  CheckpointSessionsCommand,
  Command,
  Compare,
  CreateCommand,
  RangeRequest,
  TxnCommand,
  TxnOp,
} from './types.js';

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

function requireSessionId(value: unknown, what: string, hint = 'a session id'): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidArgument(`${what} must be a positive integer (${hint}), got ${String(value)}`);
  }
}

function requireOptionalSessionId(value: unknown, what: string): void {
  if (value !== undefined) requireSessionId(value, what, 'a session id; omit it for a persistent key');
}

function requireOptionalBoolean(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw invalidArgument(`${what} must be a boolean`);
}

/** Throws INVALID_PATH unless `path` is a well-formed absolute node path. */
function requirePath(path: unknown, what: string): void {
  if (typeof path !== 'string') throw invalidArgument(`${what} must be a string`);
  const problem = pathProblem(path);
  if (problem !== undefined) throw invalidPath(path, problem);
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
      requireOptionalSessionId(command.session, 'put session');
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
    case 'openSession':
      if (
        typeof command.ttlMs !== 'number' ||
        !Number.isSafeInteger(command.ttlMs) ||
        command.ttlMs < MIN_SESSION_TTL_MS ||
        command.ttlMs > MAX_SESSION_TTL_MS
      ) {
        throw invalidArgument(
          `session TTL must be an integer number of milliseconds from ${MIN_SESSION_TTL_MS} to ` +
            `${MAX_SESSION_TTL_MS} (1 s to 1 h), got ${String(command.ttlMs)}`,
        );
      }
      return;
    case 'closeSession':
      requireSessionId(command.sessionId, 'closeSession sessionId');
      if (command.reason !== 'closed' && command.reason !== 'expired') {
        throw invalidArgument(
          `closeSession reason must be 'closed' or 'expired', got '${String(command.reason)}'`,
        );
      }
      return;
    case 'checkpointSessions':
      validateCheckpoint(command);
      return;
    case 'create':
      validateCreate(command);
      return;
    case 'deleteNode':
      requirePath(command.path, 'deleteNode path');
      requireCount(command.expectedVersion, 'deleteNode expectedVersion');
      return;
    default:
      throw invalidArgument(`unknown command type '${(command as { type: unknown }).type as string}'`);
  }
}

function validateCheckpoint(command: CheckpointSessionsCommand): void {
  if (!Array.isArray(command.sessions)) throw invalidArgument('checkpointSessions sessions must be an array');
  const seen = new Set<number>();
  for (const entry of command.sessions) {
    if (typeof entry !== 'object' || entry === null) {
      throw invalidArgument('checkpointSessions entries must be { sessionId, remainingMs } objects');
    }
    requireSessionId(entry.sessionId, 'checkpoint sessionId');
    if (
      typeof entry.remainingMs !== 'number' ||
      !Number.isSafeInteger(entry.remainingMs) ||
      entry.remainingMs < 0
    ) {
      throw invalidArgument(
        `checkpoint remainingMs of session ${entry.sessionId} must be a non-negative integer, got ${String(entry.remainingMs)}`,
      );
    }
    if (seen.has(entry.sessionId)) {
      throw invalidArgument(`checkpointSessions lists session ${entry.sessionId} more than once`);
    }
    seen.add(entry.sessionId);
  }
}

function validateCreate(command: CreateCommand): void {
  requireOptionalBoolean(command.sequential, 'create sequential');
  requireOptionalBoolean(command.parents, 'create parents');
  if (typeof command.path !== 'string') throw invalidArgument('create path must be a string');
  // A sequential create's path gets a digit suffix, so it is checked with one (`/queue/` is fine).
  const problem = pathProblem(command.sequential === true ? `${command.path}0` : command.path);
  if (problem !== undefined) throw invalidPath(command.path, problem);
  requireBytes(command.value, 'create value');
  requireOptionalSessionId(command.session, 'create session');
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
