import { describe, expect, it } from 'vitest';
import { MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS } from '../../../src/state-machine/coordination.js';
import { KvStateMachine } from '../../../src/state-machine/state-machine.js';
import type { Command, WatchEvent } from '../../../src/state-machine/index.js';
import { bytes, Harness, stateImage, text } from './helpers.js';

function describeEvents(events: readonly WatchEvent[]): string[] {
  return events.map((e) => {
    const prev = e.prevKv === undefined ? '' : ` (was session ${e.prevKv.session})`;
    return `${e.type} ${e.kv.key}@${e.kv.modRevision} session ${e.kv.session}${prev}`;
  });
}

function drain(machine: KvStateMachine, key = '', startRevision?: number): string[] {
  const watcher = machine.watch({
    key,
    range: 'prefix',
    prevKv: true,
    ...(startRevision === undefined ? {} : { startRevision }),
  });
  const events: WatchEvent[] = [];
  while (watcher.readable) events.push(...watcher.take());
  watcher.cancel();
  return describeEvents(events);
}

/** Runs `command`, expects error `code`, and checks that nothing but appliedIndex changed. */
function expectRefused(h: Harness, command: Command, code: string): string {
  const before = stateImage(h.machine);
  const applied = h.machine.appliedIndex;
  const error = h.runFailing(command, code);
  expect(stateImage(h.machine)).toEqual(before);
  expect(h.machine.appliedIndex).toBe(applied + 1);
  return error.message;
}

describe('openSession', () => {
  it('uses the log index as the session id and writes no key', () => {
    const h = new Harness();
    h.put('/a', '1'); // index 1, revision 1
    expect(h.run({ type: 'openSession', ttlMs: 5000 })).toEqual({
      type: 'openSession',
      sessionId: 2,
      ttlMs: 5000,
      revision: 1,
    });
    expect(h.machine.revision).toBe(1);
    expect(h.openSession(MIN_SESSION_TTL_MS)).toBe(3);
    expect(h.machine.sessions()).toEqual([
      { sessionId: 2, ttlMs: 5000, checkpointRemainingMs: null, keys: [] },
      { sessionId: 3, ttlMs: MIN_SESSION_TTL_MS, checkpointRemainingMs: null, keys: [] },
    ]);
    expect(h.machine.session(2)).toEqual({
      sessionId: 2,
      ttlMs: 5000,
      checkpointRemainingMs: null,
      keys: [],
    });
    expect(h.machine.session(1)).toBeUndefined();
    expect(h.machine.sessionCount).toBe(2);
  });

  it('refuses a TTL outside 1 s .. 1 h or not an integer, changing nothing', () => {
    const h = new Harness();
    h.openSession();
    for (const ttlMs of [0, MIN_SESSION_TTL_MS - 1, MAX_SESSION_TTL_MS + 1]) {
      expect(expectRefused(h, { type: 'openSession', ttlMs }, 'INVALID_ARGUMENT')).toMatch(
        /session TTL must be an integer number of milliseconds from 1000 to 3600000/,
      );
    }
    expect(h.openSession(MAX_SESSION_TTL_MS)).toBe(5);
    // The codec cannot carry a fraction or NaN; an in-process caller gets the same validation.
    for (const ttlMs of [1500.5, Number.NaN]) {
      const outcome = h.machine.applyCommand(h.machine.appliedIndex + 1, { type: 'openSession', ttlMs });
      expect(!outcome.ok && outcome.error.code).toBe('INVALID_ARGUMENT');
    }
    expect(h.machine.sessions().map((s) => s.sessionId)).toEqual([1, 5]);
  });
});

