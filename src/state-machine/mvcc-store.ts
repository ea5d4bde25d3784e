/**
 * The multi-version key space: every retained version of every key, the per-revision change log
 * that watches replay, and compaction. Reads go through range-read.ts; writes through a
 * WriteBatch so that all writes of one command land in one revision.
 *
 * Retention rule: after compact(R), reads at revisions >= R and watches from revisions >= R still
 * work. So per key we keep every version written at R or later plus the newest version written
 * before R when it is live (it is what a read at R - 1 ... R sees, and the prevKv of the key's
 * first event at R or later). The change log keeps revisions >= max(R, 1).
 */
import { compactedError, futureRevisionError, StateMachineError, StateMachineErrorCode } from './errors.js';
import { type KeyCursor, SortedKeySet } from './key-index.js';
import type { KeyChange, KeyValue } from './types.js';

export const EMPTY_VALUE: Uint8Array = new Uint8Array(0);

/**
 * Histories shorter than this are copied on append, not pushed to: V8 grows an array by at
 * least 16 slots per push, which for 100k keys of one or two versions is ~14 MB of empty slots.
 */
const SHORT_HISTORY = 8;

/** Reads at this revision see the newest versions, including those of a write batch in progress. */
export const LATEST = Number.POSITIVE_INFINITY;

export function isLive(kv: KeyValue | undefined): kv is KeyValue {
  return kv !== undefined && kv.version > 0;
}

