/**
 * The coordination API through the client library against an in-process three-node cluster:
 * sessions (also kept alive through a follower, which relays to the leader), the tree,
 * elections (campaign, leader, observe, resign, withdrawal on a deadline) and locks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ElectionLeader, RaftreeClient } from '../../src/client/index.js';
import {
  rejection,
  startCoordinationCluster,
  waitFor,
  type CoordinationCluster,
} from './coordination-harness.js';

let cluster: CoordinationCluster;
let client: RaftreeClient;

beforeAll(async () => {
  cluster = await startCoordinationCluster();
  client = cluster.client();
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function followerAddress(): string {
  const leader = cluster.leaderIndex();
  return cluster.addresses[(leader + 1) % cluster.addresses.length]!;
}

describe('sessions', () => {
  it('stays alive through a follower that relays keep-alives to the leader', async () => {
    const viaFollower = cluster.client([followerAddress()]);
    const session = await viaFollower.session({ ttlMs: 1_000 });
    let keepalives = 0;
    session.on('keepalive', () => keepalives++);
    await viaFollower.create('/relay/e', 'x', { session, parents: true });
    await sleep(2_500);
    expect(session.isAlive).toBe(true);
    expect(keepalives).toBeGreaterThanOrEqual(5);
    const info = await viaFollower.sessionInfo(session.id);
    expect(info.ttlMs).toBe(1_000);
    expect(info.remainingMs).toBeGreaterThan(0);
    expect(info.remainingMs).toBeLessThanOrEqual(1_000);
    expect(info.keys).toEqual(['/relay/e']);
    expect(await viaFollower.exists('/relay/e')).toBe(true);
    expect(await session.close()).toEqual(['/relay/e']);
    expect(await viaFollower.exists('/relay/e')).toBe(false);
  });

  it('lists sessions and closes one, deleting all its keys at one revision', async () => {
    const session = await client.session({ ttlMs: 5_000 });
    await client.create('/owned', '', {});
    for (const name of ['a', 'b', 'c']) await client.create(`/owned/${name}`, name, { session });
    const listed = await client.sessions();
    expect(listed.find((s) => s.id === session.id)?.keys).toEqual(['/owned/a', '/owned/b', '/owned/c']);
    const watcher = client.watch('/owned', { children: true });
    await watcher.ready();
    const deletes: { key: string; revision: number }[] = [];
    watcher.on('event', (event) => deletes.push({ key: event.key, revision: event.revision }));
    expect(await session.close()).toEqual(['/owned/a', '/owned/b', '/owned/c']);
    await waitFor(() => deletes.length === 3, 'three delete events');
    expect(new Set(deletes.map((d) => d.revision)).size).toBe(1);
    watcher.close();
    expect((await rejection(client.sessionInfo(session.id))).code).toBe('NOT_FOUND');
  });

  it('reports a session lost when the server says it is gone', async () => {
    const session = await client.session({ ttlMs: 3_000 });
    const lost = session.whenLost();
    // Someone else revokes it: the next keep-alive answers "gone".
    await client.revokeSession(session.id);
    const error = await lost;
    expect(error.code).toBe('NOT_FOUND');
    expect(session.isAlive).toBe(false);
  });
});

describe('the tree', () => {
  it('creates, stats, lists and deletes nodes with ZooKeeper semantics', async () => {
    await client.create('/zk/app/config', '{"a":1}', { parents: true });
    const stat = await client.stat('/zk/app/config');
    expect(stat).toMatchObject({ version: 1, ephemeral: false, numChildren: 0, dataLength: 7 });
    expect(stat!.text()).toBe('{"a":1}');
    expect(await client.stat('/zk/missing')).toBeUndefined();
    expect(await client.exists('/zk/app')).toBe(true);

    const paths: string[] = [];
    for (let i = 0; i < 3; i++)
      paths.push((await client.create('/zk/app/job-', `${i}`, { sequential: true })).path);
    expect(paths).toEqual(['/zk/app/job-0000000000', '/zk/app/job-0000000001', '/zk/app/job-0000000002']);
    expect(await client.children('/zk/app')).toEqual([
      'config',
      'job-0000000000',
      'job-0000000001',
      'job-0000000002',
    ]);
    expect((await client.stat('/zk/app'))!.numChildren).toBe(4);

    await client.put('/zk/app/config', 'v2');
    expect((await rejection(client.deleteNode('/zk/app/config', { expectedVersion: 1 }))).code).toBe(
      'FAILED_PRECONDITION',
    );
    await client.deleteNode('/zk/app/config', { expectedVersion: 2 });
    expect(await client.exists('/zk/app/config')).toBe(false);
    // The counter never goes back, even after deletes.
    await client.deleteNode('/zk/app/job-0000000002');
    expect((await client.create('/zk/app/job-', 'x', { sequential: true })).path).toBe(
      '/zk/app/job-0000000003',
    );
  });
});

describe('elections', () => {
  it('elects the earliest candidate, hands over in order, and observers see each leader', async () => {
    const election = client.election('e2e');
    const observer = election.observe();
    const observed: (ElectionLeader | null)[] = [];
    observer.on('leader', (leader) => observed.push(leader));
    await waitFor(() => observed.length === 1, 'the first observation');
    expect(observed[0]).toBeNull();

    const sessions = await Promise.all([0, 1, 2].map(() => client.session({ ttlMs: 5_000 })));
    const first = await election.campaign('a', sessions[0]!);
    const second = election.campaign('b', sessions[1]!);
    await sleep(50);
    const third = election.campaign('c', sessions[2]!);
    await sleep(200);
    const leader = await election.leader();
    expect(leader?.text()).toBe('a');
    expect(leader?.fencingToken).toBe(first.fencingToken);

    // Campaigning again on the same session resumes the same candidacy.
    const again = await election.campaign('a', sessions[0]!);
    expect(again.key).toBe(first.key);

    await first.resign();
    const secondLeader = await second;
    expect(secondLeader.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(secondLeader.revision).toBeGreaterThan(first.revision);
    // The second leader's session ends: the third takes over.
    await sessions[1]!.close();
    const thirdLeader = await third;
    expect(thirdLeader.fencingToken).toBeGreaterThan(secondLeader.fencingToken);
    await thirdLeader.resign();
    await waitFor(() => observed.length === 5, 'five observations');
    expect(observed.map((l) => l?.text() ?? null)).toEqual([null, 'a', 'b', 'c', null]);
    observer.close();
    for (const s of sessions) await s.close();
  });

  it('withdraws a candidate whose campaign runs out of time or is aborted', async () => {
    const election = client.election('withdraw');
    const holder = await client.session({ ttlMs: 5_000 });
    const waiter = await client.session({ ttlMs: 5_000 });
    await election.campaign('holder', holder);
    const timedOut = await rejection(election.campaign('waiter', waiter, { deadlineMs: 300 }));
    expect(timedOut.code).toBe('DEADLINE_EXCEEDED');
    const abort = new AbortController();
    const aborted = election.campaign('waiter', waiter, { signal: abort.signal });
    await sleep(100);
    abort.abort();
    expect((await rejection(aborted)).code).toBe('CANCELLED');
    // Only the holder's candidate is left.
    await expect
      .poll(() => client.children('/_election/withdraw'), { timeout: 3_000 })
      .toEqual([expect.stringMatching(/^c-\d{10}$/)]);
    await holder.close();
    await waiter.close();
  });
});

describe('locks', () => {
  it('grants a lock to one session at a time, in order, with growing fencing tokens', async () => {
    const [a, b] = await Promise.all([client.session({ ttlMs: 5_000 }), client.session({ ttlMs: 5_000 })]);
    const first = await client.lock('shared', a);
    let secondGranted = false;
    const second = client.lock('shared', b).then((lock) => {
      secondGranted = true;
      return lock;
    });
    await sleep(300);
    expect(secondGranted).toBe(false);
    await first.unlock();
    const granted = await second;
    expect(granted.fencingToken).toBeGreaterThan(first.fencingToken);
    await granted.unlock();
    // Unlocking twice is harmless.
    await granted.unlock();
    await a.close();
    await b.close();
  });

  it('passes a lock on when its holder session is lost', async () => {
    const holderClient = cluster.client();
    const holder = await holderClient.session({ ttlMs: 1_000 });
    const held = await holderClient.lock('lost-holder', holder);
    const waiter = await client.session({ ttlMs: 5_000 });
    const startedAt = Date.now();
    const next = client.lock('lost-holder', waiter);
    // The holder dies (no more keep-alives): its session expires and the lock moves on.
    holder.stopLocally();
    const granted = await next;
    expect(Date.now() - startedAt).toBeLessThan(4_000);
    expect(granted.fencingToken).toBeGreaterThan(held.fencingToken);
    await granted.unlock();
    await waiter.close();
  });
});
