/**
 * Durable Raft storage on LevelDB (classic-level). See docs/storage.md for the layout, the record
 * format and the atomicity rules.
 *
 * Every persist is ONE LevelDB write batch committed with `sync: true`: LevelDB appends the batch
 * to its write-ahead log and fsyncs it before the promise resolves, and a batch is applied all or
 * nothing on recovery. Entries discarded by a snapshot, a compaction or a suffix truncation are
 * deleted by enumerating their keys inside that same batch: the in-memory log bounds say exactly
 * which indexes exist, so no scan is needed (`db.clear()` would be a separate, non-atomic write).
 *
 * A compaction is the exception: its image (as large as the whole state) would make one batch
 * that holds up every append behind it for up to seconds, long enough for an election. So it
 * writes the image one chunk per batch into the chunk slot the live snapshot does not use, each
 * batch queued like any other write, and then switches the metadata to that slot and discards
 * the covered entries in one small synced batch. Until the switch, the old snapshot stays whole.
 */
import { ClassicLevel } from 'classic-level';
import type { Entry, PersistedState, Snapshot } from '../raft/types.js';
import {
  decodeEntry,
  decodeEntryAt,
  decodeFormatMarker,
  decodeHardState,
  decodeSnapshotChunk,
  decodeSnapshotMeta,
  chunkNumberOfKey,
  crc32,
  otherSlot,
  encodeEntry,
  encodeFormatMarker,
  encodeHardState,
  encodeSnapshotChunk,
  encodeSnapshotMeta,
  ENTRY_KEY_BYTES,
  entryKey,
  ENTRY_RANGE,
  FORMAT_MARKER_KEY,
  FORMAT_VERSION,
  HARD_STATE_KEY,
  indexOfEntryKey,
  RecordDecodeError,
  SNAPSHOT_META_KEY,
  snapshotChunkKey,
  snapshotChunkRange,
  type ChunkSlot,
  type StoredSnapshotMeta,
} from './codec.js';
import {
  StorageClosedError,
  StorageCorruptionError,
  StorageFailedError,
  StorageLockedError,
  StorageUnsupportedFormatError,
  type StorageRecordKind,
} from './errors.js';
import type { PersistBatch, RaftStorage } from './raft-storage.js';
import { StorageCounters, type StorageStats } from './storage-stats.js';
import { planCompact, planPersist, type IndexRange, type LogBounds, type WritePlan } from './write-plan.js';

type Db = ClassicLevel<Buffer, Buffer>;
type DbSnapshot = ReturnType<Db['snapshot']>;
type DbBatch = ReturnType<Db['batch']>;
type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/**
 * How much a loading iterator fetches per trip to LevelDB's thread. At classic-level's default
 * (16 KiB) a restart with 90k entries to replay made ~2,000 trips and spent ~0.4 s waiting.
 */
const BULK_READ_BYTES = 4 * 1024 * 1024;
/** Entries per batch of a log scan (BULK_READ_BYTES stops a batch of large entries sooner). */
const BULK_READ_ENTRIES = 8192;

/**
 * Entry deletes a compaction hands to its switch batch per turn of the event loop. Enumerating
 * 100k deletes in one go stalled the loop ~57 ms (heartbeats, appends and answers waited).
 */
const DELETES_PER_TURN = 2048;

export interface LevelRaftStorageOptions {
  /** Size of the pieces a snapshot image is stored in. Reading accepts any chunk size. */
  readonly snapshotChunkBytes?: number;
}

const EMPTY_HARD_STATE = { term: 0, vote: null, commit: 0 } as const;

/** An image a compaction already wrote into the free slot, chunk by chunk. */
interface StagedImage {
  readonly slot: ChunkSlot;
  readonly chunkCount: number;
}

/** A native batch already holding the deletes of the entries `range` (see prepareEntryDeletes). */
interface PreparedDeletes {
  readonly batch: DbBatch;
  readonly range: IndexRange;
}

export class LevelRaftStorage implements RaftStorage {
  private readonly counters = new StorageCounters();
  /** Serializes operations: each one plans against the bounds the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | null = null;
  private writeFailure: { cause: unknown } | null = null;
  /** Compactions run one at a time: two would write their chunks into the same free slot. */
  private compactions: Promise<unknown> = Promise.resolve();
  /**
   * Snapshots stored by persist (received from a leader). A compaction that sees this change
   * since it was asked for gives up: the received snapshot is newer and took the free slot.
   */
  private snapshotsReceived = 0;