/** Index of the newest version in `versions` (ascending modRevision) written at or before `revision`; -1 if none. */
function indexAtRevision(versions: readonly KeyValue[], revision: number): number {
  let low = 0;
  let high = versions.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (versions[mid]!.modRevision <= revision) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/**
 * The versions one revision wrote, in op order. Most revisions write one key, and an array of one
 * per revision cost ~50 bytes of heap and an allocation each (a fifth of those made restoring a
 * store with 200k versions of history), so one change is stored bare.
 */
export type RevisionChanges = KeyValue | readonly KeyValue[];

/** How many versions a revision wrote. */
export function changeCount(changes: RevisionChanges): number {
  return isChangeList(changes) ? changes.length : 1;
}

/** The i-th version a revision wrote (0 <= i < changeCount). */
export function changeAt(changes: RevisionChanges, i: number): KeyValue {
  return isChangeList(changes) ? changes[i]! : changes;
}

function isChangeList(changes: RevisionChanges): changes is readonly KeyValue[] {
  return Array.isArray(changes);
}

/**
 * Everything a store consists of; what the snapshot codec reads back (after validating). A store
 * adopts the image it is built from: the caller may not mutate it afterwards. The codec writes
 * from a FrozenView.
 */
export interface StoreImage {
  readonly revision: number;
  readonly compactRevision: number;
  /** Keys in ascending order, each with its retained versions (ascending modRevision, never empty). */
  readonly keys: readonly string[];
  readonly histories: Map<string, KeyValue[]>;
  /** changelog[i]: the versions written at revision max(compactRevision, 1) + i, in op order. */
  readonly changelog: RevisionChanges[];
}

/**
 * Index of the first of `versions` that compaction at `revision` keeps (versions.length: none):
 * every version written at `revision` or later, plus the newest one before it if it is live.
 * Idempotent: on versions already compacted at `revision` it is 0.
 */
export function firstKept(versions: readonly KeyValue[], revision: number): number {
  let keepFrom = indexAtRevision(versions, revision - 1);
  if (keepFrom >= 0 && !isLive(versions[keepFrom])) keepFrom++;
  return Math.max(keepFrom, 0);
}

/**
 * The store as of the moment freeze() was called, for a snapshot encoded over many turns while
 * writes go on. Live structures: a version is part of the view iff its modRevision <= revision.
 */
export interface FrozenView {
  readonly revision: number;
  /**
   * Versions the view holds but compaction at this revision drops (firstKept) are not part of it:
   * a compaction deferred by an earlier view has not dropped them yet.
   */
  readonly compactRevision: number;
  /** Every key with history retained at compactRevision, ascending (a copy). */
  readonly keys: readonly string[];
  readonly histories: ReadonlyMap<string, readonly KeyValue[]>;
  /** changelog[i]: the versions written at revision changelogStart + i. */
  readonly changelog: readonly RevisionChanges[];
  readonly changelogStart: number;
}

export class MvccStore {
  private histories: Map<string, KeyValue[]>;
  /** Every key with at least one retained version (deleted keys stay until compaction drops them). */
  private keys: SortedKeySet;
  private changelog: RevisionChanges[];
  /** The revision changelog[0] holds: max(compactRevision, 1), unless a prune is deferred. */
  private changelogStart: number;
  private currentRevision: number;
  private compactedRevision: number;
  private liveKeys: number;
  /** Versions held across all histories: what a snapshot encodes (see storedVersions). */
  private versions: number;
  private batchOpen = false;
  /** Open frozen views: while any is open, compaction only moves compactRevision (see compact). */
  private freezes = 0;
  /** The compaction whose dropping of history waits for the last frozen view to close. */
  private deferredPrune = 0;

  constructor(image?: StoreImage) {
    this.currentRevision = image?.revision ?? 0;
    this.compactedRevision = image?.compactRevision ?? 0;
    this.histories = image?.histories ?? new Map();
    this.keys = SortedKeySet.fromSorted(image?.keys ?? []);
    this.changelog = image?.changelog ?? [];
    this.changelogStart = Math.max(this.compactedRevision, 1);
    this.liveKeys = 0;
    this.versions = 0;
    for (const versions of this.histories.values()) {
      if (isLive(versions[versions.length - 1])) this.liveKeys++;
      this.versions += versions.length;
    }
  }

  /** The revision of the last committed write (0 for an empty store). */
  get revision(): number {
    return this.currentRevision;
  }

  /** Reads and watches below this revision get COMPACTED (0: nothing compacted yet). */
  get compactRevision(): number {
    return this.compactedRevision;
  }

  /** The oldest revision whose changes are still in the change log. */
  get firstRetainedRevision(): number {
    return Math.max(this.compactedRevision, 1);
  }

  /** Keys that currently exist (not counting deleted keys whose history is retained). */
  get keyCount(): number {
    return this.liveKeys;
  }

  /** Versions of all keys held, deleted keys' and history included: the size of a snapshot. */
  get storedVersions(): number {
    return this.versions;
  }

  /**
   * Turns a request's revision (absent or 0: current) into one to read at, or throws
   * COMPACTED / FUTURE_REVISION / INVALID_ARGUMENT. Only "current" reads as LATEST, so a txn's
   * reads see its own earlier writes while an explicit revision never does.
   */
  resolveReadRevision(revision: number | undefined): number {
    if (revision === undefined || revision === 0) return LATEST;
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw new StateMachineError(
        StateMachineErrorCode.InvalidArgument,
        `revision must be a non-negative integer, got ${revision}`,
      );
    }
    if (revision > this.currentRevision) throw futureRevisionError(revision, this.currentRevision);
    if (revision < this.compactedRevision) throw compactedError(revision, this.compactedRevision);
    return revision;
  }

  /** The key's live version as of `revision` (use LATEST for now), or undefined. */
  visibleAt(key: string, revision: number): KeyValue | undefined {
    const versions = this.histories.get(key);
    if (versions === undefined) return undefined;
    const newest = versions[versions.length - 1]!;
    const found = newest.modRevision <= revision ? newest : versions[indexAtRevision(versions, revision)];
    return isLive(found) ? found : undefined;
  }

  /** A cursor over every key with retained history, from the first key >= `key`. */
  seek(key: string): KeyCursor {
    return this.keys.seek(key);
  }

  /**
   * The changes committed at `revision` to keys `matches` accepts (default: all), in the order the
   * command made them, each with the key's previous live version.
   */
  changesAt(revision: number, matches?: (key: string) => boolean): KeyChange[] {
    if (revision > this.currentRevision) throw futureRevisionError(revision, this.currentRevision);
    if (revision < this.firstRetainedRevision) throw compactedError(revision, this.compactedRevision);
    const changes: KeyChange[] = [];
    const written = this.changelog[revision - this.changelogStart]!;
    for (let i = 0, count = changeCount(written); i < count; i++) {
      const kv = changeAt(written, i);
      if (matches !== undefined && !matches(kv.key)) continue;
      const versions = this.histories.get(kv.key)!;
      const previous = versions[indexAtRevision(versions, revision - 1)];
      changes.push({ kv, prevKv: isLive(previous) ? previous : undefined });
    }
    return changes;
  }

  /** Starts the writes of one command; they become visible to LATEST reads at once and commit as one revision. */
  beginWrite(): WriteBatch {
    if (this.batchOpen) throw new Error('a write batch is already open');
    this.batchOpen = true;
    return new WriteBatch(this.currentRevision + 1, this.batchHost);
  }

  /** What every WriteBatch calls back into: built once, not per command. */
  private readonly batchHost: WriteBatchHost = {
    latest: (key) => this.visibleAt(key, LATEST),
    append: (kv, wasLive) => this.append(kv, wasLive),
    finish: (written) => this.finishBatch(written),
    undo: (written) => this.undoBatch(written),
  };

  /**
   * Drops history only reads/watches below `revision` could need. Throws on a bad revision.
   * While a frozen view is open, only compactRevision moves (reads and watches below it fail
   * from now on, as on every replica); the history itself goes when the last view closes.
   */
  compact(revision: number): void {
    if (revision > this.currentRevision) throw futureRevisionError(revision, this.currentRevision);
    if (revision <= this.compactedRevision) throw compactedError(revision, this.compactedRevision);
    this.compactedRevision = revision;
    if (this.freezes > 0) this.deferredPrune = revision;
    else this.prune(revision);
  }

  /**
   * A view of the store as it is now that later writes do not change, for encoding a snapshot
   * in steps; call thaw() when done with it. Cheap: copies the key list, not the history.
   */
  freeze(): FrozenView {
    if (this.batchOpen) throw new Error('cannot freeze the store in the middle of a write batch');
    this.freezes++;
    let keys = this.keys.toArray();
    if (this.deferredPrune > 0) {
      const revision = this.compactedRevision;
      keys = keys.filter((key) => {
        const versions = this.histories.get(key)!;
        return firstKept(versions, revision) < versions.length;
      });
    }
    return {
      revision: this.currentRevision,
      compactRevision: this.compactedRevision,
      keys,
      histories: this.histories,
      changelog: this.changelog,
      changelogStart: this.changelogStart,
    };
  }

  /** Closes a frozen view; the last one to close carries out a deferred compaction. */
  thaw(): void {
    if (this.freezes === 0) throw new Error('thaw() without freeze()');
    this.freezes--;
    if (this.freezes === 0 && this.deferredPrune > 0) {
      const revision = this.deferredPrune;
      this.deferredPrune = 0;
      this.prune(revision);
    }
  }

  /** Drops the history compaction at `revision` made unreachable. */
  private prune(revision: number): void {
    const survivors: string[] = [];
    for (const key of this.keys.toArray()) {
      const versions = this.histories.get(key)!;
      const keepFrom = firstKept(versions, revision);
      if (keepFrom > 0) versions.splice(0, keepFrom);
      this.versions -= keepFrom;
      if (versions.length === 0) this.histories.delete(key);
      else survivors.push(key);
    }
    if (survivors.length !== this.keys.size) this.keys = SortedKeySet.fromSorted(survivors);
    this.changelog.splice(0, revision - this.changelogStart);
    this.changelogStart = revision;
  }

  private append(kv: KeyValue, wasLive: boolean): void {
    const versions = this.histories.get(kv.key);
    if (versions === undefined) {
      this.histories.set(kv.key, [kv]);
      this.keys.add(kv.key);
    } else if (versions.length < SHORT_HISTORY) {
      // push() would grow the backing store to 17+ slots; most keys keep one or two versions.
      this.histories.set(kv.key, [...versions, kv]);
    } else {
      versions.push(kv);
    }
    this.versions++;
    if (isLive(kv) && !wasLive) this.liveKeys++;
    else if (!isLive(kv) && wasLive) this.liveKeys--;
  }

  /** Removes a batch's versions again; each is the newest of its key because a batch writes a key once. */
  private undoBatch(written: readonly KeyValue[]): void {
    this.batchOpen = false;
    for (let i = written.length - 1; i >= 0; i--) {
      const kv = written[i]!;
      const versions = this.histories.get(kv.key)!;
      versions.pop();
      this.versions--;
      const restored = versions[versions.length - 1];
      if (isLive(kv) && !isLive(restored)) this.liveKeys--;
      else if (!isLive(kv) && isLive(restored)) this.liveKeys++;
      if (versions.length === 0) {
        this.histories.delete(kv.key);
        this.keys.delete(kv.key);
      }
    }
  }

  private finishBatch(written: KeyValue[]): void {
    this.batchOpen = false;
    if (written.length === 0) return;
    this.currentRevision++;
    // An exact-size copy: the batch's array has spare capacity (see SHORT_HISTORY).
    this.changelog.push(written.length === 1 ? written[0]! : written.slice());
  }
}

