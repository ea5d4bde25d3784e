import { describe, expect, it } from 'vitest';
import { leaderMetrics } from '../../bench/resource-meter.js';
import type { ReplicationCounters } from '../../bench/store.js';

function counters(
  fsyncs: number,
  entries: number,
  fsyncSeconds: number,
  appendRoundTrips: ReplicationCounters['appendRoundTrips'],
): ReplicationCounters {
  return { fsyncs, entries, fsyncSeconds, appendRoundTrips };
}

const values = (list: ReturnType<typeof leaderMetrics>) =>
  Object.fromEntries(list.map((m) => [m.key, m.value === null ? null : Number(m.value.toFixed(6))]));

describe('leaderMetrics', () => {
  it('gives the means of the fsyncs and append round trips between two readings', () => {
    const before = counters(100, 400, 0.05, { count: 180, seconds: 0.2 });
    const after = counters(300, 2_000, 0.15, { count: 580, seconds: 0.6 });
    expect(values(leaderMetrics(before, after, 2))).toEqual({
      leaderFsyncsPerSecond: 100,
      entriesPerFsync: 8,
      leaderFsyncMs: 0.5,
      appendRoundTripMs: 1,
    });
  });

  it('has no means without fsyncs or round trips in between, and no round trip for a store without one', () => {
    const still = counters(10, 10, 0.01, { count: 5, seconds: 0.01 });
    expect(values(leaderMetrics(still, still, 1))).toEqual({
      leaderFsyncsPerSecond: 0,
      entriesPerFsync: null,
      leaderFsyncMs: null,
      appendRoundTripMs: null,
    });
    const etcd = counters(10, 10, 0.01, null);
    expect(Object.keys(values(leaderMetrics(etcd, etcd, 1)))).not.toContain('appendRoundTripMs');
  });
});