describe('ephemeral keys (put with a session)', () => {
  it('marks the key as owned, in reads, history and watch events', () => {
    const h = new Harness();
    const s = h.openSession(); // index 1
    const live = h.machine.watch({ key: '/e', range: 'prefix', prevKv: true });
    h.putIn(s, '/e/1', 'x'); // revision 1
    h.put('/e/2', 'y'); // revision 2
    expect(h.get('/e/1')).toMatchObject({ key: '/e/1', session: s, version: 1 });
    expect(h.get('/e/2')).toMatchObject({ session: 0 });
    expect(h.machine.range({ key: '/e', range: 'children' }).children?.map((c) => c.kv?.session)).toEqual([
      s,
      0,
    ]);
    expect(h.machine.session(s)?.keys).toEqual(['/e/1']);
    const events: WatchEvent[] = [];
    while (live.readable) events.push(...live.take());
    expect(describeEvents(events)).toEqual([`put /e/1@1 session ${s}`, 'put /e/2@2 session 0']);
  });

  it('refuses an unknown session with SESSION_NOT_FOUND naming it, changing nothing', () => {
    const h = new Harness();
    h.put('/a', 'persistent');
    const s = h.openSession();
    expect(
      expectRefused(h, { type: 'put', key: '/a', value: bytes('x'), session: 99 }, 'SESSION_NOT_FOUND'),
    ).toMatch(/cannot put "\/a": session 99 does not exist/);
    const error = h.runFailing(
      { type: 'put', key: '/b', value: bytes('x'), session: 77 },
      'SESSION_NOT_FOUND',
    );
    expect(error.sessionId).toBe(77);
    h.run({ type: 'closeSession', sessionId: s, reason: 'closed' });
    // A closed session is as unknown as one never opened.
    expectRefused(h, { type: 'put', key: '/a', value: bytes('x'), session: s }, 'SESSION_NOT_FOUND');
    expect(h.get('/a')).toMatchObject({ session: 0, version: 1 });
  });

  it('refuses session 0 and other non-positive ids as INVALID_ARGUMENT', () => {
    const h = new Harness();
    expect(
      expectRefused(h, { type: 'put', key: '/a', value: bytes('x'), session: 0 }, 'INVALID_ARGUMENT'),
    ).toMatch(/put session must be a positive integer \(a session id; omit it for a persistent key\), got 0/);
    const outcome = h.machine.applyCommand(h.nextIndex, {
      type: 'put',
      key: '/a',
      value: bytes('x'),
      session: -1,
    });
    expect(!outcome.ok && outcome.error.code).toBe('INVALID_ARGUMENT');
  });

  it('a put without session detaches the key; a put with another session moves it', () => {
    const h = new Harness();
    const s1 = h.openSession();
    const s2 = h.openSession();
    h.putIn(s1, '/k', '1');
    h.putIn(s1, '/k', '2'); // the same owner again: still one key
    expect(h.machine.session(s1)?.keys).toEqual(['/k']);
    h.putIn(s2, '/k', '3');
    expect(h.machine.session(s1)?.keys).toEqual([]);
    expect(h.machine.session(s2)?.keys).toEqual(['/k']);
    expect(h.get('/k')).toMatchObject({ session: s2, version: 3, createRevision: 1 });
    h.put('/k', '4');
    expect(h.machine.session(s2)?.keys).toEqual([]);
    expect(h.get('/k')).toMatchObject({ session: 0, version: 4 });
    // Ending either session now leaves the detached key alone.
    h.run({ type: 'closeSession', sessionId: s2, reason: 'expired' });
    expect(h.get('/k')).toMatchObject({ session: 0, version: 4 });
    // Past revisions still show who owned the key then.
    expect(h.get('/k', 1)?.session).toBe(s1);
    expect(h.get('/k', 3)?.session).toBe(s2);
  });

  it('delete, deleteRange and txn deletes remove owned keys from their session', () => {
    const h = new Harness();
    const s = h.openSession();
    for (const key of ['/a', '/b/1', '/b/2', '/c', '/d']) h.putIn(s, key, key);
    h.del('/a');
    h.run({ type: 'deleteRange', prefix: '/b/' });
    h.txn({ compare: [], success: [{ type: 'delete', key: '/c' }], failure: [] });
    expect(h.machine.session(s)?.keys).toEqual(['/d']);
    // A deleted key that is put again without a session does not come back to the session.
    h.put('/a', 'again');
    expect(h.machine.session(s)?.keys).toEqual(['/d']);
  });

  it('txn puts accept a session, checked before anything is written', () => {
    const h = new Harness();
    const s = h.openSession();
    const result = h.txn({
      compare: [],
      success: [
        { type: 'put', key: '/t/1', value: bytes('1'), session: s },
        { type: 'put', key: '/t/2', value: bytes('2') },
      ],
      failure: [],
    });
    expect(result.succeeded).toBe(true);
    expect(h.machine.session(s)?.keys).toEqual(['/t/1']);
    expect(
      expectRefused(
        h,
        {
          type: 'txn',
          compare: [],
          success: [
            { type: 'put', key: '/t/3', value: bytes('3') },
            { type: 'put', key: '/t/4', value: bytes('4'), session: 42 },
          ],
          failure: [],
        },
        'SESSION_NOT_FOUND',
      ),
    ).toMatch(/cannot put "\/t\/4" in txn: session 42/);
    // A branch that does not run is not checked.
    const skipped = h.txn({
      compare: [{ key: '/t/1', target: 'version', op: '=', value: 1 }],
      success: [{ type: 'put', key: '/t/5', value: bytes('5') }],
      failure: [{ type: 'put', key: '/t/6', value: bytes('6'), session: 42 }],
    });
    expect(skipped.succeeded).toBe(true);
    expect(h.dump('/t/')).toEqual(['/t/1=1', '/t/2=2', '/t/5=5']);
  });
});

