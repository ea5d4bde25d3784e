import { crc32 } from 'node:zlib';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeEntry, entryKey, FORMAT_MARKER_KEY, HARD_STATE_KEY, SNAPSHOT_META_KEY, snapshotChunkKey } from '../../src/storage/codec.js';
import { StorageCorruptionError, StorageLockedError } from '../../src/storage/errors.js';
import { LevelRaftStorage } from '../../src/storage/level-raft-storage.js';
import { entries, entry, snapshot } from './helpers.js';
import { TempDirs } from './temp-dirs.js';

type RawDb = ClassicLevel<Buffer, Buffer>;

const temp = new TempDirs();
let dir: string;
const openHandles: LevelRaftStorage[] = [];

async function open(options: { snapshotChunkBytes?: number } = {}): Promise<LevelRaftStorage> {
  const storage = await LevelRaftStorage.open(dir, options);
  openHandles.push(storage);
  return storage;
}

/** Edits the closed store directly, as a disk fault or a stray tool would. */
async function withRawDb(edit: (db: RawDb) => Promise<void>): Promise<void> {
  const db: RawDb = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

async function flipByte(key: Buffer, offsetFromEnd = 1): Promise<void> {
  await withRawDb(async (db) => {
    const value = await db.get(key);
    if (value === undefined) throw new Error(`no record under key ${key.toString('hex')}`);
    const at = value.length - offsetFromEnd;
    value[at] = value[at]! ^ 0x40;
    await db.put(key, value);
  });
}

interface ChainedBatchLike {
  write(options?: unknown): Promise<void>;
}

/**
 * Watches every chained batch the storage commits: records the options of each `write` and lets
 * `override` replace the write (to inject a disk failure). Returns the recorded options.
 */
function interceptBatchWrites(override?: () => Promise<void> | null): unknown[] {
  const writes: unknown[] = [];
  const createBatch = ClassicLevel.prototype.batch as (this: RawDb, ...args: unknown[]) => unknown;
  vi.spyOn(ClassicLevel.prototype, 'batch').mockImplementation(function (this: RawDb, ...args: unknown[]) {
    const batch = createBatch.apply(this, args);
    if (args.length > 0) throw new Error('the storage must commit through a chained batch');
    const chained = batch as ChainedBatchLike;
    const write = chained.write.bind(chained);
    chained.write = (options?: unknown) => {
      writes.push(options);
      return override?.() ?? write(options);
    };
    return batch as never;
  });
  return writes;
}

async function corruption(promise: Promise<unknown>): Promise<StorageCorruptionError> {
  const error: unknown = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StorageCorruptionError);
  const corrupt = error as StorageCorruptionError;
  expect(corrupt.code).toBe('STORAGE_CORRUPT');
  return corrupt;
}

/** Writes `setup`, closes, lets `damage` edit the raw store, reopens and loads. */
async function loadAfterDamage(setup: (storage: LevelRaftStorage) => Promise<void>, damage: () => Promise<void>, options = {}): Promise<StorageCorruptionError> {
  const storage = await open(options);
  await setup(storage);
  await storage.close();
  await damage();
  const reopened = await open(options);
  return corruption(reopened.load());
}

beforeEach(async () => {
  dir = await temp.make('level');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(openHandles.splice(0).map((storage) => storage.close()));
  await temp.removeAll();
});

describe('LevelRaftStorage: opening', () => {
  it('refuses a second open of the same directory with an actionable STORAGE_LOCKED error', async () => {
    const first = await open();
    const error: unknown = await LevelRaftStorage.open(dir).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(StorageLockedError);
    expect((error as StorageLockedError).code).toBe('STORAGE_LOCKED');
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toMatch(/another raftree node/i);
    await first.close();
    const again = await open();
    expect((await again.load()).entries).toEqual([]);
  });

  it('recovers the log bounds on open, so writes work before any load', async () => {
    const storage = await open();
    await storage.persist({ hardState: null, entries: entries(1, 9, 1), snapshot: null });
    await storage.compact(snapshot(4, 1));
    await storage.close();
    const reopened = await open();
    expect(reopened.logBounds()).toEqual({ snapshotIndex: 4, lastIndex: 9 });
    // A suffix truncation needs the bounds to know which keys to delete.
    await reopened.persist({ hardState: null, entries: entries(7, 7, 2), snapshot: null });
    expect((await reopened.load()).entries).toEqual([...entries(5, 6, 1), ...entries(7, 7, 2)]);
  });

  it('refuses a LevelDB directory that is not a raftree store', async () => {
    await withRawDb((db) => db.put(Buffer.from('hello'), Buffer.from('world')));
    const error = await corruption(LevelRaftStorage.open(dir));
    expect(error.record).toBe('formatMarker');
  });

  it('refuses a format version it does not know, with its own code', async () => {
    await (await open()).close();
    await withRawDb(async (db) => {
      const body = Buffer.concat([Buffer.from([1]), Buffer.from('RAFTREE\0', 'latin1'), Buffer.from([0, 99])]);
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32BE(crc32(body, crc32(FORMAT_MARKER_KEY)));
      await db.put(FORMAT_MARKER_KEY, Buffer.concat([checksum, body]));
    });
    const error: unknown = await LevelRaftStorage.open(dir).catch((reason: unknown) => reason);
    expect((error as { code?: string }).code).toBe('STORAGE_UNSUPPORTED_FORMAT');
    expect((error as Error).message).toContain('version 99');
  });
});

