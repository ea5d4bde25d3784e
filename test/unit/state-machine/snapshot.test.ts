import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/state-machine/commands.js';
import { CoordinationState } from '../../../src/state-machine/coordination.js';
import { crc32 } from '../../../src/state-machine/crc32.js';
import { decodeSnapshot, encodeSnapshot } from '../../../src/state-machine/snapshot-codec.js';
import { KvStateMachine } from '../../../src/state-machine/state-machine.js';
import type { Command } from '../../../src/state-machine/types.js';
import { bytes, expectThrowsCode, Harness } from './helpers.js';

/** Every observable read: all keys at every readable revision, plus the counters. */
function observe(machine: KvStateMachine): unknown {
  const reads: unknown[] = [];
  for (let revision = Math.max(machine.compactRevision, 1); revision <= machine.revision; revision++) {
    reads.push(machine.range({ key: '', range: 'prefix', revision }).kvs);
  }
  return {
    revision: machine.revision,
    compact: machine.compactRevision,
    applied: machine.appliedIndex,
    reads,
    sessions: machine.sessions(),
  };
}

function historyEvents(machine: KvStateMachine): unknown[] {
  if (machine.revision === 0) return [];
  const watcher = machine.watch({
    key: '',
    range: 'prefix',
    startRevision: Math.max(machine.compactRevision, 1),
    prevKv: true,
  });
  const events = [];
  while (watcher.readable) events.push(...watcher.take());
  watcher.cancel();
  return events;
}

const smallKey = fc.constantFrom('/a', '/a/b', '/a/c', '/b', '/b/x/y');
const smallSession = fc.integer({ min: 1, max: 6 });
const smallCommand: fc.Arbitrary<Command> = fc.oneof(
  fc.record(
    {
      type: fc.constant('put' as const),
      key: smallKey,
      value: fc.uint8Array({ maxLength: 3 }),
      session: smallSession,
    },
    { requiredKeys: ['type', 'key', 'value'] },
  ),
  fc.record({ type: fc.constant('delete' as const), key: smallKey }),
  fc.record({ type: fc.constant('deleteRange' as const), prefix: fc.constantFrom('/a', '/b/') }),
  fc.record({ type: fc.constant('compact' as const), revision: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ type: fc.constant('openSession' as const), ttlMs: fc.constantFrom(1000, 2000) }),
  fc.record({
    type: fc.constant('closeSession' as const),
    sessionId: smallSession,
    reason: fc.constant('expired' as const),
  }),
  fc.record({
    type: fc.constant('checkpointSessions' as const),
    sessions: fc.uniqueArray(fc.record({ sessionId: smallSession, remainingMs: fc.nat(3000) }), {
      selector: (c) => c.sessionId,
      maxLength: 3,
    }),
  }),
  fc.record(
    {
      type: fc.constant('create' as const),
      path: fc.constantFrom('/a/n-', '/b/x/', '/c'),
      value: fc.uint8Array({ maxLength: 3 }),
      session: smallSession,
      sequential: fc.boolean(),
      parents: fc.constant(true),
    },
    { requiredKeys: ['type', 'path', 'value', 'sequential', 'parents'] },
  ),
);

/** Re-signs a tampered image so the structural checks (not the checksum) must catch it. */
function resign(image: Uint8Array): Uint8Array {
  const body = image.subarray(0, image.length - 4);
  const signed = new Uint8Array(image.length);
  signed.set(body);
  new DataView(signed.buffer).setUint32(body.length, crc32(body));
  return signed;
}

