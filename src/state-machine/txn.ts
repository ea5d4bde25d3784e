/**
 * Transactions: evaluate the compares against the committed state, then run one branch as a
 * single write batch (one revision at most). Every state-dependent check (a range op's revision)
 * runs before the first write, so a failing txn leaves no trace.
 */
import { LATEST, type MvccStore, type WriteBatch } from './mvcc-store.js';
import { readRange } from './range-read.js';
import type {
  Compare,
  DeleteResult,
  KeyChange,
  KeyValue,
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

/** Whether `compare` holds for the key's current state (etcd rules for missing keys, see types.ts). */
export function compareHolds(store: MvccStore, compare: Compare): boolean {
  const kv = store.visibleAt(compare.key, LATEST);
  let order: number;
  if (compare.target === 'value') {
    if (kv === undefined) return false;
    order = compareBytes(kv.value, compare.value);
  } else {
    order = (kv === undefined ? 0 : kv[compare.target]) - compare.value;
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

export function deleteKeys(batch: WriteBatch, keys: readonly string[]): KeyValue[] {
  const deleted: KeyValue[] = [];
  for (const key of keys) {
    const previous = batch.delete(key);
    if (previous !== undefined) deleted.push(previous);
  }
  return deleted;
}

/**
 * Runs a validated txn. Throws (before writing anything) if a range op's revision is unreadable
 * or a put op's session is not open (`requireSession` throws SESSION_NOT_FOUND).
 */
export function executeTxn(
  store: MvccStore,
  txn: TxnCommand,
  requireSession: (session: number | undefined, action: string) => void,
): { result: TxnResult; changes: readonly KeyChange[] } {
  const succeeded = txn.compare.every((compare) => compareHolds(store, compare));
  const ops = succeeded ? txn.success : txn.failure;
  for (const op of ops) {
    if (op.type === 'range') store.resolveReadRevision(op.revision);
    else if (op.type === 'put') requireSession(op.session, `cannot put "${op.key}" in txn`);
  }

  const batch = store.beginWrite();
  let responses: TxnOpResult[];
  try {
    responses = ops.map((op) => runOp(store, batch, op));
  } catch (error) {
    batch.abort();
    throw error;
  }
  const changes = batch.commit();
  // Every response reports the revision the txn ended at, as etcd's txn header does.
  const revision = store.revision;
  responses = responses.map((response) => ({ ...response, revision }));
  return { result: { type: 'txn', revision, succeeded, responses }, changes };
}

function runOp(store: MvccStore, batch: WriteBatch, op: TxnOp): TxnOpResult {
  switch (op.type) {
    case 'put': {
      const previous = batch.put(op.key, op.value, op.session ?? 0);
      return op.prevKv === true && previous !== undefined
        ? { type: 'put', revision: batch.revision, prevKv: previous }
        : { type: 'put', revision: batch.revision };
    }
    case 'delete':
      // Revision 0 is a placeholder until the batch commits (see executeTxn).
      return deleteResult('delete', 0, deleteKeys(batch, [op.key]), op.prevKv === true);
    case 'deleteRange': {
      const deleted = deleteKeys(batch, liveKeysWithPrefix(store, op.prefix));
      return deleteResult('deleteRange', 0, deleted, op.prevKv === true);
    }
    case 'range':
      return readRange(store, op);
  }
}

export function deleteResult(
  type: 'delete' | 'deleteRange',
  revision: number,
  deleted: KeyValue[],
  withPrevKvs: boolean,
): DeleteResult {
  return withPrevKvs
    ? { type, revision, deleted: deleted.length, prevKvs: deleted }
    : { type, revision, deleted: deleted.length };
}