describe('LevelRaftStorage: durability rules', () => {
  it('writes each persist as exactly one synced batch, a compaction as one per chunk plus the switch, and counts them', async () => {
    const storage = await open({ snapshotChunkBytes: 4 });
    const writes = interceptBatchWrites();
    await storage.persist({ hardState: { term: 1, vote: 'n1', commit: 0 }, entries: entries(1, 20, 1, 100), snapshot: null });
    await storage.persist({ hardState: { term: 2, vote: null, commit: 12 }, entries: entries(13, 16, 2), snapshot: snapshot(12, 1, 3000) });
    await storage.compact(snapshot(14, 2, 10));
    await storage.persist({ hardState: { term: 2, vote: null, commit: 14 }, entries: [], snapshot: null });
    // The compaction: three 4-byte chunks (10 bytes), then the switch.
    expect(writes).toEqual(Array.from({ length: 7 }, () => ({ sync: true })));
    expect(storage.stats()).toMatchObject({ syncedBatches: 7, entriesWritten: 24, snapshotsWritten: 2, entriesDiscarded: 18 });
    expect(storage.stats().bytesWritten).toBeGreaterThan(20 * 100 + 3000);
  });

  it('neither scans nor reads on the append and truncate paths', async () => {
    const storage = await open();
    await storage.persist({ hardState: null, entries: entries(1, 50, 1), snapshot: null });
    const reads = [
      vi.spyOn(ClassicLevel.prototype, 'iterator'),
      vi.spyOn(ClassicLevel.prototype, 'keys'),
      vi.spyOn(ClassicLevel.prototype, 'values'),
      vi.spyOn(ClassicLevel.prototype, 'get'),
    ];
    for (let next = 51; next < 100; next += 7) {
      await storage.persist({ hardState: { term: 1, vote: 'n1', commit: next - 1 }, entries: entries(next, next + 6, 1), snapshot: null });
    }
    await storage.persist({ hardState: { term: 2, vote: null, commit: 60 }, entries: entries(70, 71, 2), snapshot: null });
    await storage.compact(snapshot(60, 1));
    for (const spy of reads) expect(spy).not.toHaveBeenCalled();
    expect((await storage.load()).entries).toEqual([...entries(61, 69, 1), ...entries(70, 71, 2)]);
  });

  it('stops writing after a failed write (fail-stop) and recovers on reopen', async () => {
    const storage = await open();
    await storage.persist({ hardState: null, entries: entries(1, 3, 1), snapshot: null });
    let failures = 1;
    interceptBatchWrites(() => (failures-- > 0 ? Promise.reject(new Error('EIO: simulated disk failure')) : null));
    const failed: unknown = await storage.persist({ hardState: null, entries: entries(4, 4, 1), snapshot: null }).catch((reason: unknown) => reason);
    expect((failed as { code?: string }).code).toBe('STORAGE_FAILED');
    expect((failed as Error).message).toContain('EIO');
    const refused: unknown = await storage.persist({ hardState: null, entries: entries(4, 4, 1), snapshot: null }).catch((reason: unknown) => reason);
    expect((refused as { code?: string }).code).toBe('STORAGE_FAILED');
    await storage.close();
    const reopened = await open();
    expect((await reopened.load()).entries).toEqual(entries(1, 3, 1));
  });
});

