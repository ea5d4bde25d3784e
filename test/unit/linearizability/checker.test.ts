/**
 * The linearizability checker on hand-built histories whose verdict is known: each one is a
 * classic anomaly (or its harmless look-alike).
 */
import { describe, expect, it } from 'vitest';
import {
  checkKvHistory,
  checkKvOperations,
  type KvEvent,
  type KvOperation,
} from '../../support/linearizability/index.js';
import { cas, del, get, put, toEvents } from './helpers.js';

const verdictOf = (operations: readonly KvOperation[]) => checkKvOperations(operations).verdict;

describe('linearizable histories are accepted', () => {
  it('sequential put, get, cas, delete', () => {
    expect(
      verdictOf([
        get(1, 0, 1, 'k', null),
        put(1, 2, 3, 'k', 'a'),
        get(2, 4, 5, 'k', 'a'),
        cas(1, 6, 7, 'k', 'a', 'b', true),
        cas(2, 8, 9, 'k', 'a', 'c', false),
        get(1, 10, 11, 'k', 'b'),
        del(2, 12, 13, 'k', 1),
        del(1, 14, 15, 'k', 0),
        get(2, 16, 17, 'k', null),
        cas(1, 18, 19, 'k', null, 'd', true),
        get(2, 20, 21, 'k', 'd'),
      ]),
    ).toBe('linearizable');
  });

  it('a read concurrent with a write may see the old value or the new one', () => {
    const base = [put(1, 0, 1, 'k', 'a'), put(1, 2, 10, 'k', 'b')];
    expect(verdictOf([...base, get(2, 3, 4, 'k', 'a')])).toBe('linearizable');
    expect(verdictOf([...base, get(2, 3, 4, 'k', 'b')])).toBe('linearizable');
  });

  it('two concurrent writes may take effect in either order, as long as every read agrees', () => {
    expect(
      verdictOf([
        put(1, 0, 10, 'k', 'a'),
        put(2, 0, 10, 'k', 'b'),
        get(3, 1, 2, 'k', 'b'),
        get(3, 3, 4, 'k', 'a'),
        get(4, 11, 12, 'k', 'a'),
      ]),
    ).toBe('linearizable');
  });

  it('a failed compare-and-set is fine while a concurrent write explains it', () => {
    expect(
      verdictOf([put(1, 0, 1, 'k', 'x'), put(2, 2, 6, 'k', 'w'), cas(3, 3, 4, 'k', 'x', 'y', false)]),
    ).toBe('linearizable');
  });

  it('keys are independent: each is checked on its own', () => {
    expect(
      verdictOf([
        put(1, 0, 1, 'a', '1'),
        put(2, 0, 1, 'b', '2'),
        get(1, 2, 3, 'b', '2'),
        get(2, 2, 3, 'a', '1'),
      ]),
    ).toBe('linearizable');
  });
});

describe('anomalies are rejected', () => {
  it('a stale read', () => {
    expect(verdictOf([put(1, 0, 1, 'k', 'a'), put(1, 2, 3, 'k', 'b'), get(2, 4, 5, 'k', 'a')])).toBe(
      'not-linearizable',
    );
  });

  it('a lost acknowledged write', () => {
    expect(verdictOf([put(1, 0, 1, 'k', 'a'), get(2, 2, 3, 'k', null)])).toBe('not-linearizable');
  });

  it('a read of a value nobody wrote', () => {
    expect(verdictOf([put(1, 0, 1, 'k', 'a'), get(2, 2, 3, 'k', 'zzz')])).toBe('not-linearizable');
  });

  it('a read of a write invoked only after the read returned', () => {
    expect(verdictOf([get(1, 0, 1, 'k', 'a'), put(2, 2, 3, 'k', 'a')])).toBe('not-linearizable');
  });

  it('reads going back in time (new value, then the old one, with nothing concurrent)', () => {
    expect(
      verdictOf([
        put(1, 0, 1, 'k', 'a'),
        put(1, 2, 20, 'k', 'b'),
        get(2, 3, 4, 'k', 'b'),
        get(3, 5, 6, 'k', 'a'),
      ]),
    ).toBe('not-linearizable');
  });

  it('two compare-and-sets from the same value both succeed', () => {
    expect(
      verdictOf([
        put(1, 0, 1, 'k', 'x'),
        cas(2, 2, 5, 'k', 'x', 'y', true),
        cas(3, 3, 6, 'k', 'x', 'z', true),
      ]),
    ).toBe('not-linearizable');
  });

  it('a compare-and-set that fails although its compare held and nothing was concurrent', () => {
    expect(verdictOf([put(1, 0, 1, 'k', 'x'), cas(2, 2, 3, 'k', 'x', 'y', false)])).toBe('not-linearizable');
  });

  it('a compare-and-set that succeeds although the value differed', () => {
    expect(verdictOf([put(1, 0, 1, 'k', 'x'), cas(2, 2, 3, 'k', 'w', 'y', true)])).toBe('not-linearizable');
  });

  it('a delete that reports the wrong count', () => {
    expect(verdictOf([put(1, 0, 1, 'k', 'x'), del(2, 2, 3, 'k', 0)])).toBe('not-linearizable');
  });

  it('a write acknowledged as failed that was then observed', () => {
    const events: KvEvent[] = [
      { type: 'invoke', id: 1, process: 1, time: 0, input: { f: 'put', key: 'k', value: 'a' } },
      { type: 'fail', id: 1, time: 1, error: 'INVALID_ARGUMENT' },
      { type: 'invoke', id: 2, process: 2, time: 2, input: { f: 'get', key: 'k' } },
      { type: 'ok', id: 2, time: 3, output: { f: 'get', value: 'a' } },
    ];
    expect(checkKvHistory(events).verdict).toBe('not-linearizable');
  });

  it('one bad key makes the whole history bad, and the report names it', () => {
    const result = checkKvOperations([
      put(1, 0, 1, 'good', '1'),
      get(1, 2, 3, 'good', '1'),
      put(1, 0, 1, 'bad', '1'),
      get(1, 2, 3, 'bad', null),
    ]);
    expect(result.verdict).toBe('not-linearizable');
    const bad = result.keys.find((k) => k.key === 'bad')!;
    expect(bad.verdict).toBe('not-linearizable');
    expect(bad.explanation).toContain('get(bad) → (absent)');
    expect(result.keys.find((k) => k.key === 'good')!.verdict).toBe('linearizable');
  });
});

