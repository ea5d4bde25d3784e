/**
 * Restart: the cluster holds N keys (256-byte values, written at 256 in flight); a follower is
 * SIGKILLed, one more put lands while it is down, and the node is started again. Measured
 * from the spawn until the node answers a serializable get with that last value: process
 * start, snapshot load, log replay and catching up on the write it missed.
 */
import { randomBytes } from 'node:crypto';
import { plainRow, roles, type BenchContext } from '../context.js';
import { rssBytes } from '../proc-stats.js';
import { nowMs } from '../process-registry.js';
import { metric, type RowResult } from '../results.js';
import { nodeById } from '../store.js';
import { waitUntilServes } from './catch-up.js';

const MARKER_KEY = '/bench/restart/marker';

/** Fills the store with the restart data set (256 puts in flight); reports the load's puts/s. */
export async function loadRestartKeys(ctx: BenchContext): Promise<RowResult> {
  const keys = ctx.profile.restartKeys;
  return plainRow(ctx, `load-${keys}`, `loading ${keys} keys, 256 in flight`, async () => {
    const client = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
    let next = 0;
    let failed = 0;
    let firstError: string | null = null;
    const progress = setInterval(() => ctx.progress.update(`${next} / ${keys}`), 250);
    const startedAt = nowMs();
    try {
      const worker = async (): Promise<void> => {
        while (next < keys) {
          const key = `/bench/restart/${String(next++).padStart(7, '0')}`;
          try {
            await client.put(key, ctx.value);
          } catch (error) {
            failed++;
            firstError ??= error instanceof Error ? error.message : String(error);
          }
        }
      };
      await Promise.all(Array.from({ length: 256 }, worker));
      ctx.marks.restartDataLoadedAtMs = nowMs();
      const seconds = (nowMs() - startedAt) / 1000;
      return {
        metrics: [metric('opsPerSecond', 'load puts/s', (keys - failed) / seconds, 'higher')],
        notes: failed > 0 ? [`${failed} puts failed while loading; first: ${firstError ?? '?'}`] : [],
        ops: keys - failed,
      };
    } finally {
      clearInterval(progress);
      client.close();
    }
  });
}

export async function restartRow(ctx: BenchContext): Promise<RowResult> {
  const keys = ctx.profile.restartKeys;
  return plainRow(ctx, 'restart', `restart a follower holding ${keys} keys`, async () => {
    const { followers } = await roles(ctx);
    const nodeId = followers[0];
    if (nodeId === undefined) throw new Error('no follower to restart');
    const node = nodeById(ctx.cluster, nodeId);
    await ctx.cluster.kill(nodeId);
    const marker = Buffer.from(`written while ${nodeId} was down: ${randomBytes(8).toString('hex')}`);
    const writer = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
    try {
      await writer.put(MARKER_KEY, marker);
    } finally {
      writer.close();
    }
    const spawnedAt = ctx.cluster.restart(nodeId);
    ctx.progress.update(`${nodeId} restarted, waiting until it serves`);
    const times = await waitUntilServes(ctx.cluster, node, MARKER_KEY, marker, 180_000);
    const pid = node.pid();
    const rss = pid === null ? null : rssBytes(pid);
    return {
      metrics: [
        metric(
          'restartToServeMs',
          'spawn → serves latest (ms)',
          times === null ? null : times.servingAt - spawnedAt,
          'lower',
        ),
        metric(
          'restartToListenMs',
          'spawn → accepts connections (ms)',
          times === null ? null : times.acceptingAt - spawnedAt,
          'info',
        ),
        metric('restartedRssMb', 'RSS after restart (MB)', rss === null ? null : rss / (1024 * 1024), 'info'),
      ],
      notes: times === null ? [`${nodeId} did not serve the latest value within 180 s`] : [],
      ops: null,
      detail: { node: nodeId, keys },
    };
  });
}
