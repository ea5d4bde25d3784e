/** Linearizable and serializable gets of existing 256-byte values, 64 in flight. */
import { runClosedLoop } from '../closed-loop.js';
import { endpointsFollowerFirst, meteredRow, type BenchContext } from '../context.js';
import type { RowResult } from '../results.js';
import { task, type RowTask } from '../row-task.js';
import { errorNotes, throughputMetrics } from './latency-metrics.js';

function readKey(index: number): string {
  return `/bench/get/${String(index).padStart(5, '0')}`;
}

export function getTasks(ctx: BenchContext): RowTask[] {
  return [
    task('get linearizable', async () => {
      await writeReadKeys(ctx);
      return getRow(ctx, false);
    }),
    task('get serializable', () => getRow(ctx, true)),
  ];
}

async function getRow(ctx: BenchContext, serializable: boolean): Promise<RowResult> {
  const endpoints = await endpointsFollowerFirst(ctx);
  const kind = serializable ? 'serializable' : 'linearizable';
  const concurrency = ctx.profile.readConcurrency;
  const client = ctx.cluster.client({ endpoints, deadlineMs: ctx.deadlineMs });
  let counter = 0;
  let missing = 0;
  try {
    return await meteredRow(
      ctx,
      `get-${kind}-${concurrency}`,
      `get ${kind}, ${concurrency} in flight`,
      { readLeaderMetrics: false },
      async () => {
        const result = await runClosedLoop({
          concurrency,
          warmupMs: ctx.profile.levelWarmupMs,
          durationMs: ctx.profile.levelDurationMs,
          operation: async () => {
            const value = await client.get(readKey(counter++ % ctx.profile.readKeys), { serializable });
            if (value === null) missing++;
          },
          onProgress: (elapsedMs, ops) =>
            ctx.progress.update(`${(elapsedMs / 1000).toFixed(1)} s, ${ops} ops`),
        });
        const notes = errorNotes(result);
        if (missing > 0) notes.push(`${missing} reads found no value (the keys were written before)`);
        return { metrics: throughputMetrics(result, { p999: false }), notes, ops: result.ops };
      },
    );
  } finally {
    client.close();
  }
}

async function writeReadKeys(ctx: BenchContext): Promise<void> {
  ctx.progress.phase(`writing ${ctx.profile.readKeys} keys to read`);
  const client = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ctx.profile.readKeys) await client.put(readKey(next++), ctx.value);
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  } finally {
    client.close();
  }
}
