/**
 * The semantics of a write, shared by every RaftStorage implementation so that they cannot
 * drift apart: validation of the caller's batch, which stored entries are discarded, which
 * entries are stored, and what the log bounds are afterwards. Implementations only carry the
 * plan out (atomically).
 */
import type { Entry, HardState, Snapshot } from '../raft/types.js';
import { EntryType, SNAPSHOT_DATA_IN_STORAGE } from '../raft/types.js';
import { StorageInvalidWriteError } from './errors.js';
import type { PersistBatch } from './raft-storage.js';

/** Where the stored log lies. Stored entries are exactly the indexes snapshotIndex+1 .. lastIndex. */
export interface LogBounds {
  /** The index the stored snapshot covers; 0 when there is no snapshot. */
  readonly snapshotIndex: number;
  /** The last stored entry's index, or snapshotIndex when no entry is stored. */
  readonly lastIndex: number;
}

export const EMPTY_BOUNDS: LogBounds = { snapshotIndex: 0, lastIndex: 0 };

/** Inclusive range of log indexes. */
export interface IndexRange {
  readonly from: number;
  readonly to: number;
}

export interface WritePlan {
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  /** Stored entries to delete (disjoint from the indexes of `entries`, which simply overwrite). */
  readonly deleteRanges: readonly IndexRange[];
  /** Entries to store, contiguous, all above the (new) snapshot index. */
  readonly entries: readonly Entry[];
  readonly bounds: LogBounds;
}

/**
 * Plan a `persist`. Rules:
 *  - a snapshot older than the stored one is refused (the core never goes back in time);
 *  - a snapshot discards every stored entry;
 *  - entries at or below the (new) snapshot index are dropped: the snapshot already covers them
 *    (the same rule as etcd's MemoryStorage.Append);
 *  - stored entries with index >= the first new entry's index are discarded;
 *  - the new entries must continue the log without a gap.
 */
export function planPersist(bounds: LogBounds, batch: PersistBatch): WritePlan {
  if (batch.hardState !== null) validateHardState(batch.hardState);
  if (batch.snapshot !== null) validateSnapshot(batch.snapshot, bounds);
  validateEntries(batch.entries);

  let snapshotIndex = bounds.snapshotIndex;
  let lastIndex = bounds.lastIndex;
  if (batch.snapshot !== null) {
    snapshotIndex = batch.snapshot.meta.index;
    lastIndex = snapshotIndex;
  }

  let entries = batch.entries;
  const firstIncoming = entries[0];
  if (firstIncoming !== undefined && firstIncoming.index <= snapshotIndex) {
    entries = entries.slice(snapshotIndex - firstIncoming.index + 1);
  }
  const first = entries[0];
  if (first !== undefined) {
    if (first.index > lastIndex + 1) {
      throw new StorageInvalidWriteError(
        `entries start at index ${first.index} but the log ends at index ${lastIndex}; that would leave a gap`,
      );
    }
    lastIndex = entries[entries.length - 1]!.index;
  }

  const next: LogBounds = { snapshotIndex, lastIndex };
  return {
    hardState: batch.hardState,
    snapshot: batch.snapshot,
    deleteRanges: discardedRanges(bounds, next),
    entries,
    bounds: next,
  };
}

/** Plan a `compact`: store the snapshot and discard the entries it covers; later entries stay. */
export function planCompact(bounds: LogBounds, snapshot: Snapshot): WritePlan {
  validateSnapshot(snapshot, bounds);
  const next: LogBounds = {
    snapshotIndex: snapshot.meta.index,
    lastIndex: Math.max(bounds.lastIndex, snapshot.meta.index),
  };
  return {
    hardState: null,
    snapshot,
    deleteRanges: discardedRanges(bounds, next),
    entries: [],
    bounds: next,
  };
}

/** Stored entries (before) that lie outside the stored range (after). */
function discardedRanges(before: LogBounds, after: LogBounds): IndexRange[] {
  const storedFrom = before.snapshotIndex + 1;
  const storedTo = before.lastIndex;
  const ranges: IndexRange[] = [];
  const belowTo = Math.min(storedTo, after.snapshotIndex);
  if (storedFrom <= belowTo) ranges.push({ from: storedFrom, to: belowTo });
  const aboveFrom = Math.max(storedFrom, after.lastIndex + 1);
  if (aboveFrom <= storedTo) ranges.push({ from: aboveFrom, to: storedTo });
  return ranges;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function validateHardState(hardState: HardState): void {
  if (!isCount(hardState.term))
    throw new StorageInvalidWriteError(
      `hard state term ${String(hardState.term)} is not a non-negative safe integer`,
    );
  if (!isCount(hardState.commit))
    throw new StorageInvalidWriteError(
      `hard state commit ${String(hardState.commit)} is not a non-negative safe integer`,
    );
  if (hardState.vote !== null && typeof hardState.vote !== 'string')
    throw new StorageInvalidWriteError('hard state vote must be a string or null');
}

function validateSnapshot(snapshot: Snapshot, bounds: LogBounds): void {
  const { meta } = snapshot;
  if (!isCount(meta.index))
    throw new StorageInvalidWriteError(
      `snapshot index ${String(meta.index)} is not a non-negative safe integer`,
    );
  if (!isCount(meta.term))
    throw new StorageInvalidWriteError(
      `snapshot term ${String(meta.term)} is not a non-negative safe integer`,
    );
  if (!(snapshot.data instanceof Uint8Array))
    throw new StorageInvalidWriteError('snapshot data must be a Uint8Array');
  if (snapshot.data === SNAPSHOT_DATA_IN_STORAGE)
    throw new StorageInvalidWriteError('snapshot has no image: the core forgot it (it is already stored)');
  for (const id of [...meta.conf.voters, ...meta.conf.learners]) {
    if (typeof id !== 'string')
      throw new StorageInvalidWriteError('snapshot configuration members must be strings');
  }
  if (meta.index < bounds.snapshotIndex) {
    throw new StorageInvalidWriteError(
      `snapshot at index ${meta.index} is older than the stored snapshot at index ${bounds.snapshotIndex}`,
    );
  }
}

function validateEntries(entries: readonly Entry[]): void {
  const first = entries[0];
  if (first === undefined) return;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (!isCount(entry.index) || entry.index < 1)
      throw new StorageInvalidWriteError(`entry index ${String(entry.index)} is not a positive safe integer`);
    if (entry.index !== first.index + i) {
      throw new StorageInvalidWriteError(
        `entries are not contiguous: index ${entry.index} follows index ${entries[i - 1]!.index}`,
      );
    }
    if (!isCount(entry.term))
      throw new StorageInvalidWriteError(
        `entry ${entry.index} has term ${String(entry.term)}, not a non-negative safe integer`,
      );
    if (entry.type !== EntryType.Normal && entry.type !== EntryType.ConfChange) {
      throw new StorageInvalidWriteError(`entry ${entry.index} has unknown type ${String(entry.type)}`);
    }
    if (!(entry.data instanceof Uint8Array))
      throw new StorageInvalidWriteError(`entry ${entry.index} data must be a Uint8Array`);
  }
}
