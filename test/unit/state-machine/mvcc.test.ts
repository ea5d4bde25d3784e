import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/state-machine/commands.js';
import { KvStateMachine } from '../../../src/state-machine/state-machine.js';
import { bytes, expectThrowsCode, Harness, text } from './helpers.js';

describe('revisions and versions', () => {
  it('starts empty at revision 0 and gives the first write revision 1', () => {
    const h = new Harness();
    expect(h.machine.revision).toBe(0);
    expect(h.machine.range({ key: '/a' })).toEqual({
      type: 'range',
      revision: 0,
      kvs: [],
      count: 0,
      more: false,
    });
    expect(h.put('/a', 'x')).toEqual({ type: 'put', revision: 1 });
    expect(h.machine.revision).toBe(1);
  });

  it('tracks createRevision, modRevision and version across puts', () => {
    const h = new Harness();
    h.put('/a', '1');
    h.put('/b', '1');
    h.put('/a', '2');
    h.put('/a', '3');
    expect(h.get('/a')).toEqual({
      key: '/a',
      value: bytes('3'),
      createRevision: 1,
      modRevision: 4,
      version: 3,
      session: 0,
    });
    expect(h.get('/b')).toEqual({
      key: '/b',
      value: bytes('1'),
      createRevision: 2,
      modRevision: 2,
      version: 1,
      session: 0,
    });
  });

  it('a delete resets the key: the next put creates it anew', () => {
    const h = new Harness();
    h.put('/a', '1');
    h.put('/a', '2');
    expect(h.run({ type: 'delete', key: '/a', prevKv: true })).toEqual({
      type: 'delete',
      revision: 3,
      deleted: 1,
      prevKvs: [{ key: '/a', value: bytes('2'), createRevision: 1, modRevision: 2, version: 2, session: 0 }],
    });
    expect(h.get('/a')).toBeUndefined();
    h.put('/a', 'new');
    expect(h.get('/a')).toEqual({
      key: '/a',
      value: bytes('new'),
      createRevision: 4,
      modRevision: 4,
      version: 1,
      session: 0,
    });
  });

  it('a delete that deletes nothing does not advance the revision', () => {
    const h = new Harness();
    h.put('/a', '1');
    expect(h.del('/missing')).toEqual({ type: 'delete', revision: 1, deleted: 0 });
    expect(h.run({ type: 'deleteRange', prefix: '/zzz' })).toEqual({
      type: 'deleteRange',
      revision: 1,
      deleted: 0,
    });
    expect(h.machine.revision).toBe(1);
    h.del('/a');
    expect(h.del('/a')).toEqual({ type: 'delete', revision: 2, deleted: 0 });
  });

  it('put returns the previous value only when asked and only if the key was live', () => {
    const h = new Harness();
    expect(h.put('/a', '1', true)).toEqual({ type: 'put', revision: 1 });
    expect(h.put('/a', '2', true)).toEqual({
      type: 'put',
      revision: 2,
      prevKv: { key: '/a', value: bytes('1'), createRevision: 1, modRevision: 1, version: 1, session: 0 },
    });
    expect(h.put('/a', '3')).toEqual({ type: 'put', revision: 3 });
  });

  it('deleteRange deletes every live key under the prefix in one revision', () => {
    const h = new Harness();
    h.put('/a/1', 'x');
    h.put('/a/2', 'y');
    h.put('/a/2/deep', 'z');
    h.put('/ab', 'not under /a/');
    h.del('/a/1');
    const result = h.run({ type: 'deleteRange', prefix: '/a/', prevKv: true });
    expect(result).toMatchObject({ type: 'deleteRange', revision: 6, deleted: 2 });
    expect(result.type === 'deleteRange' && result.prevKvs?.map((kv) => kv.key)).toEqual([
      '/a/2',
      '/a/2/deep',
    ]);
    expect(h.dump()).toEqual(['/ab=not under /a/']);
  });

  it('rejects an empty key or prefix with INVALID_ARGUMENT and changes nothing', () => {
    const h = new Harness();
    h.put('/a', '1');
    const error = h.runFailing({ type: 'put', key: '', value: bytes('x') }, 'INVALID_ARGUMENT');
    expect(error.message).toMatch(/key must not be empty/);
    h.runFailing({ type: 'delete', key: '' }, 'INVALID_ARGUMENT');
    h.runFailing({ type: 'deleteRange', prefix: '' }, 'INVALID_ARGUMENT');
    expect(h.machine.revision).toBe(1);
    expect(h.dump()).toEqual(['/a=1']);
    expect(h.machine.appliedIndex).toBe(4);
  });
});

