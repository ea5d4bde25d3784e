/** Resident memory (VmRSS) of every node. */
import { plainRow, type BenchContext } from '../context.js';
import { rssBytes } from '../proc-stats.js';
import { metric, type RowResult } from '../results.js';

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