  private constructor(
    readonly dir: string,
    private readonly db: Db,
    private bounds: LogBounds,
    /** The slot the live snapshot's chunks are in (0 when there is no snapshot). */
    private liveSlot: ChunkSlot,
    /** Per slot, one past the highest chunk number that may be stored there (0: empty). */
    private readonly slotChunks: [number, number],
    private readonly snapshotChunkBytes: number,
  ) {}

  /**
   * Opens (creating if needed) the store in `dir`. Reads only the format marker, the snapshot
   * metadata and the first and last log keys; `load()` validates everything else.
   * Rejects with StorageLockedError when the directory is already open, StorageCorruptionError
   * when the metadata or the log bounds are damaged.
   */
  static async open(dir: string, options: LevelRaftStorageOptions = {}): Promise<LevelRaftStorage> {
    const snapshotChunkBytes = options.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
    if (!Number.isSafeInteger(snapshotChunkBytes) || snapshotChunkBytes < 1) {
      throw new RangeError(`snapshotChunkBytes must be a positive integer, got ${snapshotChunkBytes}`);
    }
    const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (error) {
      if (isLevelLocked(error)) throw new StorageLockedError(dir, { cause: error });
      throw error;
    }
    try {
      await checkFormatMarker(db, dir);
      const stored = await readSnapshotMeta(db);
      const bounds = await readLogBounds(db, stored?.meta.index ?? 0);
      const slotChunks: [number, number] = [await chunkBound(db, 0), await chunkBound(db, 1)];
      // Without a snapshot, slot 1 counts as the (empty) live one, so the first goes to slot 0.
      return new LevelRaftStorage(dir, db, bounds, stored?.chunkSlot ?? 1, slotChunks, snapshotChunkBytes);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** Write counters since open. */
  stats(): StorageStats {
    return this.counters.snapshot();
  }

  /** Where the stored log lies, as known without touching the disk. */
  logBounds(): LogBounds {
    return this.bounds;
  }

  load(): Promise<PersistedState> {
    return this.exclusive('load', () => this.readAll());
  }

  persist(batch: PersistBatch): Promise<void> {
    return this.exclusive('persist', () => this.write(planPersist(this.bounds, batch), batch.sync ?? true));
  }

  /**
   * Stores `snapshot` and discards the entries it covers, without one huge batch (see the top of
   * this file): a synced batch per chunk into the free slot, then the switch. Resolves once the
   * switch is durable, or as soon as a newer snapshot was stored meanwhile (a received one: it
   * covers more, and it reused the free slot).
   */
  compact(snapshot: Snapshot): Promise<void> {
    const receivedBefore = this.snapshotsReceived;
    const superseded = (): boolean => this.snapshotsReceived !== receivedBefore;
    const run = this.compactions.then(() => this.compactInSteps(snapshot, superseded));
    this.compactions = run.catch(() => undefined);
    return run;
  }

  private async compactInSteps(snapshot: Snapshot, superseded: () => boolean): Promise<void> {
    const slot = await this.exclusive('compact', async () => {
      if (superseded()) return null;
      planCompact(this.bounds, snapshot); // refuses a stale or malformed snapshot before any write
      const slot = otherSlot(this.liveSlot);
      // Leftovers of a compaction that never finished (a crash, or a newer snapshot won).
      const leftovers: BatchOp[] = [];
      for (let chunk = 0; chunk < this.slotChunks[slot]; chunk++)
        leftovers.push({ type: 'del', key: snapshotChunkKey(chunk, slot) });
      if (leftovers.length > 0) await this.commitBatch(leftovers, false);
      this.slotChunks[slot] = 0;
      return slot;
    });
    if (slot === null) return;
    const image = snapshot.data;
    const chunkCount = this.chunkCountOf(image);
    for (let chunk = 0; chunk < chunkCount; chunk++) {
      const stop = await this.exclusive('compact', async () => {
        if (superseded()) return true;
        const piece = image.subarray(chunk * this.snapshotChunkBytes, (chunk + 1) * this.snapshotChunkBytes);
        const op = encodeSnapshotChunk(chunk, snapshot.meta, piece, slot);
        // Synced: the switch below must never point at chunks a power cut could still take.
        await this.commitBatch([{ type: 'put', ...op }], true);
        this.slotChunks[slot] = chunk + 1;
        this.counters.syncedBatches += 1;
        this.counters.bytesWritten += op.key.length + op.value.length;
        return false;
      });
      if (stop) return;
    }
    const prepared = await this.prepareEntryDeletes(snapshot.meta.index);
    try {
      await this.exclusive('compact', async () => {
        if (superseded()) return;
        await this.write(planCompact(this.bounds, snapshot), true, { slot, chunkCount }, prepared);
      });
    } finally {
      await prepared?.batch.close(); // a no-op once written
    }
  }

  /**
   * Starts the switch batch of a compaction up to `snapshotIndex` with the deletes of the
   * entries it covers, a slice per turn of the event loop, outside the write queue: those
   * entries are committed, so nothing but a received snapshot (which supersedes the compaction)
   * changes them meanwhile. The switch uses the batch only if its plan deletes exactly this
   * range; otherwise it enumerates as usual. Null when there is nothing to delete.
   */
  private async prepareEntryDeletes(snapshotIndex: number): Promise<PreparedDeletes | null> {
    const range = { from: this.bounds.snapshotIndex + 1, to: Math.min(this.bounds.lastIndex, snapshotIndex) };
    if (range.from > range.to) return null;
    if (this.closing !== null) throw new StorageClosedError('compact');
    const batch = this.db.batch();
    try {
      for (let index = range.from; index <= range.to; index++) {
        batch.del(entryKey(index));
        if ((index - range.from + 1) % DELETES_PER_TURN === 0) await new Promise(setImmediate);
      }
    } catch (error) {
      await batch.close();
      throw this.closing !== null ? new StorageClosedError('compact') : error;
    }
    return { batch, range };
  }

  /**
   * Reads the snapshot from a LevelDB snapshot taken in call order, so the 28 MB or so of a large
   * image are read while appends go on (and a compaction switching meanwhile changes nothing).
   */
  async loadSnapshot(): Promise<Snapshot | null> {
    const view = await this.exclusive('loadSnapshot', async () => this.db.snapshot());
    try {
      return await readSnapshotImage(this.db, await readSnapshotMeta(this.db, view), view);
    } finally {
      await view.close();
    }
  }

  /** Waits for queued operations, then releases the directory. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.queue.then(() => this.db.close());
    return this.closing;
  }

  private exclusive<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.closing !== null) return Promise.reject(new StorageClosedError(operation));
    const result = this.queue.then(() => {
      if (this.writeFailure !== null) throw new StorageFailedError(operation, this.writeFailure);
      return work();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async write(
    plan: WritePlan,
    sync = true,
    staged: StagedImage | null = null,
    prepared: PreparedDeletes | null = null,
  ): Promise<void> {
    const ops: BatchOp[] = [];
    let discarded = 0;
    const usable =
      prepared !== null &&
      plan.deleteRanges.length === 1 &&
      plan.deleteRanges[0]!.from === prepared.range.from &&
      plan.deleteRanges[0]!.to === prepared.range.to;
    for (const range of plan.deleteRanges) {
      discarded += range.to - range.from + 1;
      if (usable) continue; // already in the prepared batch
      for (let index = range.from; index <= range.to; index++)
        ops.push({ type: 'del', key: entryKey(index) });
    }
    const switched = plan.snapshot === null ? null : this.snapshotOps(plan.snapshot, ops, staged);
    for (const entry of plan.entries) ops.push({ type: 'put', ...encodeEntry(entry) });
    if (plan.hardState !== null)
      ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(plan.hardState) });
    if (ops.length === 0 && !usable) return;

    await this.commitBatch(ops, sync, usable ? prepared.batch : undefined);
    this.bounds = plan.bounds;
    if (switched !== null) {
      this.slotChunks[this.liveSlot] = 0;
      this.slotChunks[switched.slot] = switched.chunkCount;
      this.liveSlot = switched.slot;
      if (staged === null) this.snapshotsReceived += 1;
    }
    if (sync) this.counters.syncedBatches += 1;
    this.counters.entriesWritten += plan.entries.length;
    this.counters.entriesDiscarded += discarded;
    if (plan.snapshot !== null) this.counters.snapshotsWritten += 1;
    for (const op of ops)
      this.counters.bytesWritten += op.key.length + (op.type === 'put' ? op.value.length : 0);
    if (usable) this.counters.bytesWritten += discarded * ENTRY_KEY_BYTES;
  }

  /** writeBatch, and a failed write makes the store refuse further work. */
  private async commitBatch(ops: readonly BatchOp[], sync: boolean, batch?: DbBatch): Promise<void> {
    try {
      await this.writeBatch(ops, sync, batch);
    } catch (error) {
      // The batch may or may not be on disk; the bounds can no longer be trusted.
      this.writeFailure = { cause: error };
      throw new StorageFailedError('write', { cause: error });
    }
  }

  /**
   * One LevelDB WriteBatch, fsynced unless told otherwise. Built as a chained batch: it hands each op straight to the
   * native batch, 2-5x cheaper per op than `db.batch(array)` (which matters for the thousands
   * of deletes of a compaction), and commits just as atomically.
   */
  private async writeBatch(ops: readonly BatchOp[], sync: boolean, batch = this.db.batch()): Promise<void> {
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
    } catch (error) {
      await batch.close();
      throw error;
    }
    await batch.write({ sync });
  }

  /**
   * Appends the ops storing `snapshot` in the free slot (its chunks, unless a compaction staged
   * them already, and any surplus chunks there), dropping the old image, and switching the
   * metadata to the new slot. Returns where the image now lives.
   */
  private snapshotOps(snapshot: Snapshot, ops: BatchOp[], staged: StagedImage | null): StagedImage {
    const image = snapshot.data;
    const slot = staged?.slot ?? otherSlot(this.liveSlot);
    const chunkCount = staged?.chunkCount ?? this.chunkCountOf(image);
    if (staged === null) {
      for (let chunk = 0; chunk < chunkCount; chunk++) {
        const piece = image.subarray(chunk * this.snapshotChunkBytes, (chunk + 1) * this.snapshotChunkBytes);
        ops.push({ type: 'put', ...encodeSnapshotChunk(chunk, snapshot.meta, piece, slot) });
      }
      for (let stale = chunkCount; stale < this.slotChunks[slot]; stale++)
        ops.push({ type: 'del', key: snapshotChunkKey(stale, slot) });
    }
    for (let old = 0; old < this.slotChunks[this.liveSlot]; old++)
      ops.push({ type: 'del', key: snapshotChunkKey(old, this.liveSlot) });
    const stored: StoredSnapshotMeta = {
      meta: snapshot.meta,
      imageLength: image.length,
      chunkCount,
      imageCrc: crc32(image),
      chunkSlot: slot,
    };
    ops.push({ type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotMeta(stored) });
    return { slot, chunkCount };
  }

  private chunkCountOf(image: Uint8Array): number {
    return Math.ceil(image.length / this.snapshotChunkBytes);
  }

  private async readAll(): Promise<PersistedState> {
    const hardStateRecord = await this.db.get(HARD_STATE_KEY);
    const hardState =
      hardStateRecord === undefined
        ? EMPTY_HARD_STATE
        : decodeOrCorrupt('hardState', HARD_STATE_KEY, undefined, () => decodeHardState(hardStateRecord));
    const stored = await readSnapshotMeta(this.db);
    // Both at once: each waits on LevelDB's threads while the other decodes on this one.
    const [snapshot, entries] = await Promise.allSettled([
      readSnapshotImage(this.db, stored),
      this.readLog(stored?.meta.index ?? 0),
    ]);
    // The snapshot's failure first, as when they were read one after the other.
    if (snapshot.status === 'rejected') throw snapshot.reason;
    if (entries.status === 'rejected') throw entries.reason;
    return { hardState, snapshot: snapshot.value, entries: entries.value };
  }

  private async readLog(snapshotIndex: number): Promise<Entry[]> {
    return (await this.readLogQuickly(snapshotIndex)) ?? (await this.readLogChecked(snapshotIndex));
  }

  /**
   * The log behind the snapshot, read without its keys, in batches: half the buffers and no
   * promise per entry (this is most of a restart's reading). Each record is decoded as the index
   * that must come next, and its checksum covers that key, so any break in the log's shape fails
   * a checksum: then null, and readLogChecked says exactly what is wrong.
   */
  private async readLogQuickly(snapshotIndex: number): Promise<Entry[] | null> {
    const entries: Entry[] = [];
    const values = this.db.values({ ...ENTRY_RANGE, highWaterMarkBytes: BULK_READ_BYTES });
    try {
      for (;;) {
        const records = await values.nextv(BULK_READ_ENTRIES);
        if (records.length === 0) return entries;
        for (const record of records) entries.push(decodeEntryAt(snapshotIndex + entries.length + 1, record));
      }
    } catch (error) {
      if (error instanceof RecordDecodeError || error instanceof RangeError) return null;
      throw error;
    } finally {
      await values.close();
    }
  }

  /** The log read key by key, naming the first record out of place or damaged. */
  private async readLogChecked(snapshotIndex: number): Promise<Entry[]> {
    const entries: Entry[] = [];
    let expected = snapshotIndex + 1;
    for await (const [key, record] of this.db.iterator({
      ...ENTRY_RANGE,
      highWaterMarkBytes: BULK_READ_BYTES,
    })) {
      const index = indexOfEntryKey(key);
      if (index === null)
        throw new StorageCorruptionError('entry', 'has a malformed key', { keyHex: key.toString('hex') });
      if (index !== expected) throw logShapeError(index, expected, snapshotIndex);
      entries.push(decodeOrCorrupt('entry', key, index, () => decodeEntry(key, record)));
      expected += 1;
    }
    return entries;
  }
}

function isLevelLocked(error: unknown): boolean {
  const codeOf = (value: unknown): unknown =>
    typeof value === 'object' && value !== null && 'code' in value ? value.code : undefined;
  return (
    codeOf(error) === 'LEVEL_LOCKED' || (error instanceof Error && codeOf(error.cause) === 'LEVEL_LOCKED')
  );
}

/** Runs a decoder, turning a decode failure into a corruption error that names the record. */
function decodeOrCorrupt<T>(
  record: StorageRecordKind,
  key: Buffer,
  position: number | undefined,
  decode: () => T,
): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof RecordDecodeError || error instanceof RangeError) {
      const where =
        position === undefined ? { keyHex: key.toString('hex') } : { keyHex: key.toString('hex'), position };
      throw new StorageCorruptionError(record, error.message, where);
    }
    throw error;
  }
}

