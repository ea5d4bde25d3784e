/**
 * A closed-loop load: `concurrency` workers, each issuing its next operation as soon as the
 * previous one settles, until the end of the measured window. The figures are those of the
 * operations that complete inside the window (after the warm-up): throughput is completions
 * in the window / window, and latency is theirs. Operations still in flight at the end are
 * waited for but not counted.
 */
import { LatencyRecorder, type LatencySummary } from './latency.js';
import { nowMs } from './process-registry.js';

export interface ClosedLoopOptions {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** One operation; `sequence` counts the worker's operations from 0. */
  readonly operation: (worker: number, sequence: number) => Promise<void>;
  /** Called about every 250 ms with the measured ops so far. */
  readonly onProgress?: (elapsedMs: number, measuredOps: number) => void;
  /** A worker stops after this many consecutive errors (so a dead cluster ends the row). */
  readonly maxConsecutiveErrors?: number;
}

export interface ClosedLoopResult {
  readonly concurrency: number;
  readonly measuredMs: number;
  readonly ops: number;
  readonly errors: number;
  readonly opsPerSecond: number;
  readonly latency: LatencySummary;
  readonly firstError: string | null;
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const latency = new LatencyRecorder();
  const startedAt = nowMs();
  const measureFrom = startedAt + options.warmupMs;
  const measureUntil = measureFrom + options.durationMs;
  let ops = 0;
  let errors = 0;
  let firstError: string | null = null;
  const maxConsecutiveErrors = options.maxConsecutiveErrors ?? 50;

  const progressTimer =
    options.onProgress === undefined
      ? null
      : setInterval(() => options.onProgress!(nowMs() - startedAt, ops), 250);

  const worker = async (index: number): Promise<void> => {
    let consecutiveErrors = 0;
    for (let sequence = 0; ; sequence++) {
      const start = nowMs();
      if (start >= measureUntil) return;
      try {
        await options.operation(index, sequence);
        consecutiveErrors = 0;
        const end = nowMs();
        if (end >= measureFrom && end <= measureUntil) {
          ops++;
          latency.record(end - start);
        }
      } catch (error) {
        const end = nowMs();
        if (end >= measureFrom && end <= measureUntil) errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
        if (++consecutiveErrors >= maxConsecutiveErrors) return;
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, i) => worker(i)));
  } finally {
    if (progressTimer !== null) clearInterval(progressTimer);
  }
  const measuredMs = Math.min(nowMs(), measureUntil) - measureFrom;
  return {
    concurrency: options.concurrency,
    measuredMs,
    ops,
    errors,
    opsPerSecond: measuredMs > 0 ? ops / (measuredMs / 1000) : 0,
    latency: latency.summary(),
    firstError,
  };
}
