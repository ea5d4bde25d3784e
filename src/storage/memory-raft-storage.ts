/**
 * RaftStorage in memory, for tests and the simulator. Same semantics as LevelRaftStorage (both
 * carry out the plans of write-plan.ts), same errors for bad writes, no durability.
 *
 * The stored state lives in a MemoryDurableState that outlives any one handle: a simulated
 * crash drops the handle (or calls `reopen()`) and a restarted node opens a new handle over the
 * same durable state. Writes are applied when `persist` is called, so a "crash" before the
 * promise resolves may keep the write, as a real crash after the fsync but before the
 * acknowledgement would.
 */
import type { Entry, HardState, PersistedState, Snapshot } from '../raft/types.js';
import { StorageClosedError } from './errors.js';
import type { PersistBatch, RaftStorage } from './raft-storage.js';
import { StorageCounters, type StorageStats } from './storage-stats.js';
import { EMPTY_BOUNDS, planCompact, planPersist, type LogBounds, type WritePlan } from './write-plan.js';

/** What survives a simulated crash. Treat as opaque; open handles over it with MemoryRaftStorage. */
export class MemoryDurableState {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: Snapshot | null = null;
  /** Stored entries: entries[i] has index bounds.snapshotIndex + 1 + i. */
  entries: Entry[] = [];
  bounds: LogBounds = EMPTY_BOUNDS;
}

export class MemoryRaftStorage implements RaftStorage {
  private readonly counters = new StorageCounters();
  private closed = false;

  /** A handle over `durable` (a fresh, empty store when omitted). */
  constructor(readonly durable: MemoryDurableState = new MemoryDurableState()) {}

  /** Simulates a crash and restart: this handle is closed, a new one sees what was stored. */
  reopen(): MemoryRaftStorage {
    this.closed = true;
    return new MemoryRaftStorage(this.durable);
  }

  stats(): StorageStats {
    return this.counters.snapshot();
  }

  logBounds(): LogBounds {
    return this.durable.bounds;
  }

  async load(): Promise<PersistedState> {
    this.assertOpen('load');
    const { hardState, snapshot, entries } = this.durable;
    return {
      hardState: { ...hardState },
      snapshot: snapshot === null ? null : copySnapshot(snapshot),
      entries: entries.map(copyEntry),
    };
  }

  async persist(batch: PersistBatch): Promise<void> {
    this.assertOpen('persist');
    this.apply(planPersist(this.durable.bounds, batch));
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.assertOpen('compact');
    this.apply(planCompact(this.durable.bounds, snapshot));
  }

  async loadSnapshot(): Promise<Snapshot | null> {
    this.assertOpen('loadSnapshot');
    const { snapshot } = this.durable;
    return snapshot === null ? null : copySnapshot(snapshot);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new StorageClosedError(operation);
  }

  private apply(plan: WritePlan): void {
    const durable = this.durable;
    const isNoop =
      plan.hardState === null &&
      plan.snapshot === null &&
      plan.entries.length === 0 &&
      plan.deleteRanges.length === 0;
    if (isNoop) return;

    // The plan's bounds say which stored entries survive; keep those, then add the new ones.
    const { snapshotIndex: oldSnapshotIndex } = durable.bounds;
    const keepFrom = plan.bounds.snapshotIndex + 1;
    const firstNew = plan.entries[0]?.index ?? plan.bounds.lastIndex + 1;
    const kept = durable.entries.slice(
      Math.max(0, keepFrom - oldSnapshotIndex - 1),
      Math.max(0, firstNew - oldSnapshotIndex - 1),
    );
    durable.entries = kept.concat(plan.entries.map(copyEntry));
    if (plan.snapshot !== null) durable.snapshot = copySnapshot(plan.snapshot);
    if (plan.hardState !== null) durable.hardState = { ...plan.hardState };
    durable.bounds = plan.bounds;

    let discarded = 0;
    for (const range of plan.deleteRanges) discarded += range.to - range.from + 1;
    this.counters.syncedBatches += 1;
    this.counters.entriesWritten += plan.entries.length;
    this.counters.entriesDiscarded += discarded;
    if (plan.snapshot !== null) {
      this.counters.snapshotsWritten += 1;
      this.counters.bytesWritten += plan.snapshot.data.length;
    }
    for (const entry of plan.entries) this.counters.bytesWritten += entry.data.length;
  }
}

function copyEntry(entry: Entry): Entry {
  return { index: entry.index, term: entry.term, type: entry.type, data: new Uint8Array(entry.data) };
}

function copySnapshot(snapshot: Snapshot): Snapshot {
  const { index, term, conf } = snapshot.meta;
  return {
    meta: { index, term, conf: { voters: [...conf.voters], learners: [...conf.learners] } },
    data: new Uint8Array(snapshot.data),
  };
}