function logShapeError(index: number, expected: number, snapshotIndex: number): StorageCorruptionError {
  const keyHex = entryKey(index).toString('hex');
  if (index <= snapshotIndex) {
    return new StorageCorruptionError(
      'log',
      `is an entry at or below the snapshot index ${snapshotIndex}; the writer never leaves one`,
      { keyHex, position: index },
    );
  }
  return new StorageCorruptionError('log', `follows a gap: expected index ${expected} next`, {
    keyHex,
    position: index,
  });
}

async function checkFormatMarker(db: Db, dir: string): Promise<void> {
  const marker = await db.get(FORMAT_MARKER_KEY);
  if (marker === undefined) {
    const anyKey = await db.keys({ limit: 1 }).all();
    if (anyKey.length > 0) {
      throw new StorageCorruptionError(
        'formatMarker',
        `is missing although ${dir} holds data: not a raftree store, or its marker was lost`,
        {
          keyHex: FORMAT_MARKER_KEY.toString('hex'),
        },
      );
    }
    await db.put(FORMAT_MARKER_KEY, encodeFormatMarker(), { sync: true });
    return;
  }
  const version = decodeOrCorrupt('formatMarker', FORMAT_MARKER_KEY, undefined, () =>
    decodeFormatMarker(marker),
  );
  if (version !== FORMAT_VERSION) throw new StorageUnsupportedFormatError(dir, version, FORMAT_VERSION);
}

