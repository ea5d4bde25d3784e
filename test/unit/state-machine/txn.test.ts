import { describe, expect, it } from 'vitest';
import type { Compare, CompareOp } from '../../../src/state-machine/types.js';
import { bytes, Harness, text } from './helpers.js';

function setup(): Harness {
  const h = new Harness();
  h.put('/a', 'm'); // 1
  h.put('/other', 'x'); // 2
  h.put('/a', 'm'); // 3: /a version 2, create 1, mod 3
  return h;
}

function holds(h: Harness, compare: Compare): boolean {
  return h.txn({ compare: [compare], success: [], failure: [] }).succeeded;
}

describe('txn compares', () => {
  const cases: [CompareOp, number, boolean][] = [
    ['=', 2, true],
    ['=', 1, false],
    ['!=', 1, true],
    ['!=', 2, false],
    ['<', 3, true],
    ['<', 2, false],
    ['>', 1, true],
    ['>', 2, false],
  ];
  it.each(cases)('version %s %d is %s', (op, value, expected) => {
    expect(holds(setup(), { key: '/a', target: 'version', op, value })).toBe(expected);
  });

  it('compares createRevision and modRevision', () => {
    const h = setup();
    expect(holds(h, { key: '/a', target: 'createRevision', op: '=', value: 1 })).toBe(true);
    expect(holds(h, { key: '/a', target: 'modRevision', op: '=', value: 3 })).toBe(true);
    expect(holds(h, { key: '/a', target: 'modRevision', op: '<', value: 3 })).toBe(false);
    expect(holds(h, { key: '/a', target: 'createRevision', op: '>', value: 0 })).toBe(true);
  });

  it('compares values byte-wise', () => {
    const h = setup();
    expect(holds(h, { key: '/a', target: 'value', op: '=', value: bytes('m') })).toBe(true);
    expect(holds(h, { key: '/a', target: 'value', op: '<', value: bytes('n') })).toBe(true);
    expect(holds(h, { key: '/a', target: 'value', op: '<', value: bytes('m0') })).toBe(true);
    expect(holds(h, { key: '/a', target: 'value', op: '>', value: bytes('l') })).toBe(true);
    expect(holds(h, { key: '/a', target: 'value', op: '>', value: new Uint8Array([0xff]) })).toBe(false);
    expect(holds(h, { key: '/a', target: 'value', op: '!=', value: bytes('m') })).toBe(false);
  });

  it('treats a missing key as version/revisions 0, and fails every value compare on it', () => {
    const h = setup();
    expect(holds(h, { key: '/none', target: 'version', op: '=', value: 0 })).toBe(true);
    expect(holds(h, { key: '/none', target: 'createRevision', op: '=', value: 0 })).toBe(true);
    expect(holds(h, { key: '/none', target: 'modRevision', op: '<', value: 1 })).toBe(true);
    expect(holds(h, { key: '/none', target: 'value', op: '!=', value: bytes('x') })).toBe(false);
    expect(holds(h, { key: '/none', target: 'value', op: '=', value: new Uint8Array(0) })).toBe(false);
  });

  it('needs every compare to hold', () => {
    const h = setup();
    const yes: Compare = { key: '/a', target: 'version', op: '=', value: 2 };
    const no: Compare = { key: '/other', target: 'version', op: '=', value: 9 };
    expect(h.txn({ compare: [yes, yes], success: [], failure: [] }).succeeded).toBe(true);
    expect(h.txn({ compare: [yes, no], success: [], failure: [] }).succeeded).toBe(false);
    expect(h.txn({ compare: [], success: [], failure: [] }).succeeded).toBe(true);
  });
});

