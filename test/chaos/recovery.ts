/**
 * After healing: wait until the cluster works again, mark the end of the history with a
 * sentinel write, and read every node's view once it has applied everything.
 */
import { RaftreeClient } from '../../src/client/index.js';
import type { ChaosCluster } from './chaos-cluster.js';
import { WatchRecorder, type RecordedEvent } from './watch-recorder.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every node answers and names the same leader in the same term; returns it. */
export async function waitForAgreement(cluster: ChaosCluster, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const statuses = await cluster.statuses();
    const all = [...statuses.values()];
    const first = all[0];
    if (
      all.length === cluster.ids.length &&
      first !== undefined &&
      first.leader !== '' &&
      all.every((s) => s.leader === first.leader && s.term === first.term) &&
      statuses.get(first.leader)?.role === 'leader'
    ) {
      return first.leader;
    }
    last = cluster.ids
      .map((id) => {
        const s = statuses.get(id);
        return `${id}: ${s === undefined ? 'no answer' : `${s.role}, leader ${s.leader || '-'}, term ${s.term}`}`;
      })
      .join('; ');
    if (Date.now() > deadline)
      throw new Error(`the nodes did not agree on a leader within ${timeoutMs} ms (${last})`);
    await sleep(100);
  }
}

/** Writes `key` until one write is acknowledged; returns its revision. */
export async function writeSentinel(
  endpoints: readonly string[],
  key: string,
  timeoutMs: number,
): Promise<number> {
  const client = new RaftreeClient({ endpoints, deadlineMs: 3_000 });
  const deadline = Date.now() + timeoutMs;
  let attempt = 0;
  try {
    for (;;) {
      try {
        return (await client.put(key, `end-${++attempt}`)).revision;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`the sentinel write never succeeded: ${(error as Error).message}`);
        await sleep(200);
      }
    }
  } finally {
    client.close();
  }
}

/** Waits until every node has applied at least the leader's commit index. */
export async function waitForApplied(
  cluster: ChaosCluster,
  leader: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const leaderStatus = await cluster.status(leader, 2_000);
  if (leaderStatus === null) throw new Error(`the leader ${leader} does not answer`);
  const target = leaderStatus.commitIndex;
  for (;;) {
    const statuses = await cluster.statuses();
    const behind = cluster.ids.filter((id) => (statuses.get(id)?.appliedIndex ?? -1) < target);
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${behind.join(', ')} did not apply up to the leader's commit index ${target} within ${timeoutMs} ms`,
      );
    }
    await sleep(100);
  }
}

/** One node's values under `prefix` (serializable: its own applied state), sentinel excluded. */
export async function readNodeState(
  address: string,
  prefix: string,
  exclude: string,
): Promise<Map<string, string | null>> {
  const client = new RaftreeClient({ endpoints: [address], deadlineMs: 5_000 });
  try {
    const result = await client.get(prefix, { prefix: true, serializable: true });
    return new Map(result.kvs.filter((kv) => kv.key !== exclude).map((kv) => [kv.key, kv.text()]));
  } finally {
    client.close();
  }
}

/** One node's whole committed history under `prefix`, up to `revision`, read as a watch from revision 1. */
export async function readNodeHistory(
  address: string,
  prefix: string,
  revision: number,
  timeoutMs: number,
): Promise<RecordedEvent[]> {
  const recorder = new WatchRecorder([address], prefix);
  try {
    const reached = await recorder.waitFor(revision, timeoutMs);
    if (!reached) {
      const why = recorder.error?.message ?? `only up to revision ${recorder.events.at(-1)?.revision ?? 0}`;
      throw new Error(`its history did not reach revision ${revision} within ${timeoutMs} ms (${why})`);
    }
    return recorder.events.filter((e) => e.revision <= revision);
  } finally {
    recorder.close();
  }
}
