/**
 * Waiting until one node serves a given value from its own state (a serializable get through a
 * client bound to that node alone), with a fresh probe client after any failure so that no
 * client-side backoff or circuit breaker delays the answer.
 */
import { randomBytes } from 'node:crypto';
import type { BenchContext } from '../context.js';
import { nowMs } from '../process-registry.js';
import { nodeById, type KvClient, type StoreCluster, type StoreNode } from '../store.js';
import { acceptsConnections, sleep } from '../wait.js';

export interface ServeTimes {
  /** Monotonic ms when the node first accepted a TCP connection on its client port. */
  readonly acceptingAt: number;
  /** Monotonic ms when it answered with the expected value. */
  readonly servingAt: number;
}

export async function waitUntilServes(
  cluster: StoreCluster,
  node: StoreNode,
  key: string,
  expected: Buffer,
  timeoutMs: number,
): Promise<ServeTimes | null> {
  const deadline = nowMs() + timeoutMs;
  let acceptingAt: number | null = null;
  while (acceptingAt === null) {
    if (await acceptsConnections(node.clientEndpoint, 100)) acceptingAt = nowMs();
    else if (nowMs() > deadline) return null;
    else await sleep(5);
  }
  let probe: KvClient | null = null;
  try {
    while (nowMs() < deadline) {
      probe ??= cluster.client({ endpoints: [node.clientEndpoint], deadlineMs: 1_000, probe: true });
      try {
        const value = await probe.get(key, { serializable: true });
        if (value !== null && value.equals(expected)) return { acceptingAt, servingAt: nowMs() };
      } catch {
        probe.close();
        probe = null;
      }
      await sleep(5);
    }
    return null;
  } finally {
    probe?.close();
  }
}

/**
 * Starts a killed node again and waits until it serves a value written (at `markerKey`) after
 * it came back, and the cluster has a leader.
 */
export async function rejoin(ctx: BenchContext, nodeId: string, markerKey: string): Promise<void> {
  ctx.progress.update(`restarting ${nodeId}`);
  ctx.cluster.restart(nodeId);
  const marker = Buffer.from(randomBytes(8).toString('hex'));
  const writer = ctx.cluster.client({ deadlineMs: ctx.deadlineMs });
  try {
    await writer.put(markerKey, marker);
  } finally {
    writer.close();
  }
  const served = await waitUntilServes(ctx.cluster, nodeById(ctx.cluster, nodeId), markerKey, marker, 60_000);
  if (served === null) throw new Error(`${nodeId} did not catch up within 60 s after its restart`);
  if ((await ctx.cluster.leaderId(10_000)) === null) throw new Error('no leader after the rejoin');
}
