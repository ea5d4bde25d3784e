import { describe, expect, it } from 'vitest';
import { WatchCursor, type CursorEvent } from '../../../src/client/watch-cursor.js';

const put = (key: string, modRevision: number, version = 1): CursorEvent => ({
  type: 'put',
  key,
  modRevision,
  version,
});
const del = (key: string, modRevision: number): CursorEvent => ({
  type: 'delete',
  key,
  modRevision,
  version: 0,
});
const revisions = (events: readonly CursorEvent[]) => events.map((e) => `${e.key}@${e.modRevision}`);

describe('WatchCursor', () => {
  it('a "from now" watch resumes after the revision it was created at', () => {
    const cursor = new WatchCursor(0);
    expect(cursor.startRevision).toBe(0);
    cursor.onCreated(41);
    expect(cursor.startRevision).toBe(42);
    // A second creation (after a resume) does not move it back.
    cursor.onCreated(10);
    expect(cursor.startRevision).toBe(42);
  });

  it('a watch from a revision keeps it until events arrive', () => {
    const cursor = new WatchCursor(5);
    cursor.onCreated(100);
    expect(cursor.startRevision).toBe(5);
    expect(revisions(cursor.accept([put('/a', 5), put('/b', 7)]))).toEqual(['/a@5', '/b@7']);
    expect(cursor.startRevision).toBe(8);
    expect(cursor.lastRevision).toBe(7);
  });

  it('drops a replay of everything already delivered after a resume', () => {
    const cursor = new WatchCursor(1);
    cursor.accept([put('/a', 1), put('/a', 2, 2), put('/b', 3)]);
    // A server that replays from too early: only the new event passes.
    expect(revisions(cursor.accept([put('/a', 2, 2), put('/b', 3), put('/c', 4)]))).toEqual(['/c@4']);
  });

  it('keeps every event of one revision (a txn), and dedupes them by identity', () => {
    const cursor = new WatchCursor(1);
    expect(revisions(cursor.accept([put('/a', 9), put('/b', 9), del('/c', 9)]))).toEqual([
      '/a@9',
      '/b@9',
      '/c@9',
    ]);
    // The same revision arriving again, plus one event of it not yet seen (a split revision).
    expect(revisions(cursor.accept([put('/a', 9), put('/d', 9), put('/b', 9)]))).toEqual(['/d@9']);
    expect(cursor.startRevision).toBe(10);
  });

  it('tells a put and a delete of the same key in one revision apart', () => {
    const cursor = new WatchCursor(1);
    expect(cursor.accept([put('/a', 3, 4), del('/a', 3)])).toHaveLength(2);
    expect(cursor.accept([put('/a', 3, 4), del('/a', 3)])).toHaveLength(0);
  });

  it('drops events before a "from now" start and out-of-order events', () => {
    const cursor = new WatchCursor(0);
    cursor.onCreated(20);
    expect(revisions(cursor.accept([put('/old', 20), put('/new', 21)]))).toEqual(['/new@21']);
    expect(revisions(cursor.accept([put('/late', 15), put('/next', 22)]))).toEqual(['/next@22']);
  });

  it('a progress notification moves the resume point without delivering anything', () => {
    const cursor = new WatchCursor(0);
    cursor.onCreated(3);
    cursor.onProgress(50);
    expect(cursor.startRevision).toBe(51);
    expect(cursor.accept([put('/a', 50)])).toHaveLength(0);
    expect(cursor.accept([put('/a', 51)])).toHaveLength(1);
    cursor.onProgress(40);
    expect(cursor.startRevision).toBe(52);
  });
});
