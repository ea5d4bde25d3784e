/**
 * Transactions: evaluate the compares against the committed state, then run one branch as a
 * single write batch (one revision at most). Every state-dependent check (a range op's revision)
 * runs before the first write, so a failing txn leaves no trace.
 */
import { LATEST, type MvccStore, type WriteBatch } from './mvcc-store.js';
import { beforeEnd, readRange } from './range-read.js';
import { keyNotFound } from './errors.js';
import type {
  Compare,
  DeleteResult,
  KeyChange,
  KeyValue,
  PutCommand,
  TxnCommand,
  TxnOp,
  TxnOpResult,
  TxnResult,
} from './types.js';

/** Unsigned lexicographic byte order (shorter first on a shared prefix), as etcd compares values. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** The live key-values a compare looks at (see CompareRange). */
function compareSubjects(store: MvccStore, compare: Compare): KeyValue[] {
  switch (compare.range ?? 'exact') {
    case 'exact': {
      const kv = store.visibleAt(compare.key, LATEST);
      return kv === undefined ? [] : [kv];
    }
    case 'prefix':
      return liveKeysWithPrefix(store, compare.key).map((key) => store.visibleAt(key, LATEST)!);
    case 'interval':
      return liveKeysInInterval(store, compare.key, compare.rangeEnd).map((key) =>
        store.visibleAt(key, LATEST)!,
      );
  }
}

/**
 * Whether `compare` holds for the current state: for every key in its range, or (an empty range)
 * for a missing key (etcd rules for missing keys, see types.ts).
 */
export function compareHolds(store: MvccStore, compare: Compare): boolean {
  const subjects = compareSubjects(store, compare);
  if (subjects.length === 0) return compareHoldsFor(undefined, compare);
  return subjects.every((kv) => compareHoldsFor(kv, compare));
}

function numberOf(kv: KeyValue, target: Exclude<Compare['target'], 'value'>): number {
  return target === 'lease' ? kv.session : kv[target];
}

