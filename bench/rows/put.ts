/** Puts of 256-byte values at 1 / 16 / 64 / 256 in flight, over a 10,000-key space. */
import { runClosedLoop } from '../closed-loop.js';
import { meteredRow, type BenchContext } from '../context.js';
import type { RowResult } from '../results.js';
import { task, type RowTask } from '../row-task.js';
import { errorNotes, throughputMetrics } from './latency-metrics.js';

const KEY_SPACE = 10_000;

export function putKey(counter: number): string {
  return `/bench/put/${String(counter % KEY_SPACE).padStart(5, '0')}`;
}

/** Unmeasured puts before the first row: connections, JIT, leader discovery. */
export async function warmUp(ctx: BenchContext): Promise<void> {
  ctx.progress.phase('warm-up');
  const client = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
  let counter = 0;
  try {
    await runClosedLoop({
      concurrency: 16,
      warmupMs: ctx.profile.warmupMs,
      durationMs: 0,
      operation: () => client.put(putKey(counter++), ctx.value),
    });
  } finally {
    client.close();
  }
}

export function putTasks(ctx: BenchContext): RowTask[] {
  return ctx.profile.putLevels.map((concurrency) =>
    task(`put ${concurrency}`, () => putRow(ctx, concurrency)),
  );
}

async function putRow(ctx: BenchContext, concurrency: number): Promise<RowResult> {
  const title = `put, ${concurrency} in flight`;
  const client = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
  let counter = 0;
  try {
    return await meteredRow(ctx, `put-${concurrency}`, title, { readLeaderMetrics: true }, async () => {
      const result = await runClosedLoop({
        concurrency,
        warmupMs: ctx.profile.levelWarmupMs,
        durationMs: ctx.profile.levelDurationMs,
        operation: () => client.put(putKey(counter++), ctx.value),
        onProgress: (elapsedMs, ops) => ctx.progress.update(`${(elapsedMs / 1000).toFixed(1)} s, ${ops} ops`),
      });
      return {
        metrics: throughputMetrics(result, { p999: true }),
        notes: errorNotes(result),
        ops: result.ops,
      };
    });
  } finally {
    client.close();
  }
}
