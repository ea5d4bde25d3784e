/**
 * v3lockpb.Lock and v3electionpb.Election against a three-node raftree cluster: through raw
 * requests (the wire contract, and etcd 3.4's codes and messages, checked against the real
 * etcd), and contending on the same names with clients of etcd's own recipe — `etcdctl lock`,
 * `etcdctl elect` (skipped, with a message, when /usr/bin/etcdctl is missing) and the npm etcd3
 * client's Lock and Election.
 */
import { spawn } from 'node:child_process';
import { etcdTools } from '../support/etcdctl.js';
import * as grpc from '@grpc/grpc-js';
import { Etcd3, EtcdLockFailedError } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../support/cli-runner.js';
import { until } from '../support/eventually.js';
import { callError, sleep, text, unary, type RawClient, type TestCluster } from './api-harness.js';
import {
  etcdClients,
  startEtcdCluster,
  type EtcdRawClients,
  type HeaderWire,
  type KvWire,
} from './etcd-harness.js';

interface LeaderKeyWire {
  name: Buffer;
  key: Buffer;
  rev: string;
  lease: string;
}
interface LockResponse {
  header: HeaderWire;
  key: Buffer;
}
interface CampaignResponse {
  header: HeaderWire;
  leader: LeaderKeyWire;
}
interface LeaderResponse {
  header: HeaderWire;
  kv: KvWire;
}
interface RangeResponse {
  header: HeaderWire;
  kvs: KvWire[];
}

/** etcd's lock and election servers send the errors of their embedded client as UNKNOWN. */
const UNKNOWN = grpc.status.UNKNOWN;
const ETCDCTL = etcdTools().etcdctl;
const hasEtcdctl = ETCDCTL !== null;
if (!hasEtcdctl) {
  console.warn(
    "skipping the etcdctl lock/elect tests: etcdctl is missing (install Debian's etcd-client package)",
  );
}

/** A promise whose settlement can be checked without awaiting it. */
function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  // The test awaits it (or expects a rejection) later: do not report it as unhandled meanwhile.
  promise.catch(() => undefined);
  return { promise, settled: () => settled };
}

const hex = (lease: string): string => BigInt(lease).toString(16);

