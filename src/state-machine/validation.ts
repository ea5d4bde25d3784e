/**
 * Structural validation of commands and reads, independent of the store's state. apply() runs it
 * before touching anything, so a rejected command changes nothing; the API layer may run it
 * before proposing to fail fast. Size limits (key/value/txn length) are the API layer's job.
 */
import { MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS } from './coordination.js';
import { invalidArgument, invalidPath, StateMachineError, StateMachineErrorCode } from './errors.js';
import { compareKeys, pathProblem } from './paths.js';
import type {
  CheckpointSessionsCommand,
  Command,
  Compare,
  CreateCommand,
  DeleteCommand,
  DeleteIntervalCommand,
  DeleteRangeCommand,
  RangeRequest,
  TxnCommand,
  TxnOp,
} from './types.js';

const RANGE_MODES: ReadonlySet<string> = new Set(['exact', 'prefix', 'children', 'interval']);
const COMPARE_RANGES: ReadonlySet<string> = new Set(['exact', 'prefix', 'interval']);
const COMPARE_OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '>']);
const NUMBER_TARGETS: ReadonlySet<string> = new Set(['version', 'createRevision', 'modRevision', 'lease']);

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

/** Throws INVALID_ARGUMENT unless `rangeEnd` is absent, or a string with the 'interval' mode. */
function requireRangeEnd(mode: string, rangeEnd: unknown, what: string): void {
  if (rangeEnd === undefined) return;
  if (mode !== 'interval')
    throw invalidArgument(`${what} rangeEnd is allowed only with the 'interval' range`);
  if (typeof rangeEnd !== 'string') throw invalidArgument(`${what} rangeEnd must be a string`);
}

/**
 * Throws INVALID_ARGUMENT unless `request` is a well-formed read. Prefix and interval reads may
 * start at '' (all keys).
 */
export function validateRangeRequest(request: RangeRequest): void {
  const mode = request.range ?? 'exact';
  if (!RANGE_MODES.has(mode))
    throw invalidArgument(`range must be 'exact', 'prefix', 'children' or 'interval', got '${mode}'`);
  if (mode === 'prefix' || mode === 'interval') {
    if (typeof request.key !== 'string') throw invalidArgument('range key must be a string');
  } else {
    requireKey(request.key, 'range key');
  }
  requireRangeEnd(mode, request.rangeEnd, 'range');
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
      requireOptionalBoolean(command.ignoreValue, 'put ignoreValue');
      requireOptionalBoolean(command.ignoreSession, 'put ignoreSession');
      if (command.ignoreValue === true && command.value.length > 0) {
        throw invalidArgument('put with ignoreValue must not carry a value (it keeps the current one)');
      }
      if (command.ignoreSession === true && command.session !== undefined) {
        throw invalidArgument('put with ignoreSession must not name a session (it keeps the current owner)');
      }
      return;
    case 'deleteInterval':
      if (typeof command.key !== 'string') throw invalidArgument('deleteInterval key must be a string');
      requireRangeEnd('interval', command.rangeEnd, 'deleteInterval');
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
      requireOptionalSessionId(command.sessionId, 'openSession sessionId');
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
  const range = compare.range ?? 'exact';
  if (!COMPARE_RANGES.has(range)) {
    throw invalidArgument(`compare range must be 'exact', 'prefix' or 'interval', got '${range}'`);
  }
  if (range === 'exact') requireKey(compare.key, 'compare key');
  else if (typeof compare.key !== 'string') throw invalidArgument('compare key must be a string');
  requireRangeEnd(range, compare.rangeEnd, 'compare');
  if (!COMPARE_OPS.has(compare.op))
    throw invalidArgument(`compare op must be =, !=, < or >, got '${compare.op}'`);
  if (compare.target === 'value') {
    requireBytes(compare.value, 'value compare operand');
  } else if (NUMBER_TARGETS.has(compare.target)) {
    requireCount(compare.value, `${compare.target} compare operand`);
    if (compare.value === undefined) throw invalidArgument(`${compare.target} compare needs a number`);
  } else {
    throw invalidArgument(`compare target must be value, version, createRevision, modRevision or lease`);
  }
}