describe('range reads', () => {
  function populated(): Harness {
    const h = new Harness();
    for (const key of ['/a/b/c', '/a/d', '/a/e', '/a/e/f', '/b', '/a-sibling']) h.put(key, key);
    return h;
  }

  it('reads an exact key, a prefix, and counts', () => {
    const h = populated();
    expect(h.machine.range({ key: '/a/d' }).kvs.map((kv) => kv.key)).toEqual(['/a/d']);
    expect(h.machine.range({ key: '/a/' }).count).toBe(0);
    const prefix = h.machine.range({ key: '/a/', range: 'prefix' });
    expect(prefix.kvs.map((kv) => kv.key)).toEqual(['/a/b/c', '/a/d', '/a/e', '/a/e/f']);
    expect(prefix).toMatchObject({ count: 4, more: false, revision: 6 });
    expect(h.machine.range({ key: '', range: 'prefix' }).count).toBe(6);
  });

  it('applies limit, reporting the full count and more', () => {
    const h = populated();
    const limited = h.machine.range({ key: '/a', range: 'prefix', limit: 2 });
    expect(limited.kvs.map((kv) => kv.key)).toEqual(['/a-sibling', '/a/b/c']);
    expect(limited).toMatchObject({ count: 5, more: true });
    expect(h.machine.range({ key: '/a', range: 'prefix', limit: 5 }).more).toBe(false);
  });

  it('keysOnly drops values; countOnly drops kvs', () => {
    const h = populated();
    const keysOnly = h.machine.range({ key: '/a/d', keysOnly: true });
    expect(keysOnly.kvs[0]).toEqual({
      key: '/a/d',
      value: new Uint8Array(0),
      createRevision: 2,
      modRevision: 2,
      version: 1,
      session: 0,
    });
    expect(h.get('/a/d')!.value).toEqual(bytes('/a/d'));
    expect(h.machine.range({ key: '/a/', range: 'prefix', countOnly: true })).toEqual({
      type: 'range',
      revision: 6,
      kvs: [],
      count: 4,
      more: false,
    });
  });

  it('lists direct children, including names that exist only as a prefix of deeper keys', () => {
    const h = populated();
    const result = h.machine.range({ key: '/a', range: 'children' });
    expect(result.kvs).toEqual([]);
    expect(result.children!.map(({ name, key, hasKey }) => ({ name, key, hasKey }))).toEqual([
      { name: 'b', key: '/a/b', hasKey: false },
      { name: 'd', key: '/a/d', hasKey: true },
      { name: 'e', key: '/a/e', hasKey: true },
    ]);
    expect(result.children![1]!.kv).toMatchObject({ key: '/a/d', value: bytes('/a/d') });
    expect(h.machine.range({ key: '/a/', range: 'children' }).children).toEqual(result.children);
    expect(h.machine.range({ key: '/', range: 'children' }).children!.map((c) => c.name)).toEqual([
      'a',
      'a-sibling',
      'b',
    ]);
  });

  it('children: a name met again after a sibling that sorts between it and its subtree is reported once', () => {
    const h = new Harness();
    // Key order: /p/c, /p/c!, /p/c!/y, /p/c/x: "c" reappears after "c!".
    for (const key of ['/p/c', '/p/c!', '/p/c!/y', '/p/c/x', '/p/c0']) h.put(key, 'v');
    const names = h.machine
      .range({ key: '/p', range: 'children' })
      .children!.map((c) => `${c.name}:${c.hasKey}`);
    expect(names).toEqual(['c:true', 'c!:true', 'c0:true']);
  });

  it('children: deleted keys do not count, a child survives while any key below it lives', () => {
    const h = new Harness();
    h.put('/p/a/x', '1');
    h.put('/p/a/y', '1');
    h.put('/p/b', '1');
    h.del('/p/a/x');
    h.del('/p/b');
    const children = h.machine.range({ key: '/p', range: 'children' }).children!;
    expect(children.map((c) => c.name)).toEqual(['a']);
    h.del('/p/a/y');
    expect(h.machine.range({ key: '/p', range: 'children' })).toMatchObject({ count: 0, children: [] });
    // At revision 2 both /p/a keys and no /p/b existed yet.
    expect(
      h.machine.range({ key: '/p', range: 'children', revision: 2 }).children!.map((c) => c.name),
    ).toEqual(['a']);
    expect(
      h.machine.range({ key: '/p', range: 'children', revision: 3 }).children!.map((c) => c.name),
    ).toEqual(['a', 'b']);
  });

  it('children: limit, countOnly, keysOnly, and empty name segments', () => {
    const h = new Harness();
    for (const key of ['/p/a', '/p/b/1', '/p/c', '/p//x', '/p/']) h.put(key, 'v');
    const limited = h.machine.range({ key: '/p', range: 'children', limit: 2, keysOnly: true });
    expect(limited.children!.map((c) => c.name)).toEqual(['a', 'b']);
    expect(limited.children![0]!.kv!.value.length).toBe(0);
    expect(limited).toMatchObject({ count: 3, more: true });
    expect(h.machine.range({ key: '/p', range: 'children', countOnly: true })).toMatchObject({
      count: 3,
      children: [],
    });
  });

  it('orders keys by UTF-8 bytes (code points), not UTF-16 units', () => {
    const h = new Harness();
    const astral = '/k/\u{1F600}'; // UTF-16 surrogates D83D.., UTF-8 F0..
    const bmpHigh = '/k/\uFF01'; // UTF-16 FF01, UTF-8 EF BC 81
    h.put(astral, 'a');
    h.put(bmpHigh, 'b');
    h.put('/k/z', 'c');
    expect(h.machine.range({ key: '/k/', range: 'prefix' }).kvs.map((kv) => kv.key)).toEqual([
      '/k/z',
      bmpHigh,
      astral,
    ]);
  });

  it('reads at a past revision see the state as of that revision', () => {
    const h = new Harness();
    h.put('/a', '1'); // 1
    h.put('/b', '1'); // 2
    h.put('/a', '2'); // 3
    h.del('/b'); // 4
    h.put('/b', 'again'); // 5
    expect(h.dump('', 1)).toEqual(['/a=1']);
    expect(h.dump('', 2)).toEqual(['/a=1', '/b=1']);
    expect(h.dump('', 3)).toEqual(['/a=2', '/b=1']);
    expect(h.dump('', 4)).toEqual(['/a=2']);
    expect(h.get('/b', 5)).toMatchObject({ createRevision: 5, version: 1 });
    expect(h.machine.range({ key: '/a', revision: 1 }).revision).toBe(5);
    expect(h.dump('', 0)).toEqual(h.dump(''));
  });

  it('rejects reads at a future revision or a negative one', () => {
    const h = new Harness();
    h.put('/a', '1');
    const error = expectThrowsCode(() => h.machine.range({ key: '/a', revision: 2 }), 'FUTURE_REVISION');
    expect(error.currentRevision).toBe(1);
    expectThrowsCode(() => h.machine.range({ key: '/a', revision: -1 }), 'INVALID_ARGUMENT');
    expectThrowsCode(() => h.machine.range({ key: '' }), 'INVALID_ARGUMENT');
  });
});

