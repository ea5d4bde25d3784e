/**
 * Sessions against a real three-node cluster of `raftree serve` processes: expiry deletes every
 * ephemeral node of the session at one revision (watchers see each delete); a session kept
 * alive survives SIGKILLs of the leader; a dead client's session still expires across a
 * failover; sequential numbers strictly increase across failovers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftreeClient, RaftreeError, type WatchEvent } from '../../src/client/index.js';
import { until } from '../support/eventually.js';
import { ProcessCluster } from '../support/process-cluster.js';

let cluster: ProcessCluster;
const clients: RaftreeClient[] = [];

function client(deadlineMs = 5_000): RaftreeClient {
  const c = new RaftreeClient({ endpoints: cluster.endpoints(), deadlineMs });
  clients.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** SIGKILLs the leader, waits for a new one, restarts the old one; returns the old leader's id. */
async function killLeader(): Promise<string> {
  const leader = await cluster.waitForLeader();
  await cluster.kill(leader, 'SIGKILL');
  await cluster.waitForLeader({ exclude: [leader], timeoutMs: 15_000 });
  await cluster.restart(leader);
  return leader;
}

beforeAll(async () => {
  cluster = await ProcessCluster.start();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

describe('sessions on a process cluster', () => {
  it('expiry deletes all of a session’s ephemeral nodes at one revision, and watchers see each delete', async () => {
    const owner = client();
    const observer = client();
    const ttlMs = 1_500;
    const session = await owner.session({ ttlMs });
    await owner.create('/exp', '');
    await owner.create('/exp/workers', '');
    const keys = ['/exp/a', '/exp/b', '/exp/workers/w1', '/exp/workers/w2'];
    for (const key of keys) await owner.create(key, 'alive', { session });
    await owner.put('/exp/persistent', 'stays');
    const other = await owner.session({ ttlMs: 10_000 });
    await owner.create('/exp/other', 'stays', { session: other });

    const deletes: WatchEvent[] = [];
    const watcher = observer.watch('/exp/', { prefix: true });
    watcher.on('event', (event) => {
      if (event.type === 'delete') deletes.push(event);
    });
    await watcher.ready();

    // The owner "dies": no more keep-alives.
    const diedAt = Date.now();
    session.stopLocally();
    await until('four delete events', () => deletes.length === 4, 10_000);
    const expiredAfter = Date.now() - diedAt;
    watcher.close();

    expect(deletes.map((e) => e.key).sort()).toEqual([...keys].sort());
    const revisions = new Set(deletes.map((e) => e.revision));
    expect(revisions.size).toBe(1);
    // Within TTL plus a small bound (the last acknowledged keep-alive was up to TTL/3 earlier).
    expect(expiredAfter).toBeGreaterThan(ttlMs / 2);
    expect(expiredAfter).toBeLessThan(ttlMs + 2_000);

    const left = await observer.get('/exp/', { prefix: true });
    expect(left.kvs.map((kv) => kv.key)).toEqual(['/exp/other', '/exp/persistent', '/exp/workers']);
    const error = await observer.sessionInfo(session.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RaftreeError);
    expect((error as RaftreeError).code).toBe('NOT_FOUND');
    await other.close();
  });

  it('a session kept alive survives leader SIGKILLs, and still works afterwards', async () => {
    const c = client();
    const session = await c.session({ ttlMs: 3_000 });
    // A second session whose client knows only the followers: its keep-alives are relayed.
    const leader = await cluster.waitForLeader();
    const followers = cluster.ids.filter((id) => id !== leader);
    const viaFollowers = new RaftreeClient({ endpoints: cluster.endpoints(followers), deadlineMs: 5_000 });
    clients.push(viaFollowers);
    const relayed = await viaFollowers.session({ ttlMs: 3_000 });
    const lost: string[] = [];
    session.on('lost', (error) => lost.push(`direct: ${error.message}`));
    relayed.on('lost', (error) => lost.push(`relayed: ${error.message}`));
    await c.create('/alive', '');
    await c.create('/alive/me', 'here', { session });
    await c.create('/alive/relayed', 'here', { session: relayed });
    for (let round = 0; round < 2; round++) {
      await killLeader();
      // Two TTLs: without keep-alives reaching the new leader the sessions would be gone.
      await sleep(6_000);
      expect(lost).toEqual([]);
      expect(await c.exists('/alive/me')).toBe(true);
      expect(await c.exists('/alive/relayed')).toBe(true);
    }
    expect(await relayed.close()).toEqual(['/alive/relayed']);
    // The session still works: a new ephemeral node, then Close deletes both.
    await c.create('/alive/again', 'x', { session });
    const info = await c.sessionInfo(session.id);
    expect(info.keys).toEqual(['/alive/again', '/alive/me']);
    expect(await session.close()).toEqual(['/alive/again', '/alive/me']);
  });

  it('a dead client’s session still expires when the leader dies meanwhile', async () => {
    const c = client();
    const ttlMs = 2_000;
    const session = await c.session({ ttlMs });
    await c.create('/dead', 'x', { session });
    session.stopLocally();
    const diedAt = Date.now();
    const leader = await cluster.waitForLeader();
    await cluster.kill(leader, 'SIGKILL');
    await until(
      'the session to expire',
      async () => !(await c.exists('/dead').catch(() => true)),
      ttlMs + 10_000,
    );
    // The new leader resumes from the checkpointed remaining TTL plus a grace, not a fresh TTL per failover.
    expect(Date.now() - diedAt).toBeLessThan(ttlMs + 6_000);
    await cluster.restart(leader);
    await cluster.waitForAgreement();
  });

  it('sequential numbers strictly increase across failovers', async () => {
    const c = client(10_000);
    await c.create('/seq', '');
    const created: number[] = [];
    const createSome = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        for (;;) {
          try {
            const result = await c.create('/seq/n-', `${created.length}`, { sequential: true });
            created.push(Number(result.path.slice('/seq/n-'.length)));
            break;
          } catch (error) {
            // No leader for a while (it never applied), or an unknown outcome (it may have used a
            // number): either way, try again.
            if (!(error instanceof RaftreeError) || !(error.outcomeUnknown || error.code === 'UNAVAILABLE')) {
              throw error;
            }
            await sleep(100);
          }
        }
      }
    };
    await createSome(5);
    for (let round = 0; round < 2; round++) {
      const writer = createSome(10);
      const killed = sleep(50).then(killLeader);
      await Promise.all([writer, killed]);
    }
    await createSome(5);
    for (let i = 1; i < created.length; i++) expect(created[i]).toBeGreaterThan(created[i - 1]!);
    const names = await c.children('/seq');
    const numbers = names.map((n) => Number(n.slice(2)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    for (const n of created) expect(numbers).toContain(n);
  });
});
