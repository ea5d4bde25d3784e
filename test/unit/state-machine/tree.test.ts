import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../../src/state-machine/state-machine.js';
import type { Command, CreateCommand, CreateResult, WatchEvent } from '../../../src/state-machine/index.js';
import { bytes, Harness, stateImage } from './helpers.js';

function create(
  h: Harness,
  path: string,
  options: Omit<CreateCommand, 'type' | 'path' | 'value'> = {},
): CreateResult {
  const result = h.run({ type: 'create', path, value: bytes(`v:${path}`), ...options });
  if (result.type !== 'create') throw new Error(`expected a create result, got ${result.type}`);
  return result;
}

/** Runs `command`, expects error `code`, and checks that nothing but appliedIndex changed. */
function expectRefused(h: Harness, command: Command, code: string): string {
  const before = stateImage(h.machine);
  const error = h.runFailing(command, code);
  expect(stateImage(h.machine)).toEqual(before);
  return error.message;
}

function node(path: string, options: Omit<CreateCommand, 'type' | 'path' | 'value'> = {}): Command {
  return { type: 'create', path, value: bytes('x'), ...options };
}

describe('create', () => {
  it('creates a node under an existing parent (or the root) as an ordinary key write', () => {
    const h = new Harness();
    const watcher = h.machine.watch({ key: '/app', range: 'children' });
    expect(create(h, '/app')).toEqual({ type: 'create', path: '/app', revision: 1, createRevision: 1 });
    expect(create(h, '/app/config')).toEqual({
      type: 'create',
      path: '/app/config',
      revision: 2,
      createRevision: 2,
    });
    expect(h.get('/app/config')).toEqual({
      key: '/app/config',
      value: bytes('v:/app/config'),
      createRevision: 2,
      modRevision: 2,
      version: 1,
      session: 0,
    });
    expect(watcher.take().map((e: WatchEvent) => `${e.type} ${e.kv.key}`)).toEqual(['put /app/config']);
    // A plain put is a node too, and a parent for create.
    h.put('/plain', '');
    create(h, '/plain/child');
    expect(h.machine.range({ key: '/plain', range: 'children' }).count).toBe(1);
  });

  it('refuses malformed paths with INVALID_PATH, changing nothing', () => {
    const h = new Harness();
    h.put('/a', '');
    const cases: [string, RegExp][] = [
      ['', /must not be empty/],
      ['a/b', /must be absolute/],
      ['/', /root '\/' always exists/],
      ['/a/', /must not end with '\/'/],
      ['/a//b', /empty segment/],
      ['/a/./b', /'\.' segment/],
      ['/a/..', /'\.\.' segment/],
      ['/a/\u0000', /NUL/],
    ];
    for (const [path, reason] of cases) {
      const message = expectRefused(h, node(path), 'INVALID_PATH');
      expect(message).toMatch(reason);
      expect(message).toContain(JSON.stringify(path));
    }
    const error = h.runFailing(node('/a/'), 'INVALID_PATH');
    expect(error.key).toBe('/a/');
  });

  it('needs the parent to exist as a key: NO_PARENT names it', () => {
    const h = new Harness();
    expect(expectRefused(h, node('/a/b'), 'NO_PARENT')).toBe(
      'cannot create /a/b: parent /a does not exist (use parents to create it)',
    );
    // A path that exists only as a prefix of deeper keys is not a node.
    h.put('/x/y/z', '');
    const error = h.runFailing(node('/x/y/new'), 'NO_PARENT');
    expect(error.key).toBe('/x/y');
    expect(error.message).toMatch(/parent \/x\/y does not exist/);
  });

  it('parents creates every missing ancestor, persistent and empty, at the same revision', () => {
    const h = new Harness();
    h.put('/a', 'kept');
    const s = h.openSession();
    const watcher = h.machine.watch({ key: '/a', range: 'prefix' });
    expect(create(h, '/a/b/c/d', { parents: true, session: s })).toEqual({
      type: 'create',
      path: '/a/b/c/d',
      revision: 2,
      createRevision: 2,
    });
    expect(
      watcher.take().map((e) => `${e.kv.key}@${e.kv.modRevision} v${e.kv.version} s${e.kv.session}`),
    ).toEqual(['/a/b@2 v1 s0', '/a/b/c@2 v1 s0', `/a/b/c/d@2 v1 s${s}`]);
    expect(h.get('/a/b')?.value).toEqual(new Uint8Array(0));
    expect(h.get('/a')).toMatchObject({ version: 1, modRevision: 1 }); // untouched
    expect(h.machine.session(s)?.keys).toEqual(['/a/b/c/d']);
    // parents with everything already there is an ordinary create.
    expect(create(h, '/a/b/e', { parents: true }).revision).toBe(3);
    expect(h.dump('/a/b')).toHaveLength(4);
  });

  it('refuses an existing node with NODE_EXISTS', () => {
    const h = new Harness();
    create(h, '/a');
    expect(expectRefused(h, node('/a'), 'NODE_EXISTS')).toBe('cannot create /a: it already exists');
    expectRefused(h, node('/a', { parents: true }), 'NODE_EXISTS');
    h.del('/a');
    expect(create(h, '/a').createRevision).toBe(3);
  });

  it('makes ephemeral nodes with a session, and ephemeral nodes cannot have children', () => {
    const h = new Harness();
    const s = h.openSession();
    create(h, '/e', { session: s });
    expect(h.get('/e')?.session).toBe(s);
    const message = expectRefused(h, node('/e/child'), 'EPHEMERAL_PARENT');
    expect(message).toBe(
      `cannot create /e/child: its parent /e is ephemeral (owned by session ${s}), and ephemeral nodes cannot have children`,
    );
    // Also when parents would create the missing levels below the ephemeral node.
    expectRefused(h, node('/e/x/y', { parents: true }), 'EPHEMERAL_PARENT');
    expectRefused(h, node('/e/seq-', { sequential: true }), 'EPHEMERAL_PARENT');
    // A key made ephemeral by a plain put counts too.
    h.putIn(s, '/p', '');
    expect(h.runFailing(node('/p/c'), 'EPHEMERAL_PARENT').key).toBe('/p');
    // Once detached (a put without session), it can have children again.
    h.put('/p', '');
    create(h, '/p/c');
  });

  it('refuses an unknown session with SESSION_NOT_FOUND', () => {
    const h = new Harness();
    expect(expectRefused(h, node('/a', { session: 5 }), 'SESSION_NOT_FOUND')).toMatch(
      /cannot create \/a: session 5 does not exist/,
    );
    expectRefused(h, node('/a/b', { session: 5, parents: true, sequential: true }), 'SESSION_NOT_FOUND');
    expectRefused(h, node('/a', { session: 0 }), 'INVALID_ARGUMENT');
  });

  it('checks in the documented order: session, parent, existence, ephemeral parent', () => {
    const h = new Harness();
    const s = h.openSession();
    create(h, '/e', { session: s });
    h.put('/e/x', ''); // a plain put may go under an ephemeral node
    expectRefused(h, node('/missing/a', { session: 99 }), 'SESSION_NOT_FOUND');
    expectRefused(h, node('/e/x'), 'NODE_EXISTS');
    expectRefused(h, node('/e/y'), 'EPHEMERAL_PARENT');
    expectRefused(h, node('/nope/y'), 'NO_PARENT');
  });
});