describe('compaction', () => {
  function history(): Harness {
    const h = new Harness();
    h.put('/a', '1'); // 1
    h.put('/a', '2'); // 2
    h.put('/b', '1'); // 3
    h.del('/b'); // 4
    h.put('/c', '1'); // 5
    h.put('/a', '3'); // 6
    return h;
  }

  it('keeps reads at and after the compaction revision working and refuses older ones', () => {
    const h = history();
    const before = [4, 5, 6].map((revision) => h.dump('', revision));
    expect(h.run({ type: 'compact', revision: 4 })).toEqual({
      type: 'compact',
      revision: 6,
      compactRevision: 4,
    });
    expect(h.machine.compactRevision).toBe(4);
    expect([4, 5, 6].map((revision) => h.dump('', revision))).toEqual(before);
    const error = expectThrowsCode(() => h.machine.range({ key: '/a', revision: 3 }), 'COMPACTED');
    expect(error.compactRevision).toBe(4);
    expect(error.requestedRevision).toBe(3);
    expect(error.message).toMatch(/revision 3 has been compacted.*4/);
    expect(h.machine.revision).toBe(6);
  });

  it('refuses to compact at or below the compacted revision, or beyond the current one', () => {
    const h = history();
    h.run({ type: 'compact', revision: 3 });
    expect(h.runFailing({ type: 'compact', revision: 3 }, 'COMPACTED').compactRevision).toBe(3);
    h.runFailing({ type: 'compact', revision: 7 }, 'FUTURE_REVISION');
    h.runFailing({ type: 'compact', revision: 0 }, 'INVALID_ARGUMENT');
    h.run({ type: 'compact', revision: 6 });
    expect(h.dump()).toEqual(['/a=3', '/c=1']);
    // The store keeps working after compacting everything.
    h.put('/a', '4');
    expect(h.get('/a')).toMatchObject({ version: 4, createRevision: 1, modRevision: 7 });
  });

  it('drops deleted keys entirely once no readable revision sees them', () => {
    const h = history();
    h.run({ type: 'compact', revision: 5 });
    // /b was deleted at 4: invisible at 5 and later, so nothing of it remains to scan.
    expect(text(h.machine.snapshot())).not.toContain('/b');
    expect(text(h.machine.snapshot())).toContain('/c');
    const restored = KvStateMachine.fromSnapshot(h.machine.snapshot());
    expect(restored.range({ key: '/b', revision: 5 }).count).toBe(0);
    expect(text(restored.range({ key: '/a', revision: 5 }).kvs[0]!.value)).toBe('2');
  });
});

