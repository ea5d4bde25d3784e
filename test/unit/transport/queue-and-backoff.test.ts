import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../../src/transport/backoff.js';
import { BoundedQueue } from '../../../src/transport/bounded-queue.js';

describe('BoundedQueue', () => {
  it('refuses items beyond the count cap and keeps FIFO order', () => {
    const queue = new BoundedQueue<number>(3, 1_000);
    expect([1, 2, 3, 4].map((n) => queue.tryPush(n, 1))).toEqual([true, true, true, false]);
    expect(queue.takeBatch(2, 1_000)).toEqual([1, 2]);
    expect(queue.tryPush(5, 1)).toBe(true);
    expect(queue.takeBatch(10, 1_000)).toEqual([3, 5]);
    expect(queue.length).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it('refuses items beyond the byte cap, but never an item into an empty queue', () => {
    const queue = new BoundedQueue<string>(100, 10);
    expect(queue.tryPush('huge', 50)).toBe(true);
    expect(queue.tryPush('small', 1)).toBe(false);
    expect(queue.takeBatch(10, 10)).toEqual(['huge']);
    expect(queue.tryPush('a', 6)).toBe(true);
    expect(queue.tryPush('b', 4)).toBe(true);
    expect(queue.tryPush('c', 1)).toBe(false);
    expect(queue.bytes).toBe(10);
  });

  it('batches by bytes but always returns at least one item', () => {
    const queue = new BoundedQueue<string>(100, 1_000);
    for (const [item, size] of [
      ['a', 5],
      ['b', 5],
      ['c', 5],
      ['d', 50],
    ] as const)
      queue.tryPush(item, size);
    expect(queue.takeBatch(10, 12)).toEqual(['a', 'b']);
    expect(queue.takeBatch(10, 12)).toEqual(['c']);
    expect(queue.takeBatch(10, 12)).toEqual(['d']);
  });

  it('stays correct across many push/take cycles (compaction)', () => {
    const queue = new BoundedQueue<number>(10_000, 1_000_000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round += 1) {
      for (let i = 0; i < 3_000; i += 1) if (queue.tryPush(next, 1)) next += 1;
      const batch = queue.takeBatch(2_500, 1_000_000);
      expect(batch).toEqual(Array.from({ length: batch.length }, (_, i) => expected + i));
      expected += batch.length;
    }
    expect(queue.length).toBe(next - expected);
    expect(queue.length).toBeLessThanOrEqual(10_000);
  });
});

describe('backoffDelayMs', () => {
  it('grows exponentially, is capped, and jitters within the upper half of the step', () => {
    const policy = { baseMs: 50, maxMs: 1_000 };
    expect(backoffDelayMs(0, policy, () => 0)).toBe(25);
    expect(backoffDelayMs(0, policy, () => 1)).toBe(50);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(400);
    expect(backoffDelayMs(10, policy, () => 1)).toBe(1_000);
    expect(backoffDelayMs(10_000, policy, () => 0)).toBe(500);
    for (let i = 0; i < 100; i += 1) {
      const delay = backoffDelayMs(20, policy);
      expect(delay).toBeGreaterThanOrEqual(500);
      expect(delay).toBeLessThanOrEqual(1_000);
    }
  });

  it('retries a peer that is down at least every 250 ms by default (etcd retries every 100 ms)', () => {
    expect(backoffDelayMs(0, DEFAULT_BACKOFF, () => 1)).toBe(50);
    expect(backoffDelayMs(30, DEFAULT_BACKOFF, () => 1)).toBe(250);
    expect(backoffDelayMs(30, DEFAULT_BACKOFF, () => 0)).toBe(125);
  });
});
