/**
 * The RaftStorage contract as a reusable suite, run against every implementation (in the
 * spirit of abstract-level's shared test suite). An implementation passes when it behaves like
 * the contract in src/storage/raft-storage.ts, including its refusal of invalid writes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SNAPSHOT_DATA_IN_STORAGE, type PersistedState } from '../../src/raft/types.js';
import type { RaftStorage } from '../../src/storage/raft-storage.js';
import { entries, entry, snapshot, snapshotImage } from './helpers.js';

export interface StorageHarness {
  /** A fresh, empty store. */
  open(): Promise<RaftStorage>;
  /** Close `storage` (or drop it, as a crash would) and open the same store again. */
  reopen(storage: RaftStorage): Promise<RaftStorage>;
  /** Release everything the harness created (stores, temp directories). */
  cleanup(): Promise<void>;
}

const NO_HARD_STATE = null;

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? `no code: ${String(error)}`;
  }
  throw new Error('expected the operation to reject');
}

function indexes(state: PersistedState): number[] {
  return state.entries.map((e) => e.index);
}

export function raftStorageConformance(name: string, makeHarness: () => StorageHarness): void {
  describe(`RaftStorage conformance: ${name}`, () => {
    let harness: StorageHarness;
    let storage: RaftStorage;

    beforeEach(async () => {
      harness = makeHarness();
      storage = await harness.open();
    });

    afterEach(async () => {
      await storage.close();
      await harness.cleanup();
    });

    async function reopen(): Promise<PersistedState> {
      storage = await harness.reopen(storage);
      return storage.load();
    }

    it('starts empty: term 0, no vote, commit 0, no snapshot, no entries', async () => {
      expect(await storage.load()).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
    });

    it('round-trips the hard state, overwriting it each time', async () => {
      await storage.persist({ hardState: { term: 3, vote: 'n2', commit: 7 }, entries: [], snapshot: null });
      expect((await storage.load()).hardState).toEqual({ term: 3, vote: 'n2', commit: 7 });
      const extreme = { term: Number.MAX_SAFE_INTEGER, vote: 'nœud-ü-☃', commit: Number.MAX_SAFE_INTEGER - 1 };
      await storage.persist({ hardState: extreme, entries: [], snapshot: null });
      expect((await storage.load()).hardState).toEqual(extreme);
      // The empty string is a vote, distinct from no vote.
      await storage.persist({ hardState: { term: 9, vote: '', commit: 0 }, entries: [], snapshot: null });
      expect((await storage.load()).hardState).toEqual({ term: 9, vote: '', commit: 0 });
      await storage.persist({ hardState: { term: 10, vote: null, commit: 1 }, entries: [], snapshot: null });
      expect(await reopen()).toMatchObject({ hardState: { term: 10, vote: null, commit: 1 } });
    });

    it('appends entries across batches and reads them back in order, bytes intact', async () => {
      const confEntry = entry(3, 1, 40, 1);
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 2, 1, 0), snapshot: null });
      await storage.persist({ hardState: NO_HARD_STATE, entries: [confEntry, ...entries(4, 10, 2, 300)], snapshot: null });
      const state = await storage.load();
      expect(indexes(state)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(state.entries).toEqual([...entries(1, 2, 1, 0), confEntry, ...entries(4, 10, 2, 300)]);
      expect(state.entries[2]!.type).toBe(1);
      expect(state.entries[0]!.data).toHaveLength(0);
    });

    it('replaces a conflicting suffix with a shorter one', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 10, 1), snapshot: null });
      await storage.persist({ hardState: { term: 2, vote: 'n3', commit: 4 }, entries: entries(5, 6, 2), snapshot: null });
      const state = await storage.load();
      expect(state.entries).toEqual([...entries(1, 4, 1), ...entries(5, 6, 2)]);
      expect(state.hardState).toEqual({ term: 2, vote: 'n3', commit: 4 });
      expect(await reopen()).toEqual(state);
    });

    it('replaces a conflicting suffix with a longer one, and from the very first entry', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 5, 1), snapshot: null });
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(3, 12, 2), snapshot: null });
      expect((await storage.load()).entries).toEqual([...entries(1, 2, 1), ...entries(3, 12, 2)]);
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 2, 3), snapshot: null });
      expect((await storage.load()).entries).toEqual(entries(1, 2, 3));
      expect(indexes(await reopen())).toEqual([1, 2]);
    });

    it('persist with a snapshot discards the whole log, then stores the entries after it', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 30, 1), snapshot: null });
      // A snapshot below the log's end still discards everything (the follower's log conflicted).
      const snap = snapshot(20, 2, 1000);
      await storage.persist({ hardState: { term: 2, vote: null, commit: 20 }, entries: entries(21, 23, 2), snapshot: snap });
      const state = await storage.load();
      expect(state.snapshot).toEqual(snap);
      expect(state.entries).toEqual(entries(21, 23, 2));
      expect(state.hardState).toEqual({ term: 2, vote: null, commit: 20 });
      expect(await reopen()).toEqual(state);
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(24, 25, 2), snapshot: null });
      expect(indexes(await storage.load())).toEqual([21, 22, 23, 24, 25]);
    });

    it('persist with a snapshot beyond the log leaves an empty log that continues after the snapshot', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 5, 1), snapshot: null });
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: snapshot(100, 4) });
      expect(await storage.load()).toMatchObject({ snapshot: { meta: { index: 100, term: 4 } }, entries: [] });
      expect(await rejectionCode(storage.persist({ hardState: NO_HARD_STATE, entries: entries(102, 103, 4), snapshot: null }))).toBe('STORAGE_INVALID_WRITE');
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(101, 102, 4), snapshot: null });
      expect(indexes(await reopen())).toEqual([101, 102]);
    });

    it('drops incoming entries the snapshot already covers', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: snapshot(10, 2) });
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(8, 13, 2), snapshot: null });
      expect(indexes(await storage.load())).toEqual([11, 12, 13]);
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(5, 9, 2), snapshot: null });
      expect(indexes(await storage.load())).toEqual([11, 12, 13]);
      // Together with a snapshot in the same batch.
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(19, 22, 3), snapshot: snapshot(20, 3) });
      expect(indexes(await reopen())).toEqual([21, 22]);
    });

    it('compacts: stores the snapshot and discards covered entries, keeping later ones', async () => {
      await storage.persist({ hardState: { term: 1, vote: 'n1', commit: 10 }, entries: entries(1, 12, 1), snapshot: null });
      await storage.compact(snapshot(6, 1, 500));
      let state = await storage.load();
      expect(state.snapshot?.meta.index).toBe(6);
      expect(state.entries).toEqual(entries(7, 12, 1));
      expect(state.hardState).toEqual({ term: 1, vote: 'n1', commit: 10 });
      await storage.compact(snapshot(9, 1, 10));
      state = await storage.load();
      expect(state.snapshot).toEqual(snapshot(9, 1, 10));
      expect(indexes(state)).toEqual([10, 11, 12]);
      expect(await reopen()).toEqual(state);
      // Compacting at the very end empties the log; the next entry follows the snapshot.
      await storage.compact(snapshot(12, 1));
      expect((await storage.load()).entries).toEqual([]);
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(13, 14, 2), snapshot: null });
      expect(indexes(await reopen())).toEqual([13, 14]);
    });

    it('compacting again at the same index replaces the snapshot and keeps the log', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 5, 1), snapshot: null });
      await storage.compact(snapshot(3, 1, 100));
      await storage.compact(snapshot(3, 1, 7));
      const state = await storage.load();
      expect(state.snapshot).toEqual(snapshot(3, 1, 7));
      expect(indexes(state)).toEqual([4, 5]);
    });

    it('stores snapshot, entries and hard state together', async () => {
      const conf = { voters: ['a', 'b', 'c'], learners: ['d', 'e'] };
      const snap = snapshot(50, 5, 3000, conf);
      await storage.persist({ hardState: { term: 6, vote: 'b', commit: 52 }, entries: entries(51, 55, 6), snapshot: snap });
      const expected = { hardState: { term: 6, vote: 'b', commit: 52 }, snapshot: snap, entries: entries(51, 55, 6) };
      expect(await storage.load()).toEqual(expected);
      expect(await reopen()).toEqual(expected);
    });

    it('round-trips an empty image and an empty configuration', async () => {
      const snap = { meta: { index: 4, term: 2, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) };
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: snap });
      expect((await storage.load()).snapshot).toEqual(snap);
      expect((await reopen()).snapshot).toEqual(snap);
    });

    it('round-trips a 5 MiB snapshot, then a smaller one replaces it entirely', async () => {
      const big = { meta: { index: 1000, term: 7, conf: { voters: ['n1'], learners: [] } }, data: snapshotImage(1000, 7, 5 * 1024 * 1024 + 123) };
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: big });
      const loaded = await reopen();
      expect(loaded.snapshot?.meta).toEqual(big.meta);
      expect(Buffer.from(loaded.snapshot!.data).equals(Buffer.from(big.data))).toBe(true);
      const small = snapshot(1001, 7, 1500);
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: small });
      expect((await storage.load()).snapshot).toEqual(small);
      expect((await reopen()).snapshot).toEqual(small);
    });

    it('loadSnapshot gives the stored snapshot with its image', async () => {
      expect(await storage.loadSnapshot()).toBeNull();
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 10, 1), snapshot: null });
      await storage.compact(snapshot(6, 1, 700));
      expect(await storage.loadSnapshot()).toEqual(snapshot(6, 1, 700));
      const received = snapshot(20, 2, 300, { voters: ['a', 'b'], learners: ['c'] });
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: received });
      expect(await storage.loadSnapshot()).toEqual(received);
      storage = await harness.reopen(storage);
      expect(await storage.loadSnapshot()).toEqual(received);
    });

    it('refuses to store a snapshot whose image the core forgot (SNAPSHOT_DATA_IN_STORAGE)', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 4, 1), snapshot: null });
      const forgotten = { meta: snapshot(3, 1).meta, data: SNAPSHOT_DATA_IN_STORAGE };
      expect(await rejectionCode(storage.compact(forgotten))).toBe('STORAGE_INVALID_WRITE');
      expect(await rejectionCode(storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: forgotten }))).toBe(
        'STORAGE_INVALID_WRITE',
      );
      expect(await storage.loadSnapshot()).toBeNull();
    });

    it('refuses a gap between the log and new entries, changing nothing', async () => {
      await storage.persist({ hardState: { term: 1, vote: null, commit: 0 }, entries: entries(1, 3, 1), snapshot: null });
      const before = await storage.load();
      expect(await rejectionCode(storage.persist({ hardState: { term: 9, vote: null, commit: 0 }, entries: entries(5, 6, 1), snapshot: null }))).toBe('STORAGE_INVALID_WRITE');
      expect(await storage.load()).toEqual(before);
      // The store keeps working after a refused write.
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(4, 4, 1), snapshot: null });
      expect(indexes(await storage.load())).toEqual([1, 2, 3, 4]);
    });

    it('refuses the first entry of an empty log at any index but 1', async () => {
      expect(await rejectionCode(storage.persist({ hardState: NO_HARD_STATE, entries: entries(2, 3, 1), snapshot: null }))).toBe('STORAGE_INVALID_WRITE');
    });

    it('refuses malformed batches: non-contiguous, non-integer, unknown type, bad hard state', async () => {
      const bad = [
        { hardState: NO_HARD_STATE, entries: [entry(1, 1), entry(3, 1)], snapshot: null },
        { hardState: NO_HARD_STATE, entries: [entry(2, 1), entry(1, 1)], snapshot: null },
        { hardState: NO_HARD_STATE, entries: [{ ...entry(1, 1), index: 1.5 }], snapshot: null },
        { hardState: NO_HARD_STATE, entries: [{ ...entry(1, 1), index: 0 }], snapshot: null },
        { hardState: NO_HARD_STATE, entries: [{ ...entry(1, 1), term: -1 }], snapshot: null },
        { hardState: NO_HARD_STATE, entries: [{ ...entry(1, 1), type: 7 as 0 }], snapshot: null },
        { hardState: { term: 2 ** 53, vote: null, commit: 0 }, entries: [], snapshot: null },
        { hardState: { term: 1, vote: null, commit: Number.NaN }, entries: [], snapshot: null },
      ];
      for (const batch of bad) expect(await rejectionCode(storage.persist(batch))).toBe('STORAGE_INVALID_WRITE');
      expect(await storage.load()).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
    });

    it('refuses a snapshot older than the stored one, in persist and in compact', async () => {
      await storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 10, 1), snapshot: null });
      await storage.compact(snapshot(8, 1));
      expect(await rejectionCode(storage.compact(snapshot(7, 1)))).toBe('STORAGE_INVALID_WRITE');
      expect(await rejectionCode(storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: snapshot(5, 1) }))).toBe('STORAGE_INVALID_WRITE');
      const state = await storage.load();
      expect(state.snapshot?.meta.index).toBe(8);
      expect(indexes(state)).toEqual([9, 10]);
    });

    it('treats an empty batch as a no-op', async () => {
      await storage.persist({ hardState: { term: 2, vote: 'x', commit: 1 }, entries: entries(1, 2, 2), snapshot: null });
      const before = await storage.load();
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: null });
      expect(await storage.load()).toEqual(before);
    });

    it('is not affected by callers mutating what they wrote or what they loaded', async () => {
      const written = entry(1, 1, 8);
      const image = snapshotImage(3, 1, 32);
      await storage.persist({ hardState: NO_HARD_STATE, entries: [written], snapshot: null });
      written.data.fill(0);
      const loaded = await storage.load();
      expect(loaded.entries[0]).toEqual(entry(1, 1, 8));
      loaded.entries[0]!.data.fill(0);
      expect((await storage.load()).entries[0]).toEqual(entry(1, 1, 8));
      const snap = { meta: { index: 3, term: 1, conf: { voters: ['n1'], learners: [] } }, data: image };
      await storage.persist({ hardState: NO_HARD_STATE, entries: [], snapshot: snap });
      image.fill(0);
      expect((await storage.load()).snapshot!.data).toEqual(snapshotImage(3, 1, 32));
    });

    it('rejects every operation after close with STORAGE_CLOSED', async () => {
      await storage.close();
      expect(await rejectionCode(storage.load())).toBe('STORAGE_CLOSED');
      expect(await rejectionCode(storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 1, 1), snapshot: null }))).toBe('STORAGE_CLOSED');
      expect(await rejectionCode(storage.compact(snapshot(1, 1)))).toBe('STORAGE_CLOSED');
      expect(await rejectionCode(storage.loadSnapshot())).toBe('STORAGE_CLOSED');
      await storage.close(); // idempotent
      storage = await harness.reopen(storage);
      expect((await storage.load()).entries).toEqual([]);
    });

    it('serializes operations issued without waiting; a compaction shows once it resolved', async () => {
      const writes = [
        storage.persist({ hardState: NO_HARD_STATE, entries: entries(1, 5, 1), snapshot: null }),
        storage.persist({ hardState: NO_HARD_STATE, entries: entries(6, 8, 1), snapshot: null }),
        storage.persist({ hardState: { term: 2, vote: null, commit: 3 }, entries: entries(4, 4, 2), snapshot: null }),
      ];
      const loading = storage.load();
      // A compaction may finish after writes issued later (LevelDB stores its image in steps).
      const compacting = storage.compact(snapshot(2, 1));
      await Promise.all(writes);
      expect((await loading).entries).toEqual([...entries(1, 3, 1), ...entries(4, 4, 2)]);
      await compacting;
      const state = await storage.load();
      expect(state.entries).toEqual([...entries(3, 3, 1), ...entries(4, 4, 2)]);
      expect(state.snapshot?.meta.index).toBe(2);
    });
  });
}
