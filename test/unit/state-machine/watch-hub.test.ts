import { describe, expect, it } from 'vitest';
import type { StateMachineError } from '../../../src/state-machine/errors.js';
import type { WatchEvent, Watcher } from '../../../src/state-machine/watch-hub.js';
import { bytes, expectThrowsCode, Harness, text } from './helpers.js';

/** `type key@revision=value` per event, compact enough to compare whole streams. */
function summarize(events: readonly WatchEvent[]): string[] {
  return events.map((e) => {
    const prev = e.prevKv === undefined ? '' : ` (was ${text(e.prevKv.value)}@${e.prevKv.modRevision})`;
    return e.type === 'put'
      ? `put ${e.kv.key}@${e.kv.modRevision}=${text(e.kv.value)}${prev}`
      : `delete ${e.kv.key}@${e.kv.modRevision}${prev}`;
  });
}

function drain(watcher: Watcher): string[] {
  const events: WatchEvent[] = [];
  while (watcher.readable) events.push(...watcher.take());
  return summarize(events);
}

describe('watch filters', () => {
  it('exact, prefix and children watchers see only their keys', () => {
    const h = new Harness();
    const exact = h.machine.watch({ key: '/a/b' });
    const prefix = h.machine.watch({ key: '/a/', range: 'prefix' });
    const children = h.machine.watch({ key: '/a', range: 'children' });
    const everything = h.machine.watch({ key: '', range: 'prefix' });
    h.put('/a/b', '1');
    h.put('/a/b/c', '2');
    h.put('/a', '3');
    h.put('/ab', '4');
    h.del('/a/b');
    expect(drain(exact)).toEqual(['put /a/b@1=1', 'delete /a/b@5']);
    expect(drain(prefix)).toEqual(['put /a/b@1=1', 'put /a/b/c@2=2', 'delete /a/b@5']);
    expect(drain(children)).toEqual(['put /a/b@1=1', 'delete /a/b@5']);
    expect(drain(everything)).toHaveLength(5);
  });

  it('delivers a txn as one revision, in op order, and prevKv only when asked', () => {
    const h = new Harness();
    h.put('/k/1', 'old');
    const plain = h.machine.watch({ key: '/k/', range: 'prefix' });
    const withPrev = h.machine.watch({ key: '/k/', range: 'prefix', prevKv: true });
    h.txn({
      compare: [],
      success: [
        { type: 'put', key: '/k/2', value: bytes('b') },
        { type: 'put', key: '/k/1', value: bytes('new') },
        { type: 'delete', key: '/k/2-missing' },
      ],
      failure: [],
    });
    h.del('/k/1');
    expect(plain.take(1)).toHaveLength(2); // a revision is never split, even past maxEvents
    expect(drain(plain)).toEqual(['delete /k/1@3']);
    expect(drain(withPrev)).toEqual([
      'put /k/2@2=b',
      'put /k/1@2=new (was old@1)',
      'delete /k/1@3 (was new@2)',
    ]);
  });

  it('indexes many exact watchers by key', () => {
    const h = new Harness();
    const watchers = Array.from({ length: 2000 }, (_, i) => h.machine.watch({ key: `/k/${i}` }));
    h.put('/k/1234', 'x');
    expect(watchers.filter((w) => w.readable).map((w) => w.key)).toEqual(['/k/1234']);
    expect(h.machine.watches.watcherCount).toBe(2000);
  });
});

