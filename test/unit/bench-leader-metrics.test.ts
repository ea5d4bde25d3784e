import { describe, expect, it } from 'vitest';
import { compare } from '../../bench/report.js';
import { leaderMetrics } from '../../bench/resource-meter.js';
import type { RowResult, StoreResults } from '../../bench/results.js';
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

  it('gives no ratio for the synced write, which the two stores time differently', () => {
    const before = counters(0, 0, 0, null);
    const row = (fsyncSeconds: number): RowResult => ({
      id: 'put-1',
      title: 'put, 1 in flight',
      metrics: leaderMetrics(before, counters(100, 100, fsyncSeconds, null), 1),
      notes: [],
      load: { before: 0, after: 0 },
    });
    const store = (kind: string, rows: RowResult[]): StoreResults => ({
      kind,
      version: '1',
      settings: {},
      clientRouting: '',
      rows,
      startedAt: '2026-11-24T00:00:00.000Z',
      elapsedSeconds: 1,
    });
    const compared = compare([store('raftree', [row(0.04)]), store('etcd', [row(0.02)])]);
    const synced = compared.find((c) => c.metricKey === 'leaderFsyncMs')!;
    expect(synced.values).toEqual([0.4, 0.2]);
    expect(synced.ratio).toBeNull();
    expect(synced.firstWins).toBeNull();
    expect(compared.find((c) => c.metricKey === 'leaderFsyncsPerSecond')!.ratio).toBe(1);
  });
});