describe('LevelRaftStorage: compaction in steps', () => {
  const small = { snapshotChunkBytes: 1000 };

  it('lets appends issued during a compaction finish before its 50 chunks are all stored', async () => {
    const storage = await open(small);
    await storage.persist({ hardState: null, entries: entries(1, 10, 1), snapshot: null });
    const finished: string[] = [];
    const compacting = storage.compact(snapshot(5, 1, 50_000)).then(() => finished.push('compact'));
    const appending = storage
      .persist({ hardState: null, entries: entries(11, 12, 1), snapshot: null })
      .then(() => finished.push('append'));
    await Promise.all([compacting, appending]);
    expect(finished).toEqual(['append', 'compact']);
    const state = await storage.load();
    expect(state.snapshot).toEqual(snapshot(5, 1, 50_000));
    expect(state.entries).toEqual(entries(6, 12, 1));
  });

  it('keeps the old snapshot whole when a compaction stops half-way, and clears its chunks next time', async () => {
    const storage = await open(small);
    await storage.persist({ hardState: null, entries: entries(1, 10, 1), snapshot: null });
    await storage.compact(snapshot(3, 1, 2_500));
    const interrupted = storage.compact(snapshot(8, 1, 50_000));
    await storage.persist({ hardState: null, entries: entries(11, 11, 1), snapshot: null });
    await storage.close(); // between two of its chunk writes, as a crash would leave it
    await expect(interrupted).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });

    const reopened = await open(small);
    const state = await reopened.load();
    expect(state.snapshot).toEqual(snapshot(3, 1, 2_500));
    expect(state.entries).toEqual(entries(4, 11, 1));
    await reopened.compact(snapshot(9, 1, 1_500));
    await reopened.close();
    let chunkKeys: Buffer[] = [];
    await withRawDb(async (db) => {
      chunkKeys = await db.keys({ gte: snapshotChunkKey(0, 0), lte: snapshotChunkKey(0xffff_ffff, 1) }).all();
    });
    // Only the new image's two chunks are left: the interrupted one's and the old one's are gone.
    expect(chunkKeys).toHaveLength(2);
    expect((await (await open(small)).load()).snapshot).toEqual(snapshot(9, 1, 1_500));
  });

  it('loadSnapshot reads a consistent image while a newer snapshot replaces it', async () => {
    const storage = await open({ snapshotChunkBytes: 16 * 1024 });
    await storage.persist({ hardState: null, entries: entries(1, 10, 1), snapshot: null });
    const old = snapshot(3, 1, 2 * 1024 * 1024);
    await storage.compact(old);
    const finished: string[] = [];
    const loading = storage.loadSnapshot().then((loaded) => {
      finished.push('load');
      return loaded;
    });
    // Neither waits for the 128 chunks to be read; the second deletes them, but not from the
    // reader's view.
    const appending = storage
      .persist({ hardState: null, entries: entries(11, 12, 1), snapshot: null })
      .then(() => finished.push('append'));
    const replacing = storage.persist({ hardState: null, entries: [], snapshot: snapshot(20, 2, 3_000) });
    const loaded = await loading;
    expect(loaded?.meta).toEqual(old.meta);
    expect(Buffer.from(loaded!.data).equals(Buffer.from(old.data))).toBe(true);
    await Promise.all([appending, replacing]);
    expect(finished).toEqual(['append', 'load']);
    expect(await storage.loadSnapshot()).toEqual(snapshot(20, 2, 3_000));
  });

  it('deletes what its plan covers when appends land while it prepares its deletes', async () => {
    const storage = await open();
    await storage.persist({ hardState: null, entries: entries(1, 5_000, 1), snapshot: null });
    // The first delete handed to a batch is the compaction preparing its switch (outside the
    // write queue): an append issued right then is queued before the switch and lands first.
    let appended: Promise<void> | null = null;
    const createBatch = ClassicLevel.prototype.batch as (this: RawDb, ...args: unknown[]) => unknown;
    vi.spyOn(ClassicLevel.prototype, 'batch').mockImplementation(function (this: RawDb, ...args: unknown[]) {
      const batch = createBatch.apply(this, args) as { del(key: Buffer): unknown };
      const del = batch.del.bind(batch);
      batch.del = (key: Buffer) => {
        appended ??= storage.persist({ hardState: null, entries: entries(5_001, 5_010, 1), snapshot: null });
        return del(key);
      };
      return batch as never;
    });
    // A snapshot beyond the log (allowed): the entries appended meanwhile are covered too, so
    // the switch cannot use the deletes prepared for 1..5,000 alone.
    await storage.compact(snapshot(6_000, 1, 100));
    expect(appended).not.toBeNull();
    await appended;
    vi.restoreAllMocks();
    const expected = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: snapshot(6_000, 1, 100), entries: [] };
    expect(await storage.load()).toEqual(expected);
    await storage.close();
    expect(await (await open()).load()).toEqual(expected);
  });

  it('gives way to a snapshot received from the leader while it writes', async () => {
    const storage = await open(small);
    await storage.persist({ hardState: null, entries: entries(1, 10, 1), snapshot: null });
    const compacting = storage.compact(snapshot(5, 1, 50_000));
    const received = snapshot(20, 2, 3_000);
    await storage.persist({ hardState: { term: 2, vote: null, commit: 20 }, entries: entries(21, 22, 2), snapshot: received });
    await compacting; // superseded: resolves without switching to its image
    const expected = { hardState: { term: 2, vote: null, commit: 20 }, snapshot: received, entries: entries(21, 22, 2) };
    expect(await storage.load()).toEqual(expected);
    await storage.close();
    expect(await (await open(small)).load()).toEqual(expected);
  });
});