describe('sequential nodes', () => {
  it('append a 10-digit per-parent counter that only increases, even across deletes', () => {
    const h = new Harness();
    create(h, '/locks');
    create(h, '/queue');
    const paths = [
      create(h, '/locks/lock-', { sequential: true }).path,
      create(h, '/locks/lock-', { sequential: true }).path,
      create(h, '/locks/other-', { sequential: true }).path,
      create(h, '/queue/', { sequential: true }).path, // a trailing '/' names the parent itself
    ];
    expect(paths).toEqual([
      '/locks/lock-0000000000',
      '/locks/lock-0000000001',
      '/locks/other-0000000002', // one counter per parent, whatever the name prefix
      '/queue/0000000000',
    ]);
    h.run({ type: 'deleteNode', path: '/locks/lock-0000000001' });
    h.run({ type: 'deleteNode', path: '/locks/other-0000000002' });
    expect(create(h, '/locks/lock-', { sequential: true }).path).toBe('/locks/lock-0000000003');
    // Non-sequential creates leave the counter alone.
    create(h, '/locks/plain');
    expect(create(h, '/locks/lock-', { sequential: true }).path).toBe('/locks/lock-0000000004');
    // The root has its own counter.
    expect(create(h, '/', { sequential: true }).path).toBe('/0000000000');
    expect(create(h, '/n-', { sequential: true }).path).toBe('/n-0000000001');
  });

  it('the counter survives deleting and re-creating the parent', () => {
    const h = new Harness();
    create(h, '/q');
    create(h, '/q/', { sequential: true });
    create(h, '/q/', { sequential: true });
    h.run({ type: 'deleteRange', prefix: '/q/' });
    h.run({ type: 'deleteNode', path: '/q' });
    create(h, '/q');
    expect(create(h, '/q/', { sequential: true }).path).toBe('/q/0000000002');
  });

  it('skips a name a plain put already took instead of failing', () => {
    const h = new Harness();
    create(h, '/l');
    h.put('/l/x-0000000000', 'squatter');
    h.put('/l/x-0000000001', 'squatter');
    expect(create(h, '/l/x-', { sequential: true }).path).toBe('/l/x-0000000002');
    expect(create(h, '/l/x-', { sequential: true }).path).toBe('/l/x-0000000003');
  });

  it('a failed sequential create does not advance the counter', () => {
    const h = new Harness();
    const s = h.openSession();
    create(h, '/e', { session: s });
    expectRefused(h, node('/q/', { sequential: true }), 'NO_PARENT');
    expectRefused(h, node('/e/', { sequential: true }), 'EPHEMERAL_PARENT');
    expectRefused(h, node('/q/', { sequential: true, parents: true, session: 50 }), 'SESSION_NOT_FOUND');
    expect(create(h, '/q/', { sequential: true, parents: true }).path).toBe('/q/0000000000');
  });

  it('continue after snapshot and restore', () => {
    const h = new Harness();
    const s = h.openSession();
    for (let i = 0; i < 3; i++) create(h, '/locks/lock-', { sequential: true, parents: true, session: s });
    h.run({ type: 'closeSession', sessionId: s, reason: 'expired' });
    expect(h.dump('/locks/')).toEqual([]);
    const restored = new Harness(KvStateMachine.fromSnapshot(h.machine.snapshot()));
    expect(stateImage(restored.machine)).toEqual(stateImage(h.machine));
    expect(create(restored, '/locks/lock-', { sequential: true }).path).toBe('/locks/lock-0000000003');
    expect(create(h, '/locks/lock-', { sequential: true }).path).toBe('/locks/lock-0000000003');
    expect(restored.machine.snapshot()).toEqual(h.machine.snapshot());
  });

  it('makes the lock recipe work: ephemeral sequential candidates vanish with their session', () => {
    const h = new Harness();
    create(h, '/election');
    const a = h.openSession();
    const b = h.openSession();
    const first = create(h, '/election/n-', { sequential: true, session: a }).path;
    const second = create(h, '/election/n-', { sequential: true, session: b }).path;
    const lowest = (): string | undefined =>
      h.machine.range({ key: '/election', range: 'children' }).children?.[0]?.key;
    expect(lowest()).toBe(first);
    const predecessor = h.machine.watch({ key: first });
    h.run({ type: 'closeSession', sessionId: a, reason: 'expired' });
    expect(predecessor.take().map((e) => e.type)).toEqual(['delete']);
    expect(lowest()).toBe(second);
  });
});

