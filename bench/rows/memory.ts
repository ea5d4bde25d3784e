/** Resident memory (VmRSS) of every node. */
import { plainRow, type BenchContext } from '../context.js';
import { rssBytes } from '../proc-stats.js';
import { nowMs } from '../process-registry.js';
import { metric, type RowResult } from '../results.js';
import { sleep } from '../wait.js';

const MB = 1024 * 1024;

export async function memoryRow(ctx: BenchContext, id: string, title: string): Promise<RowResult> {
  return plainRow(ctx, id, title, async () => {
    const byNode: Record<string, number | null> = {};
    for (const node of ctx.cluster.nodes) {
      const pid = node.pid();
      const rss = pid === null ? null : rssBytes(pid);
      byNode[node.id] = rss === null ? null : rss / MB;
    }
    const known = Object.values(byNode).filter((v): v is number => v !== null);
    return {
      metrics: [
        metric(
          'maxNodeRssMb',
          'RSS, largest node (MB)',
          known.length > 0 ? Math.max(...known) : null,
          'lower',
        ),
        metric(
          'minNodeRssMb',
          'RSS, smallest node (MB)',
          known.length > 0 ? Math.min(...known) : null,
          'lower',
        ),
      ],
      ops: null,
      detail: { rssMbByNode: byNode },
    };
  });
}

/**
 * Memory once the nodes sat idle for profile.memoryQuietMs after the restart data set was
 * loaded: what a node holds for good, rather than the garbage a burst leaves awaiting a major GC.
 */
export async function memoryAfterQuietRow(ctx: BenchContext, quietMs: number): Promise<RowResult> {
  const loadedAt = ctx.marks.restartDataLoadedAtMs;
  if (loadedAt === null) throw new Error('the restart data set was not loaded: nothing to wait after');
  const waitMs = loadedAt + quietMs - nowMs();
  if (waitMs > 0) {
    ctx.progress.update(`idle for ${Math.ceil(waitMs / 1000)} s`);
    await sleep(waitMs);
  }
  return memoryRow(ctx, 'memory-after-quiet', `memory, ${Math.round(quietMs / 1000)} s after the load`);
}