describe('LevelRaftStorage: layout', () => {
  it('keys entries by big-endian index under their own prefix, in log order', async () => {
    const storage = await open();
    await storage.persist({ hardState: { term: 1, vote: null, commit: 0 }, entries: entries(1, 300, 1, 1), snapshot: null });
    await storage.close();
    await withRawDb(async (db) => {
      const keys = await db.keys({ gte: entryKey(0), lte: entryKey(Number.MAX_SAFE_INTEGER) }).all();
      expect(keys).toHaveLength(300);
      expect(keys[0]!.toString('hex')).toBe('100000000000000001');
      expect(keys[255]!.toString('hex')).toBe('100000000000000100');
      expect(keys.map((key) => Number(key.readBigUInt64BE(1)))).toEqual(entries(1, 300, 1).map((e) => e.index));
    });
  });

  it('loads each entry as a plain Uint8Array that pins no memory beyond its own record', async () => {
    const storage = await open();
    // More than one read batch (8,192 entries) and more than one read trip's bytes (4 MiB).
    const written = entries(1, 20_000, 4, 300);
    await storage.persist({ hardState: { term: 4, vote: null, commit: 0 }, entries: written, snapshot: null });
    await storage.close();
    const loaded = (await (await open()).load()).entries;
    expect(loaded).toEqual(written);
    const buffers = new Set<ArrayBufferLike>();
    for (const { data } of loaded) {
      expect(Buffer.isBuffer(data)).toBe(false);
      // The record's frame (checksum, version, term, type) and nothing more around the data.
      expect(data.buffer.byteLength - data.length).toBeLessThanOrEqual(16);
      buffers.add(data.buffer);
    }
    expect(buffers.size).toBe(loaded.length);
  });

  it('stores a 5 MiB image as 1 MiB chunk records and drops surplus chunks when a smaller one replaces it', async () => {
    const storage = await open();
    await storage.persist({ hardState: null, entries: [], snapshot: snapshot(10, 1, 5 * 1024 * 1024 + 1) });
    await storage.close();
    const chunkRecords = async (): Promise<Buffer[]> => {
      let values: Buffer[] = [];
      await withRawDb(async (db) => {
        // Both chunk slots: each snapshot is written beside the previous one, which is then dropped.
        values = await db.values({ gte: snapshotChunkKey(0, 0), lte: snapshotChunkKey(0xffff_ffff, 1) }).all();
      });
      return values;
    };
    const big = await chunkRecords();
    expect(big).toHaveLength(6);
    for (const record of big) expect(record.length).toBeLessThanOrEqual(1024 * 1024 + 64);
    const reopened = await open();
    await reopened.persist({ hardState: null, entries: [], snapshot: snapshot(11, 1, 1024 * 1024 + 5) });
    await reopened.close();
    expect(await chunkRecords()).toHaveLength(2);
  });
});