function compareHoldsFor(kv: KeyValue | undefined, compare: Compare): boolean {
  let order: number;
  if (compare.target === 'value') {
    if (kv === undefined) return false;
    order = compareBytes(kv.value, compare.value);
  } else {
    order = (kv === undefined ? 0 : numberOf(kv, compare.target)) - compare.value;
  }
  switch (compare.op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}

/** Live keys under `prefix` right now, including a batch's earlier writes. */
export function liveKeysWithPrefix(store: MvccStore, prefix: string): string[] {
  const keys: string[] = [];
  for (const cursor = store.seek(prefix); cursor.valid && cursor.key.startsWith(prefix); cursor.next()) {
    if (store.visibleAt(cursor.key, LATEST) !== undefined) keys.push(cursor.key);
  }
  return keys;
}

/** Live keys in [start, rangeEnd) right now (no rangeEnd: every key from `start` on). */
export function liveKeysInInterval(store: MvccStore, start: string, rangeEnd: string | undefined): string[] {
  const keys: string[] = [];
  for (const cursor = store.seek(start); cursor.valid && beforeEnd(cursor.key, rangeEnd); cursor.next()) {
    if (store.visibleAt(cursor.key, LATEST) !== undefined) keys.push(cursor.key);
  }
  return keys;
}

/**
 * Runs a put, honouring ignoreValue / ignoreSession (the caller checked that the key exists when
 * either is set). Returns the replaced live value.
 */
export function putKey(store: MvccStore, batch: WriteBatch, op: PutCommand): KeyValue | undefined {
  if (op.ignoreValue !== true && op.ignoreSession !== true)
    return batch.put(op.key, op.value, op.session ?? 0);
  const current = store.visibleAt(op.key, LATEST);
  if (current === undefined) throw keyNotFound(op.key);
  const value = op.ignoreValue === true ? current.value : op.value;
  const session = op.ignoreSession === true ? current.session : (op.session ?? 0);
  return batch.put(op.key, value, session);
}

/** Throws KEY_NOT_FOUND when a put that keeps the current value or owner names a missing key. */
export function requireKeyForIgnore(store: MvccStore, op: PutCommand): void {
  if (
    (op.ignoreValue === true || op.ignoreSession === true) &&
    store.visibleAt(op.key, LATEST) === undefined
  ) {
    throw keyNotFound(op.key);
  }
}

export function deleteKeys(batch: WriteBatch, keys: readonly string[]): KeyValue[] {
  const deleted: KeyValue[] = [];
  for (const key of keys) {
    const previous = batch.delete(key);
    if (previous !== undefined) deleted.push(previous);
  }
  return deleted;
}

/** A txn's outcome decided up front: the branch it runs and, in order, the plans of its nested txns. */
interface TxnPlan {
  readonly succeeded: boolean;
  readonly ops: readonly TxnOp[];
  readonly nested: readonly TxnPlan[];
}

/** Evaluates every compare, nested ones included, against the state before any write (etcd's compareToPath). */
function planTxn(store: MvccStore, txn: TxnCommand): TxnPlan {
  const succeeded = txn.compare.every((compare) => compareHolds(store, compare));
  const ops = succeeded ? txn.success : txn.failure;
  const nested: TxnPlan[] = [];
  for (const op of ops) if (op.type === 'txn') nested.push(planTxn(store, op));
  return { succeeded, ops, nested };
}

type SessionCheck = (session: number | undefined, action: string) => void;

/** Every state-dependent check of the ops a plan will run, before the first write. */
function checkPlan(store: MvccStore, plan: TxnPlan, requireSession: SessionCheck): void {
  let nestedIndex = 0;
  for (const op of plan.ops) {
    if (op.type === 'range') store.resolveReadRevision(op.revision);
    else if (op.type === 'txn') checkPlan(store, plan.nested[nestedIndex++]!, requireSession);
    else if (op.type === 'put') {
      requireSession(op.session, `cannot put "${op.key}" in txn`);
      requireKeyForIgnore(store, op);
    }
  }
}

/**
 * Runs a validated txn. Throws (before writing anything) if a range op's revision is unreadable,
 * a put op's session is not open (`requireSession` throws SESSION_NOT_FOUND), or a put that keeps
 * the current value or owner names a missing key.
 */
export function executeTxn(
  store: MvccStore,
  txn: TxnCommand,
  requireSession: SessionCheck,
): { result: TxnResult; changes: readonly KeyChange[] } {
  const plan = planTxn(store, txn);
  checkPlan(store, plan, requireSession);

  const batch = store.beginWrite();
  let result: TxnResult;
  try {
    result = runPlan(store, batch, plan);
  } catch (error) {
    batch.abort();
    throw error;
  }
  const changes = batch.commit();
  // Every response reports the revision the txn ended at, as etcd's txn header does.
  return { result: withRevision(result, store.revision), changes };
}

function runPlan(store: MvccStore, batch: WriteBatch, plan: TxnPlan): TxnResult {
  let nestedIndex = 0;
  const responses = plan.ops.map((op) =>
    op.type === 'txn' ? runPlan(store, batch, plan.nested[nestedIndex++]!) : runOp(store, batch, op),
  );
  // Revision 0 is a placeholder until the batch commits (see executeTxn).
  return { type: 'txn', revision: 0, succeeded: plan.succeeded, responses };
}

function withRevision(result: TxnResult, revision: number): TxnResult {
  const responses = result.responses.map((response) =>
    response.type === 'txn' ? withRevision(response, revision) : { ...response, revision },
  );
  return { ...result, revision, responses };
}

function runOp(store: MvccStore, batch: WriteBatch, op: Exclude<TxnOp, TxnCommand>): TxnOpResult {
  switch (op.type) {
    case 'put': {
      const previous = putKey(store, batch, op);
      return op.prevKv === true && previous !== undefined
        ? { type: 'put', revision: batch.revision, prevKv: previous }
        : { type: 'put', revision: batch.revision };
    }
    case 'delete':
      return deleteResult('delete', 0, deleteKeys(batch, [op.key]), op.prevKv === true);
    case 'deleteRange': {
      const deleted = deleteKeys(batch, liveKeysWithPrefix(store, op.prefix));
      return deleteResult('deleteRange', 0, deleted, op.prevKv === true);
    }
    case 'deleteInterval': {
      const deleted = deleteKeys(batch, liveKeysInInterval(store, op.key, op.rangeEnd));
      return deleteResult('deleteInterval', 0, deleted, op.prevKv === true);
    }
    case 'range':
      return readRange(store, op);
  }
}

export function deleteResult(
  type: DeleteResult['type'],
  revision: number,
  deleted: KeyValue[],
  withPrevKvs: boolean,
): DeleteResult {
  return withPrevKvs
    ? { type, revision, deleted: deleted.length, prevKvs: deleted }
    : { type, revision, deleted: deleted.length };
}