describe('history then live', () => {
  function withHistory(): Harness {
    const h = new Harness();
    h.put('/a', '1'); // 1
    h.put('/b', '1'); // 2
    h.put('/a', '2'); // 3
    h.del('/a'); // 4
    return h;
  }

  it('replays history from startRevision, then switches to live events with nothing missed or repeated', () => {
    const h = withHistory();
    const watcher = h.machine.watch({ key: '/a', startRevision: 2, prevKv: true });
    expect(watcher.readable).toBe(true);
    expect(watcher.progressRevision).toBe(1);
    h.put('/a', '3'); // 5: committed while the watcher still catches up
    expect(drain(watcher)).toEqual(['put /a@3=2 (was 1@1)', 'delete /a@4 (was 2@3)', 'put /a@5=3']);
    expect(watcher.progressRevision).toBe(5);
    h.put('/a', '4'); // 6
    expect(watcher.readable).toBe(true);
    expect(watcher.progressRevision).toBe(5);
    expect(drain(watcher)).toEqual(['put /a@6=4 (was 3@5)']);
    expect(watcher.progressRevision).toBe(6);
  });

  it('without startRevision only reports changes after now; a future startRevision waits for it', () => {
    const h = withHistory();
    const now = h.machine.watch({ key: '/a' });
    const future = h.machine.watch({ key: '/a', startRevision: 6 });
    expect(now.readable).toBe(false);
    expect(now.progressRevision).toBe(4);
    h.put('/a', 'x'); // 5
    h.put('/a', 'y'); // 6
    expect(drain(now)).toEqual(['put /a@5=x', 'put /a@6=y']);
    expect(drain(future)).toEqual(['put /a@6=y']);
  });

  it('catches up in bounded batches of whole revisions', () => {
    const h = new Harness();
    for (let i = 0; i < 50; i++) h.put(`/p/${i % 5}`, String(i));
    const watcher = h.machine.watch({ key: '/p/', range: 'prefix', startRevision: 1 });
    const sizes: number[] = [];
    const events: WatchEvent[] = [];
    while (watcher.readable) {
      const batch = watcher.take(7);
      sizes.push(batch.length);
      events.push(...batch);
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(events.map((e) => e.kv.modRevision)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('refuses a compacted startRevision with the compact revision named', () => {
    const h = withHistory();
    h.run({ type: 'compact', revision: 3 });
    const error = expectThrowsCode(() => h.machine.watch({ key: '/a', startRevision: 2 }), 'COMPACTED');
    expect(error.compactRevision).toBe(3);
    expect(drain(h.machine.watch({ key: '/a', startRevision: 3, prevKv: true }))).toEqual([
      'put /a@3=2 (was 1@1)',
      'delete /a@4 (was 2@3)',
    ]);
  });

  it('cancels a watcher still catching up when compaction overtakes it', () => {
    const h = withHistory();
    const cancels: StateMachineError[] = [];
    const watcher = h.machine.watch({ key: '/a', startRevision: 1 });
    watcher.setListener({ onCancel: (_w, reason) => cancels.push(reason) });
    h.run({ type: 'compact', revision: 2 });
    expect(watcher.cancelled).toBe(true);
    expect(watcher.cancelReason?.code).toBe('COMPACTED');
    expect(cancels.map((c) => c.compactRevision)).toEqual([2]);
    expect(watcher.take()).toEqual([]);
    expect(h.machine.watches.watcherCount).toBe(0);
  });

  it('rejects bad options', () => {
    const h = withHistory();
    expectThrowsCode(() => h.machine.watch({ key: '' }), 'INVALID_ARGUMENT');
    expectThrowsCode(() => h.machine.watch({ key: '/a', startRevision: -1 }), 'INVALID_ARGUMENT');
    expectThrowsCode(() => h.machine.watch({ key: '/a', maxBufferedEvents: 0 }), 'INVALID_ARGUMENT');
  });
});

describe('slow consumers and listeners', () => {
  it('cancels a watcher whose queue outgrows its bound, and stops delivering to it', () => {
    const h = new Harness();
    const slow = h.machine.watch({ key: '/k', maxBufferedEvents: 3 });
    const reasons: string[] = [];
    slow.setListener({ onCancel: (_w, reason) => reasons.push(reason.code) });
    for (let i = 1; i <= 3; i++) h.put('/k', String(i));
    expect(slow.cancelled).toBe(false);
    expect(slow.bufferedEvents).toBe(3);
    h.put('/k', '4');
    expect(slow.cancelled).toBe(true);
    expect(slow.cancelReason?.code).toBe('WATCHER_TOO_SLOW');
    expect(slow.cancelReason?.message).toMatch(/resume from revision 1/);
    expect(slow.progressRevision).toBe(0);
    expect(reasons).toEqual(['WATCHER_TOO_SLOW']);
    expect(slow.take()).toEqual([]);
    expect(h.machine.watches.watcherCount).toBe(0);
    // Apply was not disturbed.
    expect(h.machine.revision).toBe(4);
  });

  it('keeps a consumer that drains in time, and accepts one revision bigger than the bound', () => {
    const h = new Harness();
    const watcher = h.machine.watch({ key: '/k/', range: 'prefix', maxBufferedEvents: 2 });
    for (let i = 0; i < 10; i++) {
      h.put(`/k/${i}`, 'v');
      watcher.take();
    }
    h.txn({
      compare: [],
      success: [1, 2, 3, 4].map((i) => ({ type: 'put' as const, key: `/k/big${i}`, value: bytes('v') })),
      failure: [],
    });
    expect(watcher.cancelled).toBe(false);
    expect(watcher.take()).toHaveLength(4);
  });

  it('tells a listener when events become readable, once per transition', () => {
    const h = new Harness();
    const watcher = h.machine.watch({ key: '/k' });
    let notified = 0;
    watcher.setListener({ onReadable: () => notified++ });
    expect(notified).toBe(0);
    h.put('/k', '1');
    h.put('/k', '2');
    expect(notified).toBe(1);
    watcher.take();
    h.put('/k', '3');
    expect(notified).toBe(2);
    // A watcher with history to read is readable at once: setListener reports it immediately.
    const late = h.machine.watch({ key: '/k', startRevision: 1 });
    let lateNotified = 0;
    late.setListener({ onReadable: () => lateNotified++ });
    expect(lateNotified).toBe(1);
  });

  it('cancels a watcher whose listener throws, without disturbing apply or other watchers', () => {
    const h = new Harness();
    const bad = h.machine.watch({ key: '/k' });
    bad.setListener({
      onReadable: () => {
        throw new Error('boom');
      },
    });
    const good = h.machine.watch({ key: '/k' });
    h.put('/k', '1');
    expect(bad.cancelReason?.code).toBe('LISTENER_FAILED');
    expect(bad.cancelReason?.message).toMatch(/boom/);
    expect(drain(good)).toEqual(['put /k@1=1']);
  });

  it('cancel() ends the watcher and reports WATCH_CANCELLED once', () => {
    const h = new Harness();
    const watcher = h.machine.watch({ key: '/k' });
    const reasons: string[] = [];
    watcher.setListener({ onCancel: (_w, reason) => reasons.push(reason.code) });
    watcher.cancel();
    watcher.cancel();
    h.put('/k', '1');
    expect(reasons).toEqual(['WATCH_CANCELLED']);
    expect(watcher.readable).toBe(false);
  });
});

describe('watches across snapshot restore', () => {
  it('a live watcher catches up through the restored history when the state jumps ahead', () => {
    const leader = new Harness();
    const follower = new Harness();
    leader.put('/a', '1');
    follower.put('/a', '1');
    const watcher = follower.machine.watch({ key: '/a', prevKv: true });
    leader.put('/a', '2');
    leader.put('/b', 'x');
    leader.put('/a', '3');
    follower.machine.restore(leader.machine.snapshot());
    expect(drain(watcher)).toEqual(['put /a@2=2 (was 1@1)', 'put /a@4=3 (was 2@2)']);
    const afterRestore = new Harness(follower.machine);
    afterRestore.put('/a', '4');
    expect(drain(watcher)).toEqual(['put /a@5=4 (was 3@4)']);
  });

  it('ends watchers whose position the restored state no longer covers', () => {
    const leader = new Harness();
    const follower = new Harness();
    for (let i = 0; i < 5; i++) leader.put('/a', String(i));
    leader.run({ type: 'compact', revision: 4 });
    const behind = follower.machine.watch({ key: '/a' });
    follower.machine.restore(leader.machine.snapshot());
    expect(behind.cancelReason?.code).toBe('COMPACTED');

    const ahead = new Harness();
    for (let i = 0; i < 9; i++) ahead.put('/a', String(i));
    const stranded = ahead.machine.watch({ key: '/a' });
    ahead.machine.restore(leader.machine.snapshot());
    expect(stranded.cancelReason?.code).toBe('STATE_RESTORED');
  });
});

describe('watch from any revision equals the history (model check)', () => {
  it('events from every start revision match a replay of the committed changes', () => {
    const h = new Harness();
    const keys = ['/a', '/a/x', '/a/y/z', '/b'];
    const all = h.machine.watch({ key: '', range: 'prefix', prevKv: true });
    for (let i = 0; i < 40; i++) {
      const key = keys[(i * 7) % keys.length]!;
      if (i % 5 === 4) h.del(key);
      else h.put(key, String(i));
    }
    const live = drain(all);
    for (let start = 1; start <= h.machine.revision; start++) {
      const replay = drain(h.machine.watch({ key: '', range: 'prefix', startRevision: start, prevKv: true }));
      expect(replay).toEqual(live.filter((line) => Number(/@(\d+)/.exec(line)![1]) >= start));
    }
  });
});