async function readSnapshotMeta(db: Db, view?: DbSnapshot): Promise<StoredSnapshotMeta | null> {
  const record = await db.get(SNAPSHOT_META_KEY, { snapshot: view });
  if (record === undefined) return null;
  return decodeOrCorrupt('snapshotMeta', SNAPSHOT_META_KEY, undefined, () => decodeSnapshotMeta(record));
}

/** Log bounds from the first and last entry keys: two seeks, no scan. */
async function readLogBounds(db: Db, snapshotIndex: number): Promise<LogBounds> {
  const [firstKey] = await db.keys({ ...ENTRY_RANGE, limit: 1 }).all();
  const [lastKey] = await db.keys({ ...ENTRY_RANGE, limit: 1, reverse: true }).all();
  if (firstKey === undefined || lastKey === undefined) return { snapshotIndex, lastIndex: snapshotIndex };
  const first = indexOfEntryKey(firstKey);
  const last = indexOfEntryKey(lastKey);
  if (first === null)
    throw new StorageCorruptionError('entry', 'has a malformed key', { keyHex: firstKey.toString('hex') });
  if (last === null)
    throw new StorageCorruptionError('entry', 'has a malformed key', { keyHex: lastKey.toString('hex') });
  if (first !== snapshotIndex + 1) {
    throw new StorageCorruptionError(
      'log',
      `is the first stored entry, but entries must start right after the snapshot index ${snapshotIndex}`,
      {
        keyHex: firstKey.toString('hex'),
        position: first,
      },
    );
  }
  return { snapshotIndex, lastIndex: last };
}