/** The store's side of a WriteBatch. */
interface WriteBatchHost {
  latest(key: string): KeyValue | undefined;
  append(kv: KeyValue, wasLive: boolean): void;
  finish(written: KeyValue[]): void;
  undo(written: readonly KeyValue[]): void;
}

/**
 * The writes of one command. Each key may be written once per batch (validation rejects
 * duplicates before execution), so every version in the batch has a distinct key.
 */
export class WriteBatch {
  private readonly written: KeyValue[] = [];
  private readonly changes: KeyChange[] = [];
  private finished = false;

  constructor(
    /** The revision this batch's writes carry (and the store's revision once it commits, if it wrote). */
    readonly revision: number,
    private readonly host: WriteBatchHost,
  ) {}

  get wrote(): boolean {
    return this.written.length > 0;
  }

  /**
   * Writes a new version of `key`, owned by `session` (0: persistent); returns the live version
   * it replaced, if any. The caller has checked that the session exists.
   */
  put(key: string, value: Uint8Array, session = 0): KeyValue | undefined {
    const previous = this.host.latest(key);
    const kv: KeyValue =
      previous === undefined
        ? { key, value, createRevision: this.revision, modRevision: this.revision, version: 1, session }
        : {
            key,
            value,
            createRevision: previous.createRevision,
            modRevision: this.revision,
            version: previous.version + 1,
            session,
          };
    this.record(kv, previous);
    return previous;
  }

  /** Deletes `key` if it is live; returns the deleted version, or undefined (and writes nothing). */
  delete(key: string): KeyValue | undefined {
    const previous = this.host.latest(key);
    if (previous === undefined) return undefined;
    this.record(
      { key, value: EMPTY_VALUE, createRevision: 0, modRevision: this.revision, version: 0, session: 0 },
      previous,
    );
    return previous;
  }

  /** Ends the batch: commits one revision if anything was written. Returns the changes for watchers. */
  commit(): readonly KeyChange[] {
    if (this.finished) throw new Error('write batch already finished');
    this.finished = true;
    this.host.finish(this.written);
    return this.changes;
  }

  /**
   * Ends the batch by removing everything it wrote. Only for unexpected failures: validation runs
   * before a batch opens, so a correct command never needs this.
   */
  abort(): void {
    if (this.finished) throw new Error('write batch already finished');
    this.finished = true;
    this.host.undo(this.written);
  }

  private record(kv: KeyValue, previous: KeyValue | undefined): void {
    this.host.append(kv, previous !== undefined);
    this.written.push(kv);
    this.changes.push({ kv, prevKv: previous });
  }
}
