/**
 * The crash test's workload, shared by the writer (child process) and the checker (parent):
 * the writer announces each operation before it starts and acknowledges it once `persist` or
 * `compact` resolved; the checker replays the announced operations on MemoryRaftStorage to
 * know what the disk must hold. Every byte written is derived from the operation, so the
 * checker needs no copy of the data.
 */
import type { PersistedState } from '../../src/raft/types.js';
import { MemoryRaftStorage } from '../../src/storage/memory-raft-storage.js';
import type { RaftStorage } from '../../src/storage/raft-storage.js';
import { between, entries, snapshot } from './helpers.js';

export type CrashOp =
  /** Entries from..to (replacing any stored suffix from `from`), plus the hard state. */
  | { readonly kind: 'append'; readonly replacesSuffix: boolean; readonly from: number; readonly to: number; readonly term: number; readonly entryBytes: number; readonly commit: number }
  /** A snapshot from the leader replacing the log, the entries after it, and the hard state. */
  | { readonly kind: 'installSnapshot'; readonly index: number; readonly term: number; readonly imageBytes: number; readonly following: number }
  /** Local compaction up to `index`. */
  | { readonly kind: 'compact'; readonly index: number; readonly term: number; readonly imageBytes: number };

export const VOTE = 'n1';

export async function applyCrashOp(storage: RaftStorage, op: CrashOp): Promise<void> {
  switch (op.kind) {
    case 'append':
      return storage.persist({ hardState: { term: op.term, vote: VOTE, commit: op.commit }, entries: entries(op.from, op.to, op.term, op.entryBytes), snapshot: null });
    case 'installSnapshot':
      return storage.persist({
        hardState: { term: op.term, vote: VOTE, commit: op.index },
        entries: entries(op.index + 1, op.index + op.following, op.term, 100),
        snapshot: snapshot(op.index, op.term, op.imageBytes),
      });
    case 'compact':
      return storage.compact(snapshot(op.index, op.term, op.imageBytes));
  }
}

/** What the store must hold after `ops` ran, starting from `base`. */
export async function expectedState(base: PersistedState, ops: readonly CrashOp[]): Promise<PersistedState> {
  const model = new MemoryRaftStorage();
  await model.persist({ hardState: base.hardState, snapshot: base.snapshot, entries: base.entries });
  for (const op of ops) await applyCrashOp(model, op);
  return model.load();
}

/** The writer's view of the log, enough to choose the next valid operation. */
export interface WriterCursor {
  snapshotIndex: number;
  lastIndex: number;
  term: number;
  commit: number;
}

export function cursorOf(state: PersistedState): WriterCursor {
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  const last = state.entries[state.entries.length - 1];
  const term = Math.max(state.hardState.term, last?.term ?? 0, state.snapshot?.meta.term ?? 0);
  return { snapshotIndex, lastIndex: last?.index ?? snapshotIndex, term, commit: state.hardState.commit };
}

/**
 * Chooses the next operation the way a Raft follower's writes look: mostly appends (some of
 * them large), conflicting suffixes replaced above the commit index under a new term,
 * compactions of committed entries, and now and then a snapshot from the leader.
 */
export function nextCrashOp(random: () => number, cursor: WriterCursor): CrashOp {
  const roll = random();
  if (roll < 0.6) {
    const from = cursor.lastIndex + 1;
    const large = random() < 0.1;
    const to = from + (large ? between(random, 50, 200) : between(random, 0, 63));
    return { kind: 'append', replacesSuffix: false, from, to, term: cursor.term, entryBytes: large ? 8192 : between(random, 0, 400), commit: Math.max(cursor.commit, to - between(random, 0, 10)) };
  }
  if (roll < 0.8) {
    const term = cursor.term + 1;
    const from = between(random, Math.max(cursor.commit, cursor.snapshotIndex) + 1, cursor.lastIndex + 1);
    const to = from + between(random, 0, 40);
    return { kind: 'append', replacesSuffix: from <= cursor.lastIndex, from, to, term, entryBytes: between(random, 0, 400), commit: cursor.commit };
  }
  if (roll < 0.92 && cursor.commit > cursor.snapshotIndex) {
    const index = between(random, cursor.snapshotIndex + 1, cursor.commit);
    return { kind: 'compact', index, term: cursor.term, imageBytes: between(random, 0, 2_500_000) };
  }
  const index = cursor.lastIndex + between(random, 1, 20);
  return { kind: 'installSnapshot', index, term: cursor.term, imageBytes: between(random, 0, 3_000_000), following: between(random, 0, 10) };
}

/** The cursor after `op` succeeded. */
export function advanceCursor(cursor: WriterCursor, op: CrashOp): WriterCursor {
  switch (op.kind) {
    case 'append':
      return { ...cursor, lastIndex: op.to, term: op.term, commit: op.commit };
    case 'installSnapshot':
      return { snapshotIndex: op.index, lastIndex: op.index + op.following, term: op.term, commit: op.index };
    case 'compact':
      return { ...cursor, snapshotIndex: op.index, lastIndex: Math.max(cursor.lastIndex, op.index) };
  }
}