describe('snapshot and restore', () => {
  it('restores an identical state that behaves identically afterwards', () => {
    fc.assert(
      fc.property(
        fc.array(smallCommand, { maxLength: 30 }),
        fc.array(smallCommand, { maxLength: 10 }),
        (before, after) => {
          const original = new KvStateMachine();
          before.forEach((command, i) => original.apply(i + 1, encodeCommand(command)));
          const image = original.snapshot();
          const restored = KvStateMachine.fromSnapshot(image);
          expect(restored.snapshot()).toEqual(image);
          // Counted on every write and compaction, recounted by a restore.
          expect(original.storedVersions).toBe(restored.storedVersions);
          expect(observe(restored)).toEqual(observe(original));
          expect(historyEvents(restored)).toEqual(historyEvents(original));
          after.forEach((command, i) => {
            const index = before.length + i + 1;
            expect(restored.apply(index, encodeCommand(command))).toEqual(
              original.apply(index, encodeCommand(command)),
            );
          });
          expect(restored.snapshot()).toEqual(original.snapshot());
          expect(restored.storedVersions).toBe(original.storedVersions);
          expect(observe(restored)).toEqual(observe(original));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('encodes in steps the state of its start while writes and compactions go on', () => {
    fc.assert(
      fc.property(
        fc.array(smallCommand, { maxLength: 30 }),
        fc.array(smallCommand, { maxLength: 20 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(Number.POSITIVE_INFINITY, 1, 40),
        (before, during, budget, stepEvery, maxBytes) => {
          const machine = new KvStateMachine();
          const reference = new KvStateMachine();
          before.forEach((command, i) => {
            machine.apply(i + 1, encodeCommand(command));
            reference.apply(i + 1, encodeCommand(command));
          });
          const expected = reference.snapshot();
          const encoder = machine.startSnapshot();
          expect(encoder.appliedIndex).toBe(before.length);
          let done = false;
          during.forEach((command, i) => {
            // stepEvery 0: every write lands before the encoder reads anything.
            if (stepEvery > 0 && i % stepEvery === 0) done = encoder.step(budget, maxBytes);
            const index = before.length + i + 1;
            // Same outcomes as a machine that is not encoding: deferring compaction shows nowhere.
            expect(machine.apply(index, encodeCommand(command))).toEqual(
              reference.apply(index, encodeCommand(command)),
            );
            expect(observe(machine)).toEqual(observe(reference));
            // A snapshot taken at once meanwhile (etcd's Snapshot, HashKV) shows the compaction
            // the running encoder still holds back, like any replica's would.
            expect(machine.snapshot()).toEqual(reference.snapshot());
          });
          while (!done) done = encoder.step(budget, maxBytes);
          expect(encoder.image()).toEqual(expected);
          // Once the encoder is done, the deferred compaction has dropped its history.
          expect(machine.snapshot()).toEqual(reference.snapshot());
          expect(historyEvents(machine)).toEqual(historyEvents(reference));
          expect(machine.storedVersions).toBe(reference.storedVersions);
          expect(machine.storedVersions).toBe(KvStateMachine.fromSnapshot(machine.snapshot()).storedVersions);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a snapshot taken while an encoder holds back a compaction equals one of a replica without it', () => {
    const commands: Command[] = [
      { type: 'put', key: '/a', value: bytes('1') },
      { type: 'put', key: '/a', value: bytes('2') },
      { type: 'put', key: '/b', value: bytes('3') },
      { type: 'delete', key: '/b' },
      { type: 'put', key: '/a', value: bytes('4') },
      { type: 'compact', revision: 5 },
    ];
    const encoding = new KvStateMachine();
    const plain = new KvStateMachine();
    commands.slice(0, 5).forEach((command, i) => {
      encoding.apply(i + 1, encodeCommand(command));
      plain.apply(i + 1, encodeCommand(command));
    });
    const encoder = encoding.startSnapshot();
    const before = plain.snapshot();
    encoding.apply(6, encodeCommand(commands[5]!));
    plain.apply(6, encodeCommand(commands[5]!));
    // '/b' (deleted before 5) and the old versions of '/a' are still held, but not encoded.
    expect(encoding.snapshot()).toEqual(plain.snapshot());
    while (!encoder.step(1));
    expect(encoder.image()).toEqual(before);
    expect(encoding.snapshot()).toEqual(plain.snapshot());
  });

  it('an encoder given up releases the store, and one taken at once matches snapshot()', () => {
    const h = new Harness();
    h.put('/a', '1');
    h.put('/b', '2');
    h.put('/a', '3');
    const encoder = h.machine.startSnapshot();
    expect(encoder.step(1)).toBe(false);
    encoder.release();
    encoder.release();
    expect(() => encoder.step(1)).toThrow(/released/);
    h.machine.applyCommand(h.machine.appliedIndex + 1, { type: 'compact', revision: 3 });
    expect(h.machine.compactRevision).toBe(3);
    const whole = h.machine.startSnapshot();
    expect(whole.step(Number.POSITIVE_INFINITY)).toBe(true);
    expect(whole.image()).toEqual(h.machine.snapshot());
  });

  it('detects damage: checksum, magic, version, truncation', () => {
    const h = new Harness();
    h.put('/a', '1');
    h.put('/b', '2');
    const image = h.machine.snapshot();
    for (let i = 0; i < image.length; i++) {
      const damaged = image.slice();
      damaged[i]! ^= 0x40;
      expectThrowsCode(() => KvStateMachine.fromSnapshot(damaged), 'CORRUPT_SNAPSHOT');
    }
    expectThrowsCode(
      () => KvStateMachine.fromSnapshot(image.subarray(0, image.length - 1)),
      'CORRUPT_SNAPSHOT',
    );
    expectThrowsCode(() => KvStateMachine.fromSnapshot(new Uint8Array(0)), 'CORRUPT_SNAPSHOT');
    // Version 1 (before sessions) is no longer readable, and neither is a future version.
    for (const version of [1, 3]) {
      const wrongVersion = image.slice();
      wrongVersion[4] = version;
      const error = expectThrowsCode(
        () => KvStateMachine.fromSnapshot(resign(wrongVersion)),
        'CORRUPT_SNAPSHOT',
      );
      expect(error.message).toMatch(new RegExp(`format version ${version} is not supported`));
    }
  });

  it('checks structure behind a valid checksum', () => {
    const h = new Harness();
    h.put('/a', '1');
    h.put('/b', '2');
    const image = h.machine.snapshot();
    // Rename /b to /0 so the keys are no longer in order.
    const swapped = image.slice();
    swapped[swapped.lastIndexOf(0x62)] = 0x30;
    expect(
      expectThrowsCode(() => KvStateMachine.fromSnapshot(resign(swapped)), 'CORRUPT_SNAPSHOT').message,
    ).toMatch(/out of order/);
    const trailing = resign(Uint8Array.of(...image.subarray(0, image.length - 4), 0, 0, 0, 0, 0));
    expect(expectThrowsCode(() => KvStateMachine.fromSnapshot(trailing), 'CORRUPT_SNAPSHOT').message).toMatch(
      /trailing/,
    );
  });

  it('checks sessions and ownership behind a valid checksum', () => {
    const h = new Harness();
    const s = h.openSession(); // index 1
    h.putIn(s, '/a', '1');
    const decoded = decodeSnapshot(h.machine.snapshot());
    // A live key owned by a session the image does not list.
    const orphan = encodeSnapshot(decoded.appliedIndex, decoded.store, new CoordinationState()).slice();
    expect(expectThrowsCode(() => KvStateMachine.fromSnapshot(orphan), 'CORRUPT_SNAPSHOT').message).toMatch(
      /key "\/a" is owned by unknown session 1/,
    );
  });

  it('restores sessions (and their keys) whose ids exceed appliedIndex', () => {
    // A chosen id (etcd's LeaseGrant ID), and an automatic id pushed above its index by it.
    const h = new Harness();
    const chosen = h.run({ type: 'openSession', ttlMs: 5000, sessionId: 1000 }); // index 1
    expect(chosen).toMatchObject({ sessionId: 1000 });
    h.run({ type: 'openSession', ttlMs: 5000, sessionId: 3 }); // index 2
    expect(h.openSession()).toBe(4); // index 3: 3 is taken, so the next free id
    h.putIn(1000, '/a', '1');
    h.putIn(4, '/b', '2');
    const restored = KvStateMachine.fromSnapshot(h.machine.snapshot());
    expect(restored.sessions()).toEqual(h.machine.sessions());
    expect(restored.sessions().map((s) => s.sessionId)).toEqual([3, 4, 1000]);
    expect(restored.appliedIndex).toBe(5);
  });

  it('leaves the state untouched when a restore fails', () => {
    const h = new Harness();
    h.put('/a', '1');
    const before = observe(h.machine);
    expectThrowsCode(() => h.machine.restore(Uint8Array.of(1, 2, 3)), 'CORRUPT_SNAPSHOT');
    expect(observe(h.machine)).toEqual(before);
  });

  it('snapshots and restores 100k keys quickly', () => {
    const machine = new KvStateMachine();
    const value = bytes('value-0123456789');
    let index = 0;
    // 1000 txns of 100 puts: revision r writes instance-(100r-100 .. 100r-1), one per service.
    for (let txn = 0; txn < 1000; txn++) {
      const success = Array.from({ length: 100 }, (_, s) => {
        const i = txn * 100 + s;
        return { type: 'put' as const, key: `/svc/s${s}/instance-${i}`, value };
      });
      machine.apply(++index, encodeCommand({ type: 'txn', compare: [], success, failure: [] }));
    }
    machine.apply(++index, encodeCommand({ type: 'deleteRange', prefix: '/svc/s7/' })); // revision 1001
    machine.apply(++index, encodeCommand({ type: 'compact', revision: 900 }));
    expect(machine.revision).toBe(1001);

    let started = performance.now();
    const image = machine.snapshot();
    const snapshotMs = performance.now() - started;
    started = performance.now();
    const restored = KvStateMachine.fromSnapshot(image);
    const restoreMs = performance.now() - started;
    // Measured on the dev container (2 vCPUs shared with other jobs): snapshot 130-230 ms,
    // restore 260-420 ms, image 4.9 MB (100k keys, 16-byte values, 102 retained revisions).
    expect(snapshotMs).toBeLessThan(3000);
    expect(restoreMs).toBeLessThan(3000);
    expect(restored.keyCount).toBe(99_000);
    expect(restored.range({ key: '/svc/s42/', range: 'prefix', countOnly: true }).count).toBe(1000);
    expect(restored.range({ key: '/svc/s7/', range: 'prefix', revision: 950 }).count).toBe(950);
    expect(restored.range({ key: '/svc', range: 'children', countOnly: true }).count).toBe(99); // s7 was deleted
    console.info(
      `100k keys: snapshot ${snapshotMs.toFixed(0)} ms, restore ${restoreMs.toFixed(0)} ms, ${(image.length / 1e6).toFixed(1)} MB`,
    );
  });
});