describe('LevelRaftStorage: corruption is detected and named, never applied', () => {
  const tenEntries = async (storage: LevelRaftStorage): Promise<void> => {
    await storage.persist({ hardState: { term: 3, vote: 'n2', commit: 8 }, entries: entries(1, 10, 3, 64), snapshot: null });
  };

  it('a flipped byte in an entry', async () => {
    const error = await loadAfterDamage(tenEntries, () => flipByte(entryKey(5)));
    expect(error).toMatchObject({ record: 'entry', position: 5, keyHex: entryKey(5).toString('hex') });
    expect(error.message).toMatch(/entry record index 5 .*checksum mismatch/);
  });

  it('a flipped byte in an entry header (its term)', async () => {
    const error = await loadAfterDamage(tenEntries, () => flipByte(entryKey(1), 64 + 2));
    expect(error).toMatchObject({ record: 'entry', position: 1 });
  });

  it('a valid record stored under the wrong index', async () => {
    const error = await loadAfterDamage(tenEntries, () =>
      withRawDb(async (db) => {
        await db.put(entryKey(6), (await db.get(entryKey(7)))!);
      }),
    );
    expect(error).toMatchObject({ record: 'entry', position: 6 });
  });

  it('a truncated entry record', async () => {
    const error = await loadAfterDamage(tenEntries, () => withRawDb((db) => db.put(entryKey(10), Buffer.from([1, 2, 3]))));
    expect(error).toMatchObject({ record: 'entry', position: 10 });
  });

  it('a missing entry in the middle of the log', async () => {
    const error = await loadAfterDamage(tenEntries, () => withRawDb((db) => db.del(entryKey(4))));
    expect(error).toMatchObject({ record: 'log', position: 5 });
    expect(error.message).toMatch(/expected index 4/);
  });

  it('a flipped byte in the hard state', async () => {
    const error = await loadAfterDamage(tenEntries, () => flipByte(HARD_STATE_KEY, 2));
    expect(error).toMatchObject({ record: 'hardState' });
    expect(error.message).toContain('hardState');
  });

  const chunked = { snapshotChunkBytes: 4096 };
  const chunkedSnapshot = async (storage: LevelRaftStorage): Promise<void> => {
    await storage.persist({ hardState: null, entries: entries(11, 12, 2), snapshot: snapshot(10, 2, 5 * 4096 - 7) });
  };

  it('a flipped byte in a snapshot chunk', async () => {
    const error = await loadAfterDamage(chunkedSnapshot, () => flipByte(snapshotChunkKey(2), 100), chunked);
    expect(error).toMatchObject({ record: 'snapshotChunk', position: 2 });
    expect(error.message).toContain('chunk 2');
  });

  it('a missing snapshot chunk in the middle', async () => {
    const error = await loadAfterDamage(chunkedSnapshot, () => withRawDb((db) => db.del(snapshotChunkKey(1))), chunked);
    expect(error).toMatchObject({ record: 'snapshotChunk', position: 1 });
    expect(error.message).toMatch(/missing/);
  });

  it('a missing last snapshot chunk', async () => {
    const error = await loadAfterDamage(chunkedSnapshot, () => withRawDb((db) => db.del(snapshotChunkKey(4))), chunked);
    expect(error).toMatchObject({ record: 'snapshotChunk', position: 4 });
  });

  it('a surplus snapshot chunk', async () => {
    const error = await loadAfterDamage(chunkedSnapshot, () => withRawDb(async (db) => db.put(snapshotChunkKey(5), (await db.get(snapshotChunkKey(4)))!)), chunked);
    expect(error).toMatchObject({ record: 'snapshotChunk', position: 5 });
  });

  it('a checksum-valid chunk left over from an older snapshot', async () => {
    let stale: Buffer | undefined;
    const error = await loadAfterDamage(
      async (storage) => {
        await storage.persist({ hardState: null, entries: [], snapshot: snapshot(10, 2, 3 * 4096) });
        await storage.close();
        await withRawDb(async (db) => {
          stale = await db.get(snapshotChunkKey(1));
        });
        const reopened = await open(chunked);
        // Snapshots alternate between the two chunk slots: the third is back in the first's.
        await reopened.persist({ hardState: null, entries: [], snapshot: snapshot(20, 2, 3 * 4096) });
        await reopened.persist({ hardState: null, entries: [], snapshot: snapshot(30, 2, 3 * 4096) });
        await reopened.close();
      },
      () => withRawDb((db) => db.put(snapshotChunkKey(1), stale!)),
      chunked,
    );
    expect(error).toMatchObject({ record: 'snapshotChunk', position: 1 });
    expect(error.message).toMatch(/belongs to snapshot 10\/2/);
  });

  it('a flipped byte in the snapshot metadata fails the open', async () => {
    const storage = await open(chunked);
    await chunkedSnapshot(storage);
    await storage.close();
    await flipByte(SNAPSHOT_META_KEY, 3);
    const error = await corruption(LevelRaftStorage.open(dir, chunked));
    expect(error).toMatchObject({ record: 'snapshotMeta' });
    // The failed open released the lock: the same error again, not STORAGE_LOCKED.
    expect(await corruption(LevelRaftStorage.open(dir, chunked))).toMatchObject({ record: 'snapshotMeta' });
  });

  it('an entry at or below the snapshot index fails the open', async () => {
    const storage = await open();
    await storage.persist({ hardState: null, entries: entries(6, 8, 2), snapshot: snapshot(5, 2) });
    await storage.close();
    await withRawDb(async (db) => {
      const { key, value } = encodeEntry(entry(5, 2));
      await db.put(key, value);
    });
    const error = await corruption(LevelRaftStorage.open(dir));
    expect(error).toMatchObject({ record: 'log', position: 5 });
  });
});