describe('apply contract', () => {
  it('advances appliedIndex for empty no-op entries without touching the revision', () => {
    const machine = new KvStateMachine();
    expect(machine.apply(1, new Uint8Array(0))).toEqual({
      ok: true,
      index: 1,
      result: { type: 'noop', revision: 0 },
    });
    expect(machine.apply(2, encodeCommand({ type: 'noop' }))).toEqual({
      ok: true,
      index: 2,
      result: { type: 'noop', revision: 0 },
    });
    expect(machine.appliedIndex).toBe(2);
    expect(machine.revision).toBe(0);
  });

  it('refuses an index that was already applied, changing nothing', () => {
    const machine = new KvStateMachine();
    machine.apply(5, encodeCommand({ type: 'put', key: '/a', value: bytes('1') }));
    const outcome = machine.apply(5, encodeCommand({ type: 'put', key: '/a', value: bytes('2') }));
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error.code).toBe('ALREADY_APPLIED');
    expect(machine.apply(0, new Uint8Array(0)).ok).toBe(false);
    expect(machine.appliedIndex).toBe(5);
    expect(machine.revision).toBe(1);
    // Gaps are fine: configuration entries never reach the state machine.
    expect(machine.apply(9, new Uint8Array(0)).ok).toBe(true);
  });

  it('reports garbage as CORRUPT_COMMAND and reserved tags as UNSUPPORTED_COMMAND, consuming the entry', () => {
    const machine = new KvStateMachine();
    machine.apply(1, encodeCommand({ type: 'put', key: '/a', value: bytes('1') }));
    const garbage = machine.apply(2, new Uint8Array([1, 1, 0, 200]));
    expect(!garbage.ok && garbage.error.code).toBe('CORRUPT_COMMAND');
    const reserved = machine.apply(3, new Uint8Array([1, 20]));
    expect(!reserved.ok && reserved.error.code).toBe('UNSUPPORTED_COMMAND');
    expect(!reserved.ok && reserved.error.message).toMatch(/reserved for further session commands/);
    expect(machine.appliedIndex).toBe(3);
    expect(machine.revision).toBe(1);
  });

  it('copies values out of the entry buffer, even a Node Buffer the caller reuses', () => {
    const machine = new KvStateMachine();
    const entry = Buffer.from(encodeCommand({ type: 'put', key: '/a', value: bytes('abc') }));
    machine.apply(1, entry);
    entry.fill(0x7a);
    const kv = machine.range({ key: '/a' }).kvs[0]!;
    expect(text(kv.value)).toBe('abc');
    expect(Buffer.isBuffer(kv.value)).toBe(false);
  });

  it('counts live keys', () => {
    const h = new Harness();
    h.put('/a', '1');
    h.put('/b', '1');
    h.put('/a', '2');
    h.del('/b');
    expect(h.machine.keyCount).toBe(1);
  });
});