describe('operations with an unknown outcome may or may not have happened', () => {
  it('an unknown put that a later read saw happened', () => {
    expect(verdictOf([put(1, 0, Infinity, 'k', 'a'), get(2, 5, 6, 'k', 'a')])).toBe('linearizable');
  });

  it('an unknown put that no read saw did not happen', () => {
    expect(verdictOf([put(1, 0, Infinity, 'k', 'a'), get(2, 5, 6, 'k', null)])).toBe('linearizable');
  });

  it('an unknown put may take effect long after it was invoked', () => {
    expect(
      verdictOf([put(1, 0, Infinity, 'k', 'a'), get(2, 5, 6, 'k', null), get(2, 100, 101, 'k', 'a')]),
    ).toBe('linearizable');
  });

  it('but it takes effect once: seen, then gone with no delete, is a violation', () => {
    expect(verdictOf([put(1, 0, Infinity, 'k', 'a'), get(2, 5, 6, 'k', 'a'), get(2, 7, 8, 'k', null)])).toBe(
      'not-linearizable',
    );
  });

  it('an unknown write cannot be seen before it was invoked', () => {
    expect(verdictOf([get(2, 0, 1, 'k', 'a'), put(1, 5, Infinity, 'k', 'a')])).toBe('not-linearizable');
  });

  it('an unknown compare-and-set, both ways', () => {
    const base = [put(1, 0, 1, 'k', 'x'), cas(2, 2, Infinity, 'k', 'x', 'y')];
    expect(verdictOf([...base, get(3, 10, 11, 'k', 'y')])).toBe('linearizable');
    expect(verdictOf([...base, get(3, 10, 11, 'k', 'x')])).toBe('linearizable');
    // Its compare did not hold, so it cannot have written.
    expect(
      verdictOf([put(1, 0, 1, 'k', 'w'), cas(2, 2, Infinity, 'k', 'x', 'y'), get(3, 10, 11, 'k', 'y')]),
    ).toBe('not-linearizable');
  });

  it('an unknown delete, both ways', () => {
    const base = [put(1, 0, 1, 'k', 'x'), del(2, 2, Infinity, 'k')];
    expect(verdictOf([...base, get(3, 10, 11, 'k', null)])).toBe('linearizable');
    expect(verdictOf([...base, get(3, 10, 11, 'k', 'x')])).toBe('linearizable');
  });

  it('an unknown write explains a failed compare-and-set', () => {
    expect(
      verdictOf([put(1, 0, 1, 'k', 'x'), put(2, 2, Infinity, 'k', 'v'), cas(3, 5, 6, 'k', 'x', 'y', false)]),
    ).toBe('linearizable');
  });

  it('info events and unfinished invocations count as unknown; failed ones are dropped', () => {
    const events: KvEvent[] = [
      { type: 'invoke', id: 1, process: 1, time: 0, input: { f: 'put', key: 'k', value: 'a' } },
      { type: 'info', id: 1, time: 3, error: 'DEADLINE_EXCEEDED' },
      { type: 'invoke', id: 2, process: 2, time: 1, input: { f: 'put', key: 'k', value: 'b' } },
      { type: 'invoke', id: 3, process: 3, time: 1, input: { f: 'put', key: 'k', value: 'c' } },
      { type: 'fail', id: 3, time: 2, error: 'INVALID_ARGUMENT' },
      { type: 'invoke', id: 4, process: 4, time: 10, input: { f: 'get', key: 'k' } },
      { type: 'ok', id: 4, time: 11, output: { f: 'get', value: 'a' } },
      { type: 'invoke', id: 5, process: 4, time: 12, input: { f: 'get', key: 'k' } },
      { type: 'ok', id: 5, time: 13, output: { f: 'get', value: 'b' } },
    ];
    const result = checkKvHistory(events);
    expect(result.summary).toEqual({ ok: 2, fail: 1, info: 2, unfinished: 1 });
    expect(result.verdict).toBe('linearizable');
    expect(result.boundedUnknownWrites).toBe(2);
    expect(checkKvHistory(toEvents([put(1, 0, 1, 'k', 'a')])).verdict).toBe('linearizable');
  });
});

describe('the search budget', () => {
  it('answers "unknown", not "not linearizable", when it runs out', () => {
    const operations: KvOperation[] = [];
    for (let i = 0; i < 12; i++) operations.push(put(i, 0, Infinity, 'k', `v${i}`));
    for (let i = 0; i < 6; i++) operations.push(cas(20 + i, 1, 2 + i, 'k', `v${i}`, `w${i}`, false));
    operations.push(get(30, 50, 51, 'k', 'v11'));
    const result = checkKvOperations(operations, { maxStepsPerKey: 5 });
    expect(result.verdict).toBe('unknown');
    expect(result.keys[0]!.exhausted).toBe('steps');
    expect(checkKvOperations(operations).verdict).toBe('linearizable');
  });
});