/** One past the highest chunk number stored in `slot` (0 when it holds none). */
async function chunkBound(db: Db, slot: ChunkSlot): Promise<number> {
  const [lastKey] = await db.keys({ ...snapshotChunkRange(slot), limit: 1, reverse: true }).all();
  if (lastKey === undefined) return 0;
  const chunk = chunkNumberOfKey(lastKey, slot);
  if (chunk === null)
    throw new StorageCorruptionError('snapshotChunk', 'has a malformed key', {
      keyHex: lastKey.toString('hex'),
    });
  return chunk + 1;
}

async function readSnapshotImage(
  db: Db,
  stored: StoredSnapshotMeta | null,
  view?: DbSnapshot,
): Promise<Snapshot | null> {
  if (stored === null) {
    // Chunks in slot 0 may be what an interrupted first compaction left (it writes there first);
    // slot 1 is only ever written after a snapshot exists, so chunks there mean lost metadata.
    const [strayKey] = await db.keys({ ...snapshotChunkRange(1), limit: 1, snapshot: view }).all();
    if (strayKey !== undefined) {
      throw new StorageCorruptionError('snapshotChunk', 'exists but no snapshot metadata does', {
        keyHex: strayKey.toString('hex'),
        position: chunkNumberOfKey(strayKey, 1) ?? -1,
      });
    }
    return null;
  }
  const { meta, imageLength, chunkCount, imageCrc, chunkSlot } = stored;
  const image = new Uint8Array(imageLength);
  let filled = 0;
  let expectedChunk = 0;
  const chunks = db.iterator({
    ...snapshotChunkRange(chunkSlot),
    highWaterMarkBytes: BULK_READ_BYTES,
    snapshot: view,
  });
  for await (const [key, record] of chunks) {
    const chunk = chunkNumberOfKey(key, chunkSlot);
    const keyHex = key.toString('hex');
    if (chunk === null) throw new StorageCorruptionError('snapshotChunk', 'has a malformed key', { keyHex });
    if (chunk >= chunkCount)
      throw new StorageCorruptionError(
        'snapshotChunk',
        `is beyond the ${chunkCount} chunks the snapshot metadata declares`,
        { keyHex, position: chunk },
      );
    if (chunk !== expectedChunk)
      throw new StorageCorruptionError('snapshotChunk', 'is missing', {
        keyHex: snapshotChunkKey(expectedChunk, chunkSlot).toString('hex'),
        position: expectedChunk,
      });
    const decoded = decodeOrCorrupt('snapshotChunk', key, chunk, () => decodeSnapshotChunk(key, record));
    if (decoded.snapshotIndex !== meta.index || decoded.snapshotTerm !== meta.term) {
      throw new StorageCorruptionError(
        'snapshotChunk',
        `belongs to snapshot ${decoded.snapshotIndex}/${decoded.snapshotTerm}, not to the stored snapshot ${meta.index}/${meta.term}`,
        { keyHex, position: chunk },
      );
    }
    if (filled + decoded.data.length > imageLength) {
      throw new StorageCorruptionError(
        'snapshotChunk',
        `overflows the declared image length ${imageLength}`,
        { keyHex, position: chunk },
      );
    }
    image.set(decoded.data, filled);
    filled += decoded.data.length;
    expectedChunk += 1;
  }
  if (expectedChunk !== chunkCount) {
    throw new StorageCorruptionError(
      'snapshotChunk',
      `is missing (the metadata declares ${chunkCount} chunks)`,
      {
        keyHex: snapshotChunkKey(expectedChunk, chunkSlot).toString('hex'),
        position: expectedChunk,
      },
    );
  }
  if (filled !== imageLength)
    throw new StorageCorruptionError(
      'snapshotMeta',
      `declares an image of ${imageLength} bytes but the chunks hold ${filled}`,
    );
  if (crc32(image) !== imageCrc)
    throw new StorageCorruptionError('snapshotMeta', 'image checksum does not match the reassembled chunks');
  return { meta, data: image };
}