/** Nested txns deeper than this are refused: decoding and running them recurses. */
export const MAX_TXN_DEPTH = 8;

function validateTxn(txn: TxnCommand, depth = 0): void {
  if (depth > MAX_TXN_DEPTH) throw invalidArgument(`txns may be nested at most ${MAX_TXN_DEPTH} deep`);
  for (const compare of txn.compare) validateCompare(compare);
  for (const op of txn.success) validateOp(op, depth);
  for (const op of txn.failure) validateOp(op, depth);
  checkBranchKeys(txn.success, 'success');
  checkBranchKeys(txn.failure, 'failure');
}

function validateOp(op: TxnOp, depth: number): void {
  if (op.type === 'range') validateRangeRequest(op);
  else if (op.type === 'txn') validateTxn(op, depth + 1);
  else if (
    op.type === 'put' ||
    op.type === 'delete' ||
    op.type === 'deleteRange' ||
    op.type === 'deleteInterval'
  )
    validateCommand(op);
  else throw invalidArgument(`unknown txn op type '${(op as { type: unknown }).type as string}'`);
}

/** Whether a delete op covers `key`. */
function deletes(op: DeleteCommand | DeleteRangeCommand | DeleteIntervalCommand, key: string): boolean {
  switch (op.type) {
    case 'delete':
      return op.key === key;
    case 'deleteRange':
      return key.startsWith(op.prefix);
    case 'deleteInterval':
      return (
        compareKeys(key, op.key) >= 0 && (op.rangeEnd === undefined || compareKeys(key, op.rangeEnd) < 0)
      );
  }
}

type DeleteOp = DeleteCommand | DeleteRangeCommand | DeleteIntervalCommand;

/**
 * Like etcd (checkIntervals), one branch may put each key once, and may not put a key that it
 * or a nested txn deletes: the outcome would depend on op order in a way clients rarely mean.
 * Deletes may overlap each other, and the two branches of a nested txn may put the same key
 * (only one of them runs). Returns the branch's puts and deletes, nested ones included.
 */
function checkBranchKeys(ops: readonly TxnOp[], branch: string): { puts: Set<string>; dels: DeleteOp[] } {
  const dels: DeleteOp[] = [];
  for (const op of ops) {
    if (op.type === 'delete' || op.type === 'deleteRange' || op.type === 'deleteInterval') dels.push(op);
  }
  const covered = (key: string): boolean => dels.some((op) => deletes(op, key));
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.type !== 'txn') continue;
    const then = checkBranchKeys(op.success, branch);
    const otherwise = checkBranchKeys(op.failure, branch);
    // Unlike etcd, a nested txn may not delete a key an earlier sibling put: one revision holds
    // one write per key here (etcd numbers the writes inside a revision; this store does not).
    const nestedDels = [...then.dels, ...otherwise.dels];
    for (const key of puts) if (nestedDels.some((del) => deletes(del, key))) throw duplicateKey(key, branch);
    for (const key of then.puts) {
      if (puts.has(key) || covered(key)) throw duplicateKey(key, branch);
      puts.add(key);
    }
    for (const key of otherwise.puts) {
      if ((puts.has(key) && !then.puts.has(key)) || covered(key)) throw duplicateKey(key, branch);
      puts.add(key);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (op.type !== 'put') continue;
    if (puts.has(op.key) || covered(op.key)) throw duplicateKey(op.key, branch);
    puts.add(op.key);
  }
  return { puts, dels };
}

function duplicateKey(key: string, branch: string): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.DuplicateKey,
    `duplicate key given in txn request: the ${branch} branch writes "${key}" more than once ` +
      `(each key may be put at most once and not also deleted in one txn)`,
    { key },
  );
}
