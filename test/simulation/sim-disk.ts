import type { Entry, HardState, PersistedState, Snapshot } from '../../src/raft/types.js';

/**
 * A node's disk in the simulator: synchronous, and only what a completed Ready wrote survives
 * a crash (a Ready in flight at the crash is lost whole, as one LevelDB batch would be).
 * Implements the same contract as RaftStorage (src/storage/raft-storage.ts).
 */
export class SimDisk {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  /** The hard state as of the last fsync: an unsynced write of it is lost in a crash. */
  private syncedHardState: HardState = this.hardState;
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  writes = 0;

  persist(
    hardState: HardState | null,
    entries: readonly Entry[],
    snapshot: Snapshot | null,
    sync = true,
  ): void {
    this.writes++;
    if (!sync && (entries.length > 0 || snapshot))
      throw new Error('sim disk: entries and snapshots must be synced');
    if (snapshot) {
      this.snapshot = snapshot;
      this.entries = [];
    }
    if (entries.length > 0) {
      const first = entries[0]!.index;
      const base = this.snapshot?.meta.index ?? 0;
      this.entries.length = Math.max(0, Math.min(this.entries.length, first - base - 1));
      const expected = base + this.entries.length + 1;
      if (first !== expected)
        throw new Error(`sim disk: append at ${first} leaves a gap (expected ${expected})`);
      for (const e of entries) this.entries.push(e);
    }
    if (hardState) this.hardState = hardState;
    if (sync) this.syncedHardState = this.hardState;
  }

  /** Power loss: whatever was written without fsync is gone. */
  crash(): void {
    this.hardState = this.syncedHardState;
  }

  compact(snapshot: Snapshot): void {
    this.writes++;
    const base = this.snapshot?.meta.index ?? 0;
    this.entries = this.entries.slice(Math.max(0, snapshot.meta.index - base));
    this.snapshot = snapshot;
  }

  load(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}