describe('closeSession', () => {
  it('deletes every owned key at one revision; watchers see each delete', () => {
    const h = new Harness();
    const s = h.openSession(); // index 1
    const other = h.openSession(); // index 2
    h.putIn(s, '/svc/b', 'b'); // revision 1
    h.putIn(s, '/svc/a', 'a'); // 2
    h.putIn(other, '/svc/c', 'c'); // 3
    h.put('/plain', 'p'); // 4
    h.putIn(s, '/x/y', 'z'); // 5
    const watcher = h.machine.watch({ key: '/svc/', range: 'prefix', prevKv: true });
    const result = h.run({ type: 'closeSession', sessionId: s, reason: 'expired' });
    expect(result).toEqual({
      type: 'closeSession',
      sessionId: s,
      revision: 6,
      deletedKeys: ['/svc/a', '/svc/b', '/x/y'],
    });
    expect(h.machine.revision).toBe(6);
    expect(h.dump()).toEqual(['/plain=p', '/svc/c=c']);
    expect(h.machine.session(s)).toBeUndefined();
    expect(h.machine.sessions().map((info) => info.sessionId)).toEqual([other]);
    const events: WatchEvent[] = [];
    while (watcher.readable) events.push(...watcher.take());
    expect(describeEvents(events)).toEqual([
      `delete /svc/a@6 session 0 (was session ${s})`,
      `delete /svc/b@6 session 0 (was session ${s})`,
    ]);
    // History replays the same deletes at the same revision.
    expect(drain(h.machine, '', 6)).toEqual([
      `delete /svc/a@6 session 0 (was session ${s})`,
      `delete /svc/b@6 session 0 (was session ${s})`,
      `delete /x/y@6 session 0 (was session ${s})`,
    ]);
  });

  it('a session without keys closes without a new revision', () => {
    const h = new Harness();
    h.put('/a', '1');
    const s = h.openSession();
    expect(h.run({ type: 'closeSession', sessionId: s, reason: 'closed' })).toEqual({
      type: 'closeSession',
      sessionId: s,
      revision: 1,
      deletedKeys: [],
    });
    expect(h.machine.revision).toBe(1);
    expect(h.machine.sessions()).toEqual([]);
  });

  it('refuses an unknown or already closed session with SESSION_NOT_FOUND, changing nothing', () => {
    const h = new Harness();
    const s = h.openSession();
    h.putIn(s, '/a', '1');
    expect(
      expectRefused(h, { type: 'closeSession', sessionId: 12345, reason: 'closed' }, 'SESSION_NOT_FOUND'),
    ).toBe(
      'cannot close session 12345: session 12345 does not exist (it was never opened, or it was closed or expired)',
    );
    h.run({ type: 'closeSession', sessionId: s, reason: 'closed' });
    expectRefused(h, { type: 'closeSession', sessionId: s, reason: 'expired' }, 'SESSION_NOT_FOUND');
  });

  it('validates its fields', () => {
    const h = new Harness();
    expectRefused(h, { type: 'closeSession', sessionId: 0, reason: 'closed' }, 'INVALID_ARGUMENT');
    const outcome = h.machine.applyCommand(h.nextIndex, {
      type: 'closeSession',
      sessionId: 1,
      reason: 'bored',
    } as unknown as Command);
    expect(!outcome.ok && outcome.error.message).toMatch(/reason must be 'closed' or 'expired'/);
  });

  it('keeps ownership through compaction', () => {
    const h = new Harness();
    const s = h.openSession();
    h.putIn(s, '/a', '1'); // 1
    h.put('/b', '1'); // 2
    h.put('/b', '2'); // 3
    h.run({ type: 'compact', revision: 3 });
    expect(h.get('/a')?.session).toBe(s);
    expect(h.machine.session(s)?.keys).toEqual(['/a']);
    expect(h.run({ type: 'closeSession', sessionId: s, reason: 'expired' })).toMatchObject({
      revision: 4,
      deletedKeys: ['/a'],
    });
  });
});