describe('etcd Lock and Election services', () => {
  let cluster: TestCluster;
  let leader: EtcdRawClients;
  let follower: EtcdRawClients;
  const endpoints = (): string => cluster.addresses.join(',');

  beforeAll(async () => {
    cluster = await startEtcdCluster();
    leader = etcdClients(cluster.addresses[cluster.leaderIndex()]!);
    follower = etcdClients(cluster.addresses[cluster.followerIndex()]!);
  }, 30_000);

  afterAll(async () => {
    leader?.close();
    follower?.close();
    await cluster?.stop();
  });

  const grant = async (ttlSeconds = 30): Promise<string> =>
    (await unary<{ ID: string }>(leader.lease, 'LeaseGrant', { TTL: String(ttlSeconds), ID: '0' })).ID;

  const lock = (client: RawClient, name: string, lease: string, deadlineMs = 10_000): Promise<LockResponse> =>
    unary<LockResponse>(client, 'Lock', { name: text(name), lease }, deadlineMs);

  const unlock = (client: RawClient, key: Buffer): Promise<{ header: HeaderWire }> =>
    unary(client, 'Unlock', { key });

  const keysUnder = async (prefix: string): Promise<KvWire[]> =>
    (
      await unary<RangeResponse>(leader.kv, 'Range', {
        key: text(`${prefix}/`),
        range_end: text(`${prefix}0`),
        sort_target: 2, // CREATE
        sort_order: 1, // ASCEND
      })
    ).kvs;

  describe('Lock', () => {
    it('queues callers on one name by create revision: each waits until the one before unlocks', async () => {
      const [a, b, c] = [await grant(), await grant(), await grant()];
      const first = await lock(leader.lock, 'queue', a);
      expect(first.key.toString()).toBe(`queue/${hex(a)}`);
      expect(Number(first.header.revision)).toBeGreaterThan(0);

      // The waiters arrive through a follower: it waits locally and forwards its writes.
      const second = tracked(lock(follower.lock, 'queue', b));
      await until('the second key', async () => (await keysUnder('queue')).length === 2, 5000);
      const third = tracked(lock(follower.lock, 'queue', c));
      await until('the third key', async () => (await keysUnder('queue')).length === 3, 5000);
      await sleep(300);
      expect(second.settled()).toBe(false);
      expect(third.settled()).toBe(false);
      const queued = await keysUnder('queue');
      expect(queued.map((kv) => kv.key.toString())).toEqual([
        `queue/${hex(a)}`,
        `queue/${hex(b)}`,
        `queue/${hex(c)}`,
      ]);
      expect(queued.map((kv) => kv.lease)).toEqual([a, b, c]);

      const released = await unlock(leader.lock, first.key);
      const granted = await second.promise;
      expect(granted.key.toString()).toBe(`queue/${hex(b)}`);
      expect(Number(granted.header.revision)).toBeGreaterThanOrEqual(Number(released.header.revision));
      await sleep(200);
      expect(third.settled()).toBe(false);

      await unlock(follower.lock, granted.key);
      expect((await third.promise).key.toString()).toBe(`queue/${hex(c)}`);
      await unlock(leader.lock, text(`queue/${hex(c)}`));
      expect(await keysUnder('queue')).toEqual([]);
    });

    it('answers a Lock with a lease that already holds the lock at once, with the same key', async () => {
      const lease = await grant();
      const held = await lock(leader.lock, 'again', lease);
      const again = await lock(follower.lock, 'again', lease, 2000);
      expect(again.key).toEqual(held.key);
      expect(await keysUnder('again')).toHaveLength(1);
      await unlock(leader.lock, held.key);
    });

    it('refuses a lease that does not exist with lease not found', async () => {
      for (const client of [leader.lock, follower.lock]) {
        const error = await callError(lock(client, 'nolease', '987654321'));
        expect(error.code).toBe(UNKNOWN);
        expect(error.details).toBe('etcdserver: requested lease not found');
      }
      expect(await keysUnder('nolease')).toEqual([]);
    });

    it('hands the lock to the next waiter when the holder’s lease expires', async () => {
      const short = await grant(1); // never kept alive
      const long = await grant();
      const held = await lock(leader.lock, 'expiry', short);
      const startedAt = Date.now();
      const next = await lock(follower.lock, 'expiry', long, 8000);
      expect(next.key.toString()).toBe(`expiry/${hex(long)}`);
      expect(Date.now() - startedAt).toBeLessThan(7000);
      expect((await keysUnder('expiry')).map((kv) => kv.key.toString())).toEqual([`expiry/${hex(long)}`]);
      expect(held.key.toString()).toBe(`expiry/${hex(short)}`);
      await unlock(leader.lock, next.key);
    });

    it('fails a waiter whose own lease expires, and lets the rest of the queue move on', async () => {
      const holder = await grant();
      const short = await grant(1);
      const held = await lock(leader.lock, 'waiter-expiry', holder);
      const error = await callError(lock(follower.lock, 'waiter-expiry', short, 8000));
      expect(error.code).toBe(UNKNOWN);
      expect(error.details).toBe('mutex: session is expired');
      expect((await keysUnder('waiter-expiry')).map((kv) => kv.key.toString())).toEqual([
        held.key.toString(),
      ]);
      await unlock(leader.lock, held.key);
    });

    it('withdraws the key of a Lock whose caller gave up (deadline), so later callers do not wait for it', async () => {
      const [a, b, c] = [await grant(), await grant(), await grant()];
      const held = await lock(leader.lock, 'abandon', a);
      const error = await callError(lock(follower.lock, 'abandon', b, 400));
      expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      await until('the abandoned key to go', async () => (await keysUnder('abandon')).length === 1, 5000);
      const waiting = tracked(lock(leader.lock, 'abandon', c));
      await unlock(leader.lock, held.key);
      expect((await waiting.promise).key.toString()).toBe(`abandon/${hex(c)}`);
      await unlock(leader.lock, text(`abandon/${hex(c)}`));
    });

    it('unlocks like etcd: a plain delete that succeeds for a key that is gone, refuses an empty key', async () => {
      const response = await unlock(follower.lock, text('never/locked'));
      expect(Number(response.header.revision)).toBeGreaterThan(0);
      const error = await callError(unlock(leader.lock, Buffer.alloc(0)));
      expect(error.code).toBe(UNKNOWN);
      expect(error.details).toBe('etcdserver: key is not provided');
    });

    it('grants a lease when Lock names lease 0, as etcd’s server does', async () => {
      const response = await lock(follower.lock, 'zero', '0');
      const [kv] = await keysUnder('zero');
      expect(kv).toBeDefined();
      expect(kv!.lease).not.toBe('0');
      expect(response.key.toString()).toBe(`zero/${hex(kv!.lease)}`);
      await unlock(leader.lock, response.key);
    });
  });

  describe('Election', () => {
    const campaign = (client: RawClient, name: string, lease: string, value: string, deadlineMs = 10_000) =>
      unary<CampaignResponse>(
        client,
        'Campaign',
        { name: text(name), lease, value: text(value) },
        deadlineMs,
      );
    const leaderOf = (client: RawClient, name: string) =>
      unary<LeaderResponse>(client, 'Leader', { name: text(name) });

    it('campaigns, proclaims, observes and resigns, with etcd’s errors on the way', async () => {
      const name = 'elect';
      const noLeader = await callError(leaderOf(follower.election, name));
      expect([noLeader.code, noLeader.details]).toEqual([UNKNOWN, 'election: no leader']);

      // Observe before anyone campaigns: nothing is sent until someone leads.
      const observed: LeaderResponse[] = [];
      const observe = (
        follower.election['Observe'] as unknown as (
          request: object,
          options: grpc.CallOptions,
        ) => grpc.ClientReadableStream<LeaderResponse>
      ).call(
        follower.election,
        { name: text(name) },
        {
          deadline: Date.now() + 20_000,
        },
      );
      observe.on('data', (response: LeaderResponse) => observed.push(response));
      observe.on('error', () => undefined);
      await sleep(200);
      expect(observed).toEqual([]);

      const [l1, l2] = [await grant(), await grant()];
      const one = await campaign(leader.election, name, l1, 'one');
      expect(one.leader.name.toString()).toBe(name);
      expect(one.leader.key.toString()).toBe(`${name}/${hex(l1)}`);
      expect(one.leader.lease).toBe(l1);
      expect(one.leader.rev).toBe(one.header.revision);

      const current = await leaderOf(follower.election, name);
      expect(current.kv.key.toString()).toBe(`${name}/${hex(l1)}`);
      expect(current.kv.value.toString()).toBe('one');
      expect(current.kv.create_revision).toBe(one.leader.rev);

      const two = tracked(campaign(follower.election, name, l2, 'two'));
      await sleep(300);
      expect(two.settled()).toBe(false);

      await unary(follower.election, 'Proclaim', { leader: one.leader, value: text('one-b') });
      expect((await leaderOf(leader.election, name)).kv.value.toString()).toBe('one-b');

      const stale = await callError(
        unary(leader.election, 'Proclaim', { leader: { ...one.leader, rev: '1' }, value: text('x') }),
      );
      expect([stale.code, stale.details]).toEqual([UNKNOWN, 'election: not leader']);
      const missing = await callError(unary(leader.election, 'Proclaim', { value: text('x') }));
      expect([missing.code, missing.details]).toEqual([UNKNOWN, '"leader" field must be provided']);
      const missingResign = await callError(unary(leader.election, 'Resign', {}));
      expect(missingResign.details).toBe('"leader" field must be provided');

      const resign = await unary<{ header: HeaderWire }>(leader.election, 'Resign', { leader: one.leader });
      const won = await two.promise;
      expect(won.leader.key.toString()).toBe(`${name}/${hex(l2)}`);
      expect((await leaderOf(follower.election, name)).kv.value.toString()).toBe('two');

      // The resigned leader can no longer proclaim; resigning again changes nothing.
      const resigned = await callError(
        unary(leader.election, 'Proclaim', { leader: one.leader, value: text('z') }),
      );
      expect(resigned.details).toBe('election: not leader');
      await unary(leader.election, 'Resign', { leader: one.leader });

      await until('three observed leaders', () => observed.length >= 3, 5000);
      expect(observed.map((r) => r.kv.value.toString())).toEqual(['one', 'one-b', 'two']);
      expect(observed.map((r) => r.kv.key.toString())).toEqual([
        `${name}/${hex(l1)}`,
        `${name}/${hex(l1)}`,
        `${name}/${hex(l2)}`,
      ]);
      // A proclaim is sent at its own revision, a new leader at the revision that made it lead.
      expect(observed.map((r) => r.header.revision)).toEqual([
        observed[0]!.kv.mod_revision,
        observed[1]!.kv.mod_revision,
        resign.header.revision,
      ]);

      await unary(follower.election, 'Resign', { leader: won.leader });
      const gone = await callError(leaderOf(leader.election, name));
      expect(gone.details).toBe('election: no leader');
      observe.cancel();
    });

    it('observes the current leader first, and every proclaim even of the same value', async () => {
      const lease = await grant();
      const held = await campaign(leader.election, 'obs2', lease, 'v');
      const observed: LeaderResponse[] = [];
      const observe = (
        leader.election['Observe'] as unknown as (
          request: object,
          options: grpc.CallOptions,
        ) => grpc.ClientReadableStream<LeaderResponse>
      ).call(
        leader.election,
        { name: text('obs2') },
        {
          deadline: Date.now() + 10_000,
        },
      );
      observe.on('data', (response: LeaderResponse) => observed.push(response));
      observe.on('error', () => undefined);
      await until('the current leader', () => observed.length === 1, 5000);
      await unary(leader.election, 'Proclaim', { leader: held.leader, value: text('v') });
      await unary(leader.election, 'Proclaim', { leader: held.leader, value: text('w') });
      await until('two proclaims', () => observed.length === 3, 5000);
      expect(observed.map((r) => [r.kv.value.toString(), r.kv.version])).toEqual([
        ['v', '1'],
        ['v', '2'],
        ['w', '3'],
      ]);
      observe.cancel();
      await unary(leader.election, 'Resign', { leader: held.leader });
    });

    it('re-campaigning with the same lease keeps the candidacy and proclaims the new value', async () => {
      const lease = await grant();
      const first = await campaign(leader.election, 'recampaign', lease, 'a');
      const second = await campaign(follower.election, 'recampaign', lease, 'b', 3000);
      expect(second.leader).toEqual(first.leader);
      const current = await leaderOf(leader.election, 'recampaign');
      expect(current.kv.value.toString()).toBe('b');
      expect(current.kv.version).toBe('2');
      await unary(leader.election, 'Resign', { leader: second.leader });
    });

    it('withdraws the candidacy of a Campaign whose caller gave up', async () => {
      const [a, b] = [await grant(), await grant()];
      const held = await campaign(leader.election, 'giveup', a, 'a');
      const error = await callError(campaign(follower.election, 'giveup', b, 'b', 400));
      expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      await until(
        'the abandoned candidate to go',
        async () => (await keysUnder('giveup')).length === 1,
        5000,
      );
      await unary(leader.election, 'Resign', { leader: held.leader });
    });

    it('refuses a campaign on a lease that does not exist', async () => {
      const error = await callError(campaign(follower.election, 'nolease-election', '123456789', 'x'));
      expect([error.code, error.details]).toEqual([UNKNOWN, 'etcdserver: requested lease not found']);
    });
  });

  describe.skipIf(!hasEtcdctl)('etcdctl lock and elect on the same names', () => {
    const etcdctl = (...args: string[]): CliProcess =>
      new CliProcess(
        spawn(ETCDCTL!, ['--dial-timeout=3s', `--endpoints=${endpoints()}`, ...args], {
          env: { ...process.env, ETCDCTL_API: '3' },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );

    it('etcdctl lock and the server-side Lock exclude each other on one name', async () => {
      const holder = etcdctl('lock', 'shared-lock');
      try {
        await holder.waitFor('etcdctl to hold the lock', () =>
          holder.stdoutLines.some((l) => l.startsWith('shared-lock/')),
        );
        const lease = await grant();
        const ours = tracked(lock(follower.lock, 'shared-lock', lease, 15_000));
        await sleep(500);
        expect(ours.settled()).toBe(false);
        // SIGTERM: etcdctl unlocks and revokes its session.
        expect(await holder.stop('SIGTERM')).toBe(0);
        const granted = await ours.promise;
        expect(granted.key.toString()).toBe(`shared-lock/${hex(lease)}`);

        // Now ours holds it: etcdctl waits, and runs its command once we unlock.
        const waiter = etcdctl('lock', 'shared-lock', 'echo', 'etcdctl-got-it');
        try {
          await sleep(800);
          expect(waiter.stdoutLines).not.toContain('etcdctl-got-it');
          await unlock(leader.lock, granted.key);
          await waiter.waitFor(
            'etcdctl to get the lock',
            () => waiter.stdoutLines.includes('etcdctl-got-it'),
            10_000,
          );
          expect(await waiter.exited()).toBe(0);
        } finally {
          await waiter.stop('SIGKILL');
        }
      } finally {
        await holder.stop('SIGKILL');
      }
    }, 30_000);

    it('etcdctl elect and the server-side Campaign take turns, and etcdctl elect -l observes ours', async () => {
      const lease = await grant();
      const ours = await unary<CampaignResponse>(leader.election, 'Campaign', {
        name: text('shared-election'),
        lease,
        value: text('raftree'),
      });
      const listener = etcdctl('elect', '-l', 'shared-election');
      const candidate = etcdctl('elect', 'shared-election', 'etcdctl');
      try {
        await listener.waitFor('the listener to print our leader', () =>
          listener.stdoutLines.includes('raftree'),
        );
        expect(listener.stdoutLines).toContain(`shared-election/${hex(lease)}`);
        await sleep(500);
        expect(candidate.stdoutLines).toEqual([]);

        await unary(leader.election, 'Resign', { leader: ours.leader });
        await candidate.waitFor('etcdctl to be elected', () => candidate.stdoutLines.includes('etcdctl'));
        const theirs = await unary<LeaderResponse>(follower.election, 'Leader', {
          name: text('shared-election'),
        });
        expect(theirs.kv.value.toString()).toBe('etcdctl');
        expect(candidate.stdoutLines[0]).toBe(theirs.kv.key.toString());
        await listener.waitFor('the listener to print etcdctl', () =>
          listener.stdoutLines.includes('etcdctl'),
        );

        // Ours queues behind etcdctl's candidate and wins when it quits (resigns, revokes).
        const again = tracked(
          unary<CampaignResponse>(
            follower.election,
            'Campaign',
            { name: text('shared-election'), lease, value: text('raftree-again') },
            15_000,
          ),
        );
        await sleep(300);
        expect(again.settled()).toBe(false);
        await candidate.stop('SIGTERM');
        const won = await again.promise;
        expect(won.leader.key.toString()).toBe(`shared-election/${hex(lease)}`);
        await listener.waitFor('the listener to print raftree-again', () =>
          listener.stdoutLines.includes('raftree-again'),
        );
        await unary(leader.election, 'Resign', { leader: won.leader });
      } finally {
        await candidate.stop('SIGKILL');
        await listener.stop('SIGKILL');
      }
    }, 30_000);
  });

  describe('across a leader kill (a cluster of its own)', () => {
    it('a Lock waiting on a follower is granted through the new leader; one waiting on the killed node fails', async () => {
      const own = await startEtcdCluster();
      const leaderIndex = own.leaderIndex();
      const followerIndex = own.followerIndex();
      const doomed = etcdClients(own.addresses[leaderIndex]!);
      const survivor = etcdClients(own.addresses[followerIndex]!);
      try {
        const grantOn = async (client: EtcdRawClients): Promise<string> =>
          (await unary<{ ID: string }>(client.lease, 'LeaseGrant', { TTL: '30', ID: '0' })).ID;
        const [a, b, c] = [await grantOn(doomed), await grantOn(doomed), await grantOn(doomed)];
        const held = await lock(doomed.lock, 'failover', a);
        const queued = async (count: number): Promise<void> =>
          until(
            `${count} queued keys`,
            async () => {
              const range = await unary<RangeResponse>(survivor.kv, 'Range', {
                key: text('failover/'),
                range_end: text('failover0'),
              });
              return range.kvs.length === count;
            },
            5000,
          );
        // One after the other: the survivor's waiter is next in line, the doomed node's after it.
        const onSurvivor = tracked(lock(survivor.lock, 'failover', b, 20_000));
        await queued(2);
        const onDoomed = tracked(lock(doomed.lock, 'failover', c, 20_000));
        await queued(3);

        await own.stopNode(leaderIndex);
        // The killed node's waiter ends (the node is gone), it does not hang.
        const error = await callError(onDoomed.promise);
        expect([grpc.status.UNAVAILABLE, grpc.status.CANCELLED]).toContain(error.code);
        expect(onSurvivor.settled()).toBe(false);

        await until('a new leader', () => own.leaderIndex() !== -1, 10_000);
        // Unlock through the survivor: forwarded to the new leader.
        await until(
          'the unlock to go through',
          async () => {
            try {
              await unlock(survivor.lock, held.key);
              return true;
            } catch {
              return false;
            }
          },
          10_000,
        );
        const granted = await onSurvivor.promise;
        expect(granted.key.toString()).toBe(`failover/${hex(b)}`);
      } finally {
        doomed.close();
        survivor.close();
        await own.stop();
      }
    }, 30_000);
  });

  describe('the npm etcd3 client’s Lock and Election', () => {
    let etcd: Etcd3;
    beforeAll(() => {
      etcd = new Etcd3({ hosts: cluster.addresses.map((address) => `http://${address}`) });
    });
    afterAll(() => etcd?.close());

    it('acquires and releases an etcd3 lock; a second acquire fails while it is held', async () => {
      const first = etcd.lock('npm-lock').ttl(5);
      await first.acquire();
      await expect(etcd.lock('npm-lock').ttl(5).acquire()).rejects.toBeInstanceOf(EtcdLockFailedError);
      await first.release();
      const second = etcd.lock('npm-lock').ttl(5);
      await second.acquire();
      await second.release();
      expect(await etcd.get('npm-lock').string()).toBeNull();
    });

    it('runs etcd3 campaigns and observes them; a server-side Campaign contends on the same keys', async () => {
      const election = etcd.election('npm-election', 5);
      const observer = await election.observe();
      const changes: (string | undefined)[] = [];
      observer.on('change', (value) => changes.push(value));

      const first = election.campaign('first');
      await first.wait();
      expect(await election.leader()).toBe('first');
      await until('the observer to see first', () => observer.leader() === 'first', 5000);

      // etcd3 keeps its candidates under election/NAME/: the server-side name is election/NAME.
      const lease = await grant();
      const ours = tracked(
        unary<CampaignResponse>(
          follower.election,
          'Campaign',
          { name: text('election/npm-election'), lease, value: text('server-side') },
          15_000,
        ),
      );
      const second = election.campaign('second');
      let secondElected = false;
      second.on('elected', () => (secondElected = true));
      await sleep(500);
      expect(ours.settled()).toBe(false);
      expect(secondElected).toBe(false);

      await first.resign();
      const won = await ours.promise;
      expect(won.leader.key.toString()).toBe(`election/npm-election/${hex(lease)}`);
      expect(await election.leader()).toBe('server-side');
      await until(
        'the observer to see the server-side leader',
        () => observer.leader() === 'server-side',
        5000,
      );
      expect(secondElected).toBe(false);

      await unary(leader.election, 'Resign', { leader: won.leader });
      await second.wait();
      expect(await election.leader()).toBe('second');
      await until('the observer to see second', () => observer.leader() === 'second', 5000);
      expect(changes).toEqual(expect.arrayContaining(['first', 'server-side', 'second']));
      await second.resign();
      await observer.cancel();
    }, 30_000);
  });
});
