import { describe, expect, it } from 'vitest';
import { median, mergeRounds, roundRatios } from '../../bench/rounds.js';
import { compare, renderMarkdown, renderTable } from '../../bench/report.js';
import { metric, type RowResult, type StoreResults } from '../../bench/results.js';

function row(id: string, opsPerSecond: number | null, p99Ms: number, note?: string): RowResult {
  return {
    id,
    title: `row ${id}`,
    metrics: [
      metric('opsPerSecond', 'ops/s', opsPerSecond, 'higher'),
      metric('p99Ms', 'p99 (ms)', p99Ms, 'lower', 2),
    ],
    notes: note === undefined ? [] : [note],
    load: { before: 1, after: 2 },
    detail: { trial: opsPerSecond },
  };
}

describe('bench rounds: the median of each metric over the rounds of a row', () => {
  it('takes the middle value, the mean of the middle two for an even count, and skips nulls', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([null, 5, null])).toBe(5);
    expect(median([null])).toBeNull();
    expect(median([])).toBeNull();
  });

  it('keeps a row measured once as it is, and merges the rounds of the others in first-seen order', () => {
    const once = row('memory', 80, 0);
    const rows = [
      row('put-1', 700, 5, 'slow'),
      once,
      row('put-1', 900, 3),
      row('put-16', 3000, 20),
      row('put-1', 800, 4, 'slow'),
    ];
    const merged = mergeRounds(rows);
    expect(merged.map((r) => r.id)).toEqual(['put-1', 'memory', 'put-16']);
    expect(merged[1]).toBe(once);
    const put1 = merged[0]!;
    expect(put1.metrics.map((m) => [m.key, m.value])).toEqual([
      ['opsPerSecond', 800],
      ['p99Ms', 4],
    ]);
    expect(put1.title).toBe('row put-1 (median of 3)');
    expect(put1.notes).toEqual(['slow']);
    expect(put1.rounds).toEqual([
      { metrics: { opsPerSecond: 700, p99Ms: 5 }, detail: { trial: 700 } },
      { metrics: { opsPerSecond: 900, p99Ms: 3 }, detail: { trial: 900 } },
      { metrics: { opsPerSecond: 800, p99Ms: 4 }, detail: { trial: 800 } },
    ]);
  });
});

describe('bench rounds: comparing two stores round by round', () => {
  it('takes the median of the per-round ratios, not the ratio of the medians', () => {
    // The machine slows down in round 2 for both stores: paired, raftree is 0.9x every time.
    const mine = mergeRounds([row('put-1', 900, 4), row('put-1', 450, 8), row('put-1', 1800, 2)])[0]!;
    const theirs = mergeRounds([row('put-1', 1000, 4), row('put-1', 500, 8), row('put-1', 2000, 2)])[0]!;
    expect(median(roundRatios(mine, theirs, 'opsPerSecond')!)).toBeCloseTo(0.9);
    const skewed = mergeRounds([row('put-1', 900, 4), row('put-1', 1000, 8), row('put-1', 1800, 2)])[0]!;
    // Medians 1,000 against 1,000 would say 1.0; the rounds say 0.9, 2.0 and 0.9.
    expect(roundRatios(skewed, theirs, 'opsPerSecond')).toEqual([0.9, 2, 0.9]);
    expect(median(roundRatios(skewed, theirs, 'opsPerSecond')!)).toBeCloseTo(0.9);
  });

  it('has no paired ratio unless both rows ran the same number of rounds', () => {
    const three = mergeRounds([row('put-1', 1, 1), row('put-1', 2, 1), row('put-1', 3, 1)])[0]!;
    const two = mergeRounds([row('put-1', 1, 1), row('put-1', 2, 1)])[0]!;
    expect(roundRatios(three, two, 'opsPerSecond')).toBeNull();
    expect(roundRatios(three, row('put-1', 1, 1), 'opsPerSecond')).toBeNull();
    expect(roundRatios(undefined, three, 'opsPerSecond')).toBeNull();
  });
});

describe('bench rounds: the report', () => {
  const store = (kind: string, rows: RowResult[]): StoreResults => ({
    kind,
    version: '1',
    settings: {},
    clientRouting: '',
    rows: mergeRounds(rows),
    startedAt: '2026-11-24T00:00:00.000Z',
    elapsedSeconds: 1,
  });
  const stores = [
    store('raftree', [row('put-1', 900, 4), row('put-1', 1000, 8), row('put-1', 1800, 2)]),
    store('etcd', [row('put-1', 1000, 4), row('put-1', 500, 8), row('put-1', 2000, 2)]),
  ];

  it('judges by the paired ratio and shows the rounds spread beside it', () => {
    const ops = compare(stores).find((c) => c.metricKey === 'opsPerSecond')!;
    expect(ops.values).toEqual([1000, 1000]);
    expect(ops.ratio).toBeCloseTo(0.9);
    expect(ops.firstWins).toBe(false);
    expect(renderMarkdown(stores)).toContain('| 1,000 | 1,000 | 0.90× (0.90-2.00) | **lose** |');
    expect(renderTable(stores)).toContain('0.90x (0.90-2.00)  LOSE');
  });
});