describe('txn execution', () => {
  it('applies all success ops atomically as one revision', () => {
    const h = setup();
    const result = h.txn({
      compare: [{ key: '/a', target: 'value', op: '=', value: bytes('m') }],
      success: [
        { type: 'put', key: '/x', value: bytes('1') },
        { type: 'put', key: '/y', value: bytes('2'), prevKv: true },
        { type: 'delete', key: '/other', prevKv: true },
        { type: 'put', key: '/a', value: bytes('n'), prevKv: true },
      ],
      failure: [{ type: 'put', key: '/failed', value: bytes('!') }],
    });
    expect(result.succeeded).toBe(true);
    expect(result.revision).toBe(4);
    expect(result.responses).toEqual([
      { type: 'put', revision: 4 },
      { type: 'put', revision: 4 },
      {
        type: 'delete',
        revision: 4,
        deleted: 1,
        prevKvs: [
          { key: '/other', value: bytes('x'), createRevision: 2, modRevision: 2, version: 1, session: 0 },
        ],
      },
      {
        type: 'put',
        revision: 4,
        prevKv: { key: '/a', value: bytes('m'), createRevision: 1, modRevision: 3, version: 2, session: 0 },
      },
    ]);
    expect(h.machine.revision).toBe(4);
    expect(h.dump()).toEqual(['/a=n', '/x=1', '/y=2']);
    for (const key of ['/x', '/y', '/a']) expect(h.get(key)!.modRevision).toBe(4);
    // The previous revision still shows the state before the whole txn.
    expect(h.dump('', 3)).toEqual(['/a=m', '/other=x']);
  });

  it('runs the failure branch when a compare fails', () => {
    const h = setup();
    const result = h.txn({
      compare: [{ key: '/a', target: 'version', op: '>', value: 5 }],
      success: [{ type: 'put', key: '/success', value: bytes('1') }],
      failure: [
        { type: 'put', key: '/failure', value: bytes('1') },
        { type: 'range', key: '/a' },
      ],
    });
    expect(result.succeeded).toBe(false);
    expect(h.get('/success')).toBeUndefined();
    expect(text(h.get('/failure')!.value)).toBe('1');
    expect(result.responses[1]).toMatchObject({ type: 'range', revision: 4, count: 1 });
  });

  it('lets reads inside a txn see its earlier writes', () => {
    const h = setup();
    const result = h.txn({
      compare: [],
      success: [
        { type: 'range', key: '/n/', range: 'prefix' },
        { type: 'put', key: '/n/1', value: bytes('a') },
        { type: 'range', key: '/n/', range: 'prefix' },
        { type: 'deleteRange', prefix: '/a' },
        { type: 'range', key: '/a' },
        { type: 'range', key: '/a', revision: 3 },
        { type: 'range', key: '/n/1', revision: 3 },
      ],
      failure: [],
    });
    const summary = result.responses.map((r) => (r.type === 'range' ? r.count : r.type));
    expect(summary).toEqual([0, 'put', 1, 'deleteRange', 0, 1, 0]);
    expect(result.responses[2]).toMatchObject({ kvs: [{ key: '/n/1', modRevision: 4, version: 1 }] });
    expect(result.responses[3]).toMatchObject({ deleted: 1, revision: 4 });
    expect(h.machine.revision).toBe(4);
  });

  it('does not advance the revision for a txn without effective writes', () => {
    const h = setup();
    const result = h.txn({
      compare: [],
      success: [
        { type: 'range', key: '/a' },
        { type: 'delete', key: '/missing' },
      ],
      failure: [],
    });
    expect(result.revision).toBe(3);
    expect(result.responses).toEqual([
      expect.objectContaining({ type: 'range', revision: 3, count: 1 }),
      { type: 'delete', revision: 3, deleted: 0 },
    ]);
    expect(h.machine.revision).toBe(3);
  });

  it('rejects a branch that writes a key twice, in either branch, changing nothing', () => {
    const h = setup();
    const twice = h.runFailing(
      {
        type: 'txn',
        compare: [],
        success: [
          { type: 'put', key: '/k', value: bytes('1') },
          { type: 'put', key: '/k', value: bytes('2') },
        ],
        failure: [],
      },
      'DUPLICATE_KEY',
    );
    expect(twice.key).toBe('/k');
    expect(twice.message).toMatch(/duplicate key/);
    h.runFailing(
      {
        type: 'txn',
        compare: [],
        success: [],
        failure: [
          { type: 'deleteRange', prefix: '/k' },
          { type: 'put', key: '/k/1', value: bytes('1') },
        ],
      },
      'DUPLICATE_KEY',
    );
    h.runFailing(
      {
        type: 'txn',
        compare: [],
        success: [
          { type: 'put', key: '/k', value: bytes('1') },
          { type: 'delete', key: '/k' },
        ],
        failure: [],
      },
      'DUPLICATE_KEY',
    );
    expect(h.machine.revision).toBe(3);
    // Overlapping deletes are fine.
    const ok = h.txn({
      compare: [],
      success: [
        { type: 'delete', key: '/a' },
        { type: 'deleteRange', prefix: '/' },
      ],
      failure: [],
    });
    expect(ok.responses).toMatchObject([{ deleted: 1 }, { deleted: 1 }]);
    expect(h.dump()).toEqual([]);
  });

  it('fails whole, before any write, when a range op reads a compacted or future revision', () => {
    const h = setup();
    h.run({ type: 'compact', revision: 2 });
    const compacted = h.runFailing(
      {
        type: 'txn',
        compare: [],
        success: [
          { type: 'put', key: '/written', value: bytes('1') },
          { type: 'range', key: '/a', revision: 1 },
        ],
        failure: [],
      },
      'COMPACTED',
    );
    expect(compacted.compactRevision).toBe(2);
    h.runFailing(
      {
        type: 'txn',
        compare: [],
        success: [
          { type: 'put', key: '/written', value: bytes('1') },
          { type: 'range', key: '/a', revision: 4 },
        ],
        failure: [],
      },
      'FUTURE_REVISION',
    );
    expect(h.get('/written')).toBeUndefined();
    expect(h.machine.revision).toBe(3);
    expect(h.machine.keyCount).toBe(2);
  });
});
