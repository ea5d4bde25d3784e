import { invariant } from './errors.js';
import type { Entry, Snapshot } from './types.js';

/**
 * The node's view of its log: a snapshot boundary followed by entries held in memory.
 *
 * The host's storage is write-only from the core's side: everything the core needs is in
 * memory (the log is compacted by snapshots, so it stays bounded). Three cursors move forward:
 * `stabled` (persisted), `committed` (durable on a quorum) and `applied` (handed to the state
 * machine and acknowledged by `advance`).
 */
export class RaftLog {
  /** Index and term of the last entry covered by the snapshot (0/0 when there is none). */
  snapshotIndex: number;
  snapshotTerm: number;
  /** entries[i].index === snapshotIndex + 1 + i */
  private entries: Entry[];
  /** Entries up to here are persisted. */
  stabled: number;
  /** Entries up to here were handed to the host for persisting and await advance(). */
  private persistingTo = 0;
  committed: number;
  applied: number;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[], committed: number) {
    this.snapshotIndex = snapshot?.meta.index ?? 0;
    this.snapshotTerm = snapshot?.meta.term ?? 0;
    this.entries = entries.filter((e) => e.index > this.snapshotIndex);
    for (let i = 0; i < this.entries.length; i++) {
      invariant(
        this.entries[i]!.index === this.snapshotIndex + 1 + i,
        'restored log entries are not contiguous',
      );
    }
    this.stabled = this.lastIndex();
    invariant(
      committed <= this.lastIndex(),
      () => `commit ${committed} beyond last index ${this.lastIndex()}`,
    );
    this.committed = Math.max(committed, this.snapshotIndex);
    this.applied = this.snapshotIndex;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last ? last.term : this.snapshotTerm;
  }

  /** The term of the entry at `index`, or undefined if it was compacted away or does not exist yet. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshotIndex) return undefined;
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [lo, hi], cut at maxBytes (but always at least one entry when the range is
   * non-empty). The caller must not ask for compacted indexes.
   */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    invariant(
      lo > this.snapshotIndex,
      () => `slice from compacted index ${lo} (snapshot ${this.snapshotIndex})`,
    );
    const last = Math.min(hi, this.lastIndex());
    if (lo > last) return [];
    const start = lo - this.snapshotIndex - 1;
    const end = last - this.snapshotIndex;
    if (maxBytes === Infinity) return this.entries.slice(start, end);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = start; i < end; i++) {
      const e = this.entries[i]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** The host takes the unstable entries to persist them. */
  takeUnstable(): Entry[] {
    this.persistingTo = this.lastIndex();
    return this.entries.slice(this.stabled - this.snapshotIndex);
  }

  /** The host persisted what takeUnstable() returned (minus anything truncated since). */
  stableTo(): void {
    this.stabled = Math.max(this.stabled, this.persistingTo);
    this.persistingTo = 0;
  }

  /** Appends entries the leader created. */
  appendLocal(entry: Entry): void {
    invariant(entry.index === this.lastIndex() + 1, 'local append must extend the log');
    this.entries.push(entry);
  }

  /**
   * §5.3: append the leader's entries after prevIndex, truncating our log at the first
   * conflicting entry. Returns the new last index covered by the message.
   */
  appendFromLeader(prevIndex: number, incoming: readonly Entry[]): number {
    const lastNew = prevIndex + incoming.length;
    let firstNew = -1;
    for (let i = 0; i < incoming.length; i++) {
      const e = incoming[i]!;
      if (e.index <= this.snapshotIndex) continue; // already covered by our snapshot
      const ourTerm = this.term(e.index);
      if (ourTerm !== e.term) {
        firstNew = i;
        break;
      }
    }
    if (firstNew === -1) return lastNew;
    const conflictIndex = incoming[firstNew]!.index;
    invariant(
      conflictIndex > this.committed,
      () => `entry ${conflictIndex} conflicts with the committed prefix (commit ${this.committed})`,
    );
    this.truncateFrom(conflictIndex);
    for (let i = firstNew; i < incoming.length; i++) this.entries.push(incoming[i]!);
    return lastNew;
  }

  private truncateFrom(index: number): void {
    if (index > this.lastIndex()) return;
    this.entries.length = index - this.snapshotIndex - 1;
    // Whatever the host writes of the old suffix is stale: the new entries are unstable.
    this.stabled = Math.min(this.stabled, index - 1);
    this.persistingTo = Math.min(this.persistingTo, index - 1);
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index <= `index` whose term is
   * <= `term`. Everything after it cannot match a log whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapshotIndex) {
      const t = this.term(i)!;
      if (t <= term) return { index: i, term: t };
      i--;
    }
    return { index: i, term: this.term(i) ?? 0 };
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    invariant(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Replace the whole log by a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    this.snapshotIndex = snapshot.meta.index;
    this.snapshotTerm = snapshot.meta.term;
    this.entries = [];
    this.committed = snapshot.meta.index;
    this.stabled = snapshot.meta.index;
    this.persistingTo = Math.min(this.persistingTo, snapshot.meta.index);
  }

  /** Local compaction: forget entries up to `index` (already covered by a snapshot the host keeps). */
  compactTo(index: number, term: number): void {
    invariant(
      index > this.snapshotIndex && index <= this.applied,
      'compaction index must be applied and new',
    );
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }
}

/** Approximate wire size of an entry, for flow-control caps. */
export function entrySize(entry: Entry): number {
  return entry.data.length + 24;
}
