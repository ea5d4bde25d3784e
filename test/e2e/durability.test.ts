import { afterEach, describe, expect, it } from 'vitest';
import { RaftreeClient, RaftreeError, op } from '../../src/client/index.js';
import { ProcessCluster } from '../support/process-cluster.js';

/**
 * Durability with real processes and real disks: acknowledged writes survive SIGKILL of the
 * whole cluster, transactions are never half-visible, and a follower that fell behind the
 * leader's compacted log catches up by InstallSnapshot.
 */

let cluster: ProcessCluster | null = null;
let clients: RaftreeClient[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await cluster?.stop();
  cluster = null;
});

function client(endpoints: string[]): RaftreeClient {
  const c = new RaftreeClient({ endpoints, deadlineMs: 5_000 });
  clients.push(c);
  return c;
}

async function killAll(c: ProcessCluster): Promise<void> {
  await Promise.all(c.ids.map((id) => c.kill(id, 'SIGKILL')));
}

async function restartAll(c: ProcessCluster): Promise<void> {
  for (const id of c.ids) await c.restart(id);
  await c.waitForLeader({ timeoutMs: 20_000 });
}

/** Runs `work` for up to `limit` items with `concurrency` workers. */
async function pool(limit: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < limit) await work(next++);
    }),
  );
}

describe('durability across SIGKILL of every node', () => {
  it('keeps all 1000 acknowledged keys with their revisions', { timeout: 120_000 }, async () => {
    cluster = await ProcessCluster.start({ size: 3 });
    const writer = client(cluster.endpoints());
    const acked = new Map<string, { value: string; revision: number }>();
    await pool(1000, 32, async (i) => {
      const key = `/durable/k${String(i).padStart(4, '0')}`;
      const value = `v${i}`;
      const { revision } = await writer.put(key, value);
      acked.set(key, { value, revision });
    });
    expect(acked.size).toBe(1000);

    await killAll(cluster);
    await restartAll(cluster);

    const reader = client(cluster.endpoints());
    const { kvs } = await reader.get('/durable/', { prefix: true });
    expect(kvs).toHaveLength(1000);
    for (const kv of kvs) {
      const expected = acked.get(kv.key)!;
      expect(kv.text()).toBe(expected.value);
      expect(kv.modRevision).toBe(expected.revision);
    }
  });

  it(
    'keeps every acknowledged write and shows no partial txn after a kill mid-stream',
    { timeout: 120_000 },
    async () => {
      cluster = await ProcessCluster.start({ size: 3 });
      const endpoints = cluster.endpoints();
      const acked = new Map<string, string>();
      const ackedTxns = new Set<number>();
      const attemptedTxns = new Set<number>();
      let stop = false;
      let counter = 0;

      const writers = Array.from({ length: 8 }, async (_, w) => {
        const c = client(endpoints);
        while (!stop) {
          const n = counter++;
          try {
            if (n % 2 === 0) {
              await c.put(`/stream/p${n}`, `w${w}-${n}`);
              acked.set(`/stream/p${n}`, `w${w}-${n}`);
            } else {
              attemptedTxns.add(n);
              const value = `t${n}`;
              const result = await c.txn({
                success: [op.put(`/stream/ta${n}`, value), op.put(`/stream/tb${n}`, value)],
              });
              if (result.succeeded) ackedTxns.add(n);
            }
          } catch (error) {
            // The cluster is being killed: the outcome of this write is unknown.
            if (!(error instanceof RaftreeError)) throw error;
            if (stop) return;
          }
        }
      });

      const deadline = Date.now() + 10_000;
      while ((acked.size < 300 || ackedTxns.size < 100) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await killAll(cluster);
      stop = true;
      await Promise.all(writers);
      expect(acked.size).toBeGreaterThan(0);
      expect(ackedTxns.size).toBeGreaterThan(0);

      await restartAll(cluster);
      const reader = client(cluster.endpoints());
      const { kvs } = await reader.get('/stream/', { prefix: true });
      const stored = new Map(kvs.map((kv) => [kv.key, kv]));
      for (const [key, value] of acked) {
        expect(stored.get(key)?.text(), key).toBe(value);
      }
      for (const n of attemptedTxns) {
        const a = stored.get(`/stream/ta${n}`);
        const b = stored.get(`/stream/tb${n}`);
        // All or nothing, at one revision.
        expect(a === undefined, `txn ${n} half applied`).toBe(b === undefined);
        if (a && b) expect(a.modRevision).toBe(b.modRevision);
        if (ackedTxns.has(n)) expect(a?.text()).toBe(`t${n}`);
      }
    },
  );
});

describe('a lagging follower', () => {
  it(
    'catches up by InstallSnapshot after the others compacted their logs',
    { timeout: 120_000 },
    async () => {
      cluster = await ProcessCluster.start({ size: 3, extraArgs: ['--snapshot-entries', '100'] });
      const leader = await cluster.waitForLeader();
      const lagging = cluster.ids.find((id) => id !== leader)!;
      await cluster.kill(lagging);

      const writer = client(cluster.endpoints(cluster.ids.filter((id) => id !== lagging)));
      await pool(400, 16, async (i) => {
        await writer.put(`/lag/k${i}`, `v${i}`);
      });
      const { revision } = await writer.put('/lag/last', 'done');

      await cluster.restart(lagging);
      const follower = client([cluster.address(lagging)]);
      const deadline = Date.now() + 30_000;
      let caughtUp = false;
      while (!caughtUp && Date.now() < deadline) {
        try {
          const status = await follower.status(cluster.address(lagging));
          caughtUp = status.header.revision >= revision;
        } catch {
          // still starting
        }
        if (!caughtUp) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(caughtUp).toBe(true);
      expect(cluster.logs(lagging)).toContain('installed snapshot from leader');

      const local = await follower.get('/lag/', { prefix: true, serializable: true });
      const fromLeader = await writer.get('/lag/', { prefix: true });
      expect(local.kvs.length).toBe(401);
      expect(local.kvs.map((kv) => [kv.key, kv.text(), kv.modRevision])).toEqual(
        fromLeader.kvs.map((kv) => [kv.key, kv.text(), kv.modRevision]),
      );
    },
  );
});