describe('checkpointSessions', () => {
  it('records remaining TTLs (clamped to the TTL), ignores unknown ids and writes no key', () => {
    const h = new Harness();
    h.put('/a', '1');
    const s1 = h.openSession(5000);
    const s2 = h.openSession(8000);
    expect(
      h.run({
        type: 'checkpointSessions',
        sessions: [
          { sessionId: s1, remainingMs: 1234 },
          { sessionId: s2, remainingMs: 99_999 },
          { sessionId: 777, remainingMs: 10 },
        ],
      }),
    ).toEqual({ type: 'checkpointSessions', revision: 1 });
    expect(h.machine.revision).toBe(1);
    expect(h.machine.session(s1)?.checkpointRemainingMs).toBe(1234);
    expect(h.machine.session(s2)?.checkpointRemainingMs).toBe(8000);
    expect(h.machine.session(777)).toBeUndefined();
    h.run({ type: 'checkpointSessions', sessions: [{ sessionId: s1, remainingMs: 0 }] });
    expect(h.machine.session(s1)?.checkpointRemainingMs).toBe(0);
    expect(h.machine.session(s2)?.checkpointRemainingMs).toBe(8000);
    h.run({ type: 'checkpointSessions', sessions: [] });
  });

  it('refuses duplicate ids and bad numbers, changing nothing', () => {
    const h = new Harness();
    const s = h.openSession();
    expect(
      expectRefused(
        h,
        {
          type: 'checkpointSessions',
          sessions: [
            { sessionId: s, remainingMs: 1 },
            { sessionId: s, remainingMs: 2 },
          ],
        },
        'INVALID_ARGUMENT',
      ),
    ).toMatch(/lists session 1 more than once/);
    expectRefused(
      h,
      { type: 'checkpointSessions', sessions: [{ sessionId: 0, remainingMs: 1 }] },
      'INVALID_ARGUMENT',
    );
    const outcome = h.machine.applyCommand(h.nextIndex, {
      type: 'checkpointSessions',
      sessions: [{ sessionId: s, remainingMs: -5 }],
    });
    expect(!outcome.ok && outcome.error.code).toBe('INVALID_ARGUMENT');
    expect(h.machine.session(s)?.checkpointRemainingMs).toBeNull();
  });
});

describe('sessions across snapshot and restore', () => {
  it('restores sessions, checkpoints and ownership, and behaves identically afterwards', () => {
    const h = new Harness();
    const s1 = h.openSession(4000);
    const s2 = h.openSession(6000);
    h.putIn(s1, '/a', '1');
    h.putIn(s2, '/b', '2');
    h.run({
      type: 'create',
      path: '/locks/l-',
      value: bytes(''),
      session: s1,
      sequential: true,
      parents: true,
    });
    h.run({ type: 'checkpointSessions', sessions: [{ sessionId: s2, remainingMs: 2500 }] });
    const restored = new Harness(KvStateMachine.fromSnapshot(h.machine.snapshot()));
    expect(restored.machine.sessions()).toEqual(h.machine.sessions());
    expect(restored.machine.sessions()).toEqual([
      { sessionId: s1, ttlMs: 4000, checkpointRemainingMs: null, keys: ['/a', '/locks/l-0000000000'] },
      { sessionId: s2, ttlMs: 6000, checkpointRemainingMs: 2500, keys: ['/b'] },
    ]);
    expect(stateImage(restored.machine)).toEqual(stateImage(h.machine));
    for (const harness of [h, restored]) {
      expect(harness.run({ type: 'closeSession', sessionId: s1, reason: 'expired' })).toEqual({
        type: 'closeSession',
        sessionId: s1,
        revision: 4,
        deletedKeys: ['/a', '/locks/l-0000000000'],
      });
      expect(harness.openSession()).toBe(8);
      expect(text(harness.get('/b')!.value)).toBe('2');
    }
    expect(restored.machine.snapshot()).toEqual(h.machine.snapshot());
  });
});
