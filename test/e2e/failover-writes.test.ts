/**
 * Writes through the followers while the leader is SIGKILLed: a follower holds what its clients
 * send while it cannot reach a leader and hands it to the next one, so only writes already in
 * flight to the dead leader may fail (outcome unknown); everything sent after the kill succeeds.
 */
import { afterAll, expect, it } from 'vitest';
import { ChaosCluster } from '../chaos/chaos-cluster.js';
import { closeClients, connect, sleep, text, unary, type ApiClients } from './api-harness.js';

let cluster: ChaosCluster | null = null;
const clients: ApiClients[] = [];

afterAll(async () => {
  for (const c of clients) closeClients(c);
  await cluster?.stop();
}, 30_000);

it('loses no write sent through a follower after the leader is killed', async () => {
  cluster = await ChaosCluster.start({ size: 3, tickMs: 50, snapshotEntries: 100_000 });
  let leader: string | undefined;
  while ((leader = await cluster.leader()) === undefined) await sleep(50);
  const followers = ['n1', 'n2', 'n3'].filter((id) => id !== leader);
  for (const id of followers) clients.push(connect(cluster.node(id).address));

  const outcomes: { sentAt: number; error: string | null }[] = [];
  let killedAt = Infinity;
  let n = 0;
  const writer = setInterval(() => {
    const sentAt = Date.now();
    const target = clients[n % clients.length]!;
    const key = `/failover/${n++}`;
    unary(target.kv, 'Put', { key, value: text('v') }, 5_000).then(
      () => outcomes.push({ sentAt, error: null }),
      (error: Error) => outcomes.push({ sentAt, error: error.message }),
    );
  }, 10);
  await sleep(500);
  killedAt = Date.now();
  await cluster.kill(leader!);
  await sleep(3_000);
  clearInterval(writer);
  await sleep(5_500); // every write has answered by its deadline

  expect(outcomes).toHaveLength(n);
  const afterKill = outcomes.filter((o) => o.sentAt > killedAt + 50);
  expect(afterKill.length).toBeGreaterThan(200);
  expect(afterKill.filter((o) => o.error !== null)).toEqual([]);
}, 60_000);
