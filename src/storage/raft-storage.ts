import type { Entry, HardState, PersistedState, Snapshot } from '../raft/types.js';

/** The durable half of a Ready: everything step 1 of the Ready contract must make durable. */
export interface PersistBatch {
  readonly hardState: HardState | null;
  /** Persisted entries with index >= entries[0].index are discarded before these are stored. */
  readonly entries: readonly Entry[];
  /** A received snapshot: replaces the whole persisted log (all entries discarded) before `entries` are stored. */
  readonly snapshot: Snapshot | null;
}

/**
 * Durable storage of one Raft node. Every write is a single atomic batch that is durable
 * (fsynced) when the returned promise resolves.
 */
export interface RaftStorage {
  /** The state to restart from; a fresh store gives term 0, no vote, commit 0, no snapshot, no entries. */
  load(): Promise<PersistedState>;
  /** Step 1 of the Ready contract, in one synced batch. */
  persist(batch: PersistBatch): Promise<void>;
  /**
   * Local log compaction: store `snapshot` and discard persisted entries with
   * index <= snapshot.meta.index (entries after it stay), in one synced batch.
   */
  compact(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}
