/** Write counters of a storage, for metrics. Monotonic over the life of one open handle. */
export interface StorageStats {
  /** Durable batches written; for LevelRaftStorage each is one synced LevelDB write (one fsync). */
  readonly syncedBatches: number;
  readonly entriesWritten: number;
  /** Bytes handed to the store (keys and encoded records for LevelDB; payloads for memory). */
  readonly bytesWritten: number;
  readonly snapshotsWritten: number;
  /**
   * Stored entries deleted by truncation, snapshot installation or compaction. Entries replaced in
   * place by a new entry at the same index are not counted (they are overwritten, not deleted).
   */
  readonly entriesDiscarded: number;
}

export class StorageCounters implements StorageStats {
  syncedBatches = 0;
  entriesWritten = 0;
  bytesWritten = 0;
  snapshotsWritten = 0;
  entriesDiscarded = 0;

  snapshot(): StorageStats {
    return {
      syncedBatches: this.syncedBatches,
      entriesWritten: this.entriesWritten,
      bytesWritten: this.bytesWritten,
      snapshotsWritten: this.snapshotsWritten,
      entriesDiscarded: this.entriesDiscarded,
    };
  }
}