describe('deleteNode', () => {
  it('deletes a node with no children', () => {
    const h = new Harness();
    create(h, '/a');
    expect(h.run({ type: 'deleteNode', path: '/a' })).toEqual({ type: 'deleteNode', revision: 2 });
    expect(h.get('/a')).toBeUndefined();
  });

  it('NO_NODE if absent, BAD_VERSION on a mismatch, NOT_EMPTY with children; changing nothing', () => {
    const h = new Harness();
    expect(expectRefused(h, { type: 'deleteNode', path: '/a' }, 'NO_NODE')).toBe(
      'cannot delete /a: it does not exist',
    );
    create(h, '/a');
    h.put('/a', 'second'); // version 2
    expect(expectRefused(h, { type: 'deleteNode', path: '/a', expectedVersion: 1 }, 'BAD_VERSION')).toBe(
      'cannot delete /a: its version is 2, not the expected 1',
    );
    h.put('/a/deep/key', ''); // a child that exists only as a prefix still counts
    expect(expectRefused(h, { type: 'deleteNode', path: '/a', expectedVersion: 2 }, 'NOT_EMPTY')).toBe(
      'cannot delete /a: it has children (e.g. /a/deep/key); delete them first',
    );
    // The version check comes before the children check.
    expectRefused(h, { type: 'deleteNode', path: '/a', expectedVersion: 7 }, 'BAD_VERSION');
    // Keys that merely share the prefix are not children.
    h.del('/a/deep/key');
    h.put('/ab', '');
    h.put('/a!', '');
    expect(h.run({ type: 'deleteNode', path: '/a', expectedVersion: 2 })).toMatchObject({
      type: 'deleteNode',
    });
    expect(h.dump()).toEqual(['/a!=', '/ab=']);
  });

  it('refuses malformed paths (including the root) with INVALID_PATH', () => {
    const h = new Harness();
    for (const path of ['/', 'a', '/a/', '']) expectRefused(h, { type: 'deleteNode', path }, 'INVALID_PATH');
  });

  it('removes an ephemeral node from its session', () => {
    const h = new Harness();
    const s = h.openSession();
    create(h, '/e1', { session: s });
    create(h, '/e2', { session: s });
    h.run({ type: 'deleteNode', path: '/e1', expectedVersion: 1 });
    expect(h.machine.session(s)?.keys).toEqual(['/e2']);
    expect(h.run({ type: 'closeSession', sessionId: s, reason: 'closed' })).toMatchObject({
      deletedKeys: ['/e2'],
    });
  });
});
