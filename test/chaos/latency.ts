/** A coarse latency-over-time table: operations grouped by when they were invoked. */
import type { CompletedOperation } from './history.js';

export interface LatencyBucket {
  /** Bucket start, ms since the run started. */
  readonly from: number;
  readonly to: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  /** Latencies of ok operations, ms (0 when there were none). */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function latencyBuckets(
  operations: readonly CompletedOperation[],
  durationMs: number,
  count = 12,
): LatencyBucket[] {
  const width = Math.max(1_000, Math.ceil(durationMs / count / 1_000) * 1_000);
  const windows = Math.max(1, Math.round(durationMs / width));
  const buckets: LatencyBucket[] = [];
  for (let i = 0; i < windows; i++) {
    const from = i * width;
    // The last window takes the remainder, so no sliver of a few ms gets a row of its own.
    const to = i === windows - 1 ? durationMs : from + width;
    const inside = operations.filter(
      (o) => o.invokedAt >= from && (o.invokedAt < to || (i === windows - 1 && o.invokedAt <= to)),
    );
    const latencies = inside
      .filter((o) => o.type === 'ok')
      .map((o) => o.completedAt - o.invokedAt)
      .sort((a, b) => a - b);
    buckets.push({
      from,
      to,
      ok: latencies.length,
      fail: inside.filter((o) => o.type === 'fail').length,
      info: inside.filter((o) => o.type === 'info').length,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
    });
  }
  return buckets;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
