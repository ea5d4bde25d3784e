import type { Entry, HardState, PersistedState, Snapshot } from '../raft/types.js';

/** The durable half of a Ready: everything step 1 of the Ready contract must make durable. */
export interface PersistBatch {
  readonly hardState: HardState | null;
  /** Persisted entries with index >= entries[0].index are discarded before these are stored. */
  readonly entries: readonly Entry[];
  /** A received snapshot: replaces the whole persisted log (all entries discarded) before `entries` are stored. */
  readonly snapshot: Snapshot | null;
  /**
   * Default true. False only for a batch whose loss in a crash is harmless (Ready.mustSync:
   * only the commit index moved). It is still written in order: a later synced batch makes
   * it durable too.
   */
  readonly sync?: boolean;
}

/**
 * Durable storage of one Raft node. Every write is a single atomic batch that is durable
 * (fsynced) when the returned promise resolves.
 *
 * Implementations: LevelRaftStorage (LevelDB) and MemoryRaftStorage (tests, simulator); both
 * carry out the same write plans (write-plan.ts), so they accept, refuse and store alike.
 * Operations run one at a time in call order. Errors carry a stable `code` (errors.ts):
 *  - STORAGE_INVALID_WRITE: the batch would break the log's shape (a gap after the last stored
 *    index, entries not contiguous, a snapshot older than the stored one, non-integer or
 *    negative numbers). Nothing was written; the store stays usable. A caller bug.
 *  - STORAGE_CORRUPT: what is on disk failed a check (open/load). Never applied.
 *  - STORAGE_FAILED: a write failed (I/O); the store refuses further work until reopened.
 *  - STORAGE_CLOSED, STORAGE_LOCKED, STORAGE_UNSUPPORTED_FORMAT.
 */
export interface RaftStorage {
  /** The state to restart from; a fresh store gives term 0, no vote, commit 0, no snapshot, no entries. */
  load(): Promise<PersistedState>;
  /**
   * Step 1 of the Ready contract, in one synced batch. Incoming entries at or below the
   * snapshot index (the batch's snapshot, else the stored one) are dropped, as the snapshot
   * covers them. A batch with nothing in it writes nothing (and does not fsync).
   */
  persist(batch: PersistBatch): Promise<void>;
  /**
   * Local log compaction: store `snapshot` and discard persisted entries with
   * index <= snapshot.meta.index (entries after it stay), in one synced batch. A snapshot
   * beyond the last entry empties the log; the next entry then follows the snapshot.
   */
  compact(snapshot: Snapshot): Promise<void>;
  /**
   * The stored snapshot with its image, or null when there is none: a leader sends it to a
   * follower that fell behind its log (the core does not keep the image in memory, see
   * RaftNode.forgetSnapshotData). It sees the writes issued before it, never a half-written
   * snapshot, and need not hold up the writes issued after it.
   */
  loadSnapshot(): Promise<Snapshot | null>;
  close(): Promise<void>;
}
