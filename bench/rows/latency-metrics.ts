/** The throughput and latency metrics of a closed-loop row. */
import type { ClosedLoopResult } from '../closed-loop.js';
import { metric, type Metric } from '../results.js';

export function throughputMetrics(result: ClosedLoopResult, options: { readonly p999: boolean }): Metric[] {
  const { latency } = result;
  return [
    metric('opsPerSecond', 'ops/s', result.opsPerSecond, 'higher'),
    metric('p50Ms', 'p50 (ms)', latency.p50Ms, 'lower', 2),
    metric('p99Ms', 'p99 (ms)', latency.p99Ms, 'lower', 2),
    ...(options.p999 ? [metric('p999Ms', 'p99.9 (ms)', latency.p999Ms, 'lower', 2)] : []),
    metric('errors', 'errors', result.errors, 'lower'),
  ];
}

export function errorNotes(result: ClosedLoopResult): string[] {
  return result.errors > 0 ? [`${result.errors} failed operations; first: ${result.firstError ?? '?'}`] : [];
}
