/**
 * `--rounds N`: the put, get, watch, keep-alive and lock rows run N times, the stores alternating
 * each time, and each metric of a row is the median over its rounds. One run's ratio moves by
 * ±15-25 % on a shared machine (docs/benchmarks.md, "how much the figures move"); a median of
 * three says more.
 * The ratio of two stores is the median of their ratios round by round: the rounds pair up
 * (each store's round k ran a minute apart at most), so the machine's drift between rounds cancels.
 */
import type { Metric, RowResult } from './results.js';

export const MAX_ROUNDS = 10;

/** The median of the values that exist; null when none does. */
export function median(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (known.length === 0) return null;
  const middle = known.length >> 1;
  return known.length % 2 === 1 ? known[middle]! : (known[middle - 1]! + known[middle]!) / 2;
}

/**
 * One row per id, in the order ids first appear: a row measured once is kept as it is; a row
 * measured in several rounds becomes the median of each metric, with every round's figures
 * kept in `rounds`.
 */
export function mergeRounds(rows: readonly RowResult[]): RowResult[] {
  const byId = new Map<string, RowResult[]>();
  for (const row of rows) {
    const same = byId.get(row.id);
    if (same === undefined) byId.set(row.id, [row]);
    else same.push(row);
  }
  return [...byId.values()].map((same) => (same.length === 1 ? same[0]! : mergeRow(same)));
}

function mergeRow(rounds: readonly RowResult[]): RowResult {
  const first = rounds[0]!;
  const metrics: Metric[] = first.metrics.map((m) => ({
    ...m,
    value: median(rounds.map((r) => r.metrics.find((other) => other.key === m.key)?.value ?? null)),
  }));
  return {
    id: first.id,
    title: `${first.title} (median of ${rounds.length})`,
    metrics,
    notes: [...new Set(rounds.flatMap((r) => r.notes))],
    load: { before: first.load.before, after: rounds[rounds.length - 1]!.load.after },
    rounds: rounds.map((r) => ({
      metrics: Object.fromEntries(r.metrics.map((m) => [m.key, m.value])),
      ...(r.detail === undefined ? {} : { detail: r.detail }),
    })),
  };
}

/**
 * `mine / theirs` round by round for one metric (rounds where either is missing left out); null
 * unless both rows ran the same number of rounds (then the caller compares the medians). Their
 * median is the two stores' ratio (see report.ts).
 */
export function roundRatios(
  mine: RowResult | undefined,
  theirs: RowResult | undefined,
  key: string,
): number[] | null {
  const a = mine?.rounds;
  const b = theirs?.rounds;
  if (a === undefined || b === undefined || a.length !== b.length) return null;
  const ratios: number[] = [];
  a.forEach((round, i) => {
    const x = round.metrics[key] ?? null;
    const y = b[i]!.metrics[key] ?? null;
    if (x !== null && y !== null && y !== 0) ratios.push(x / y);
  });
  return ratios;
}
