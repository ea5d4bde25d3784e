/**
 * etcdserverpb.Lease against a three-node raftree cluster, through the npm etcd3 client (which
 * nobody here wrote) and raw requests for what it does not expose. Leases are raftree sessions:
 * keys put with a lease go when it is revoked or expires. Expected messages are etcd 3.4's.
 */
import * as grpc from '@grpc/grpc-js';
import { Etcd3, EtcdLeaseInvalidError, type Lease } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireSessionKeeper } from '../../src/coordination/index.js';
import { minimumTtlSeconds } from '../../src/etcd/lease-service.js';
import { callError, sleep, unary, waitFor, type TestCluster } from './api-harness.js';
import { etcdClients, startEtcdCluster, type EtcdRawClients } from './etcd-harness.js';

interface TimeToLiveWire {
  ID: string;
  TTL: string;
  grantedTTL: string;
  keys: Buffer[];
}
interface KeepAliveWire {
  header: { member_id: string };
  ID: string;
  TTL: string;
}

const hostsOf = (addresses: readonly string[]): string[] => addresses.map((address) => `http://${address}`);

/** Counts a lease's successful keep-alives and broken streams, and remembers whether it was lost. */
function watchKeepAlives(lease: Lease): { count: () => number; failures: () => number; lost: () => unknown } {
  let count = 0;
  let failures = 0;
  let lost: unknown = null;
  lease.on('keepaliveSucceeded', () => count++);
  lease.on('keepaliveFailed', () => failures++);
  lease.on('lost', (error) => {
    lost = error;
  });
  return { count: () => count, failures: () => failures, lost: () => lost };
}

/** Sends one keep-alive on a raw LeaseKeepAlive stream and returns the first answer. */
function keepAliveOnce(client: EtcdRawClients, id: string): Promise<KeepAliveWire> {
  return new Promise((resolve, reject) => {
    const stream = (
      client.lease as unknown as {
        LeaseKeepAlive(options: grpc.CallOptions): grpc.ClientDuplexStream<object, KeepAliveWire>;
      }
    ).LeaseKeepAlive({ deadline: Date.now() + 5000 });
    stream.on('data', (response: KeepAliveWire) => {
      resolve(response);
      stream.end();
    });
    stream.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
    stream.write({ ID: id });
  });
}

describe('etcd Lease API', () => {
  let cluster: TestCluster;
  let etcd: Etcd3;
  let leader: EtcdRawClients;
  let follower: EtcdRawClients;
  const opened: Lease[] = [];
  const lease = (client: Etcd3, ttl: number, options?: { autoKeepAlive: boolean }): Lease => {
    const created = client.lease(ttl, options);
    opened.push(created);
    return created;
  };
  const timeToLive = (client: EtcdRawClients, id: string, keys = true): Promise<TimeToLiveWire> =>
    unary<TimeToLiveWire>(client.lease, 'LeaseTimeToLive', { ID: id, keys });

  beforeAll(async () => {
    cluster = await startEtcdCluster();
    etcd = new Etcd3({ hosts: hostsOf(cluster.addresses) });
    leader = etcdClients(cluster.addresses[cluster.leaderIndex()]!);
    follower = etcdClients(cluster.addresses[cluster.followerIndex()]!);
  }, 30_000);

  afterAll(async () => {
    for (const l of opened) l.release();
    etcd?.close();
    leader?.close();
    follower?.close();
    await cluster?.stop();
  });

  it('grants, attaches keys, reports time to live and lists, and revoking deletes the keys', async () => {
    const granted = lease(etcd, 2);
    const id = await granted.grant();
    await granted.put('lease/a').value('1');
    await granted.put('lease/b').value('2');
    await etcd.put('lease/plain').value('3');
    const kv = await etcd.get('lease/a').exec();
    expect(kv.kvs[0]!.lease).toBe(id);

    const ttl = await etcd.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    expect(ttl.ID).toBe(id);
    expect(ttl.grantedTTL).toBe('2');
    // Truncated to whole seconds, as etcd does: 1 or 2 right after the grant.
    expect(Number(ttl.TTL)).toBeGreaterThanOrEqual(1);
    expect(Number(ttl.TTL)).toBeLessThanOrEqual(2);
    expect(ttl.keys.map((key) => key.toString()).sort()).toEqual(['lease/a', 'lease/b']);
    const withoutKeys = await timeToLive(follower, id, false);
    expect(withoutKeys.grantedTTL).toBe('2');
    expect(withoutKeys.keys).toEqual([]);

    const listed = await etcd.leaseClient.leaseLeases();
    expect(listed.leases.map((l) => l.ID)).toContain(id);

    await granted.revoke();
    expect(await etcd.getAll().prefix('lease/').keys()).toEqual(['lease/plain']);
    const gone = await etcd.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    expect(gone).toMatchObject({ ID: id, TTL: '-1', grantedTTL: '0' });
    expect((await etcd.leaseClient.leaseLeases()).leases.map((l) => l.ID)).not.toContain(id);
  });

  it('keeps a lease alive across more than three TTLs while the client sends keep-alives', async () => {
    const kept = lease(etcd, 1);
    const seen = watchKeepAlives(kept);
    await kept.put('kept/k').value('v');
    await sleep(3_500);
    expect(seen.lost()).toBeNull();
    expect(seen.count()).toBeGreaterThanOrEqual(4);
    expect(await etcd.get('kept/k').string()).toBe('v');
    await kept.revoke();
    expect(await etcd.get('kept/k').string()).toBeNull();
  });

  it('expires a lease nobody keeps alive within its TTL plus a small bound, deleting its keys', async () => {
    const watcher = await etcd.watch().key('expiring/k').create();
    try {
      const deleteEvent = new Promise<string>((resolve) =>
        watcher.on('delete', (kv) => resolve(kv.key.toString())),
      );
      const unkept = lease(etcd, 1, { autoKeepAlive: false });
      const id = await unkept.grant();
      const grantedAt = performance.now();
      await unkept.put('expiring/k').value('v');
      // Timed on the leader's state machine (no client round trips in the measurement).
      const replica = cluster.nodes[cluster.leaderIndex()]!.replica;
      const present = (): boolean =>
        replica.stateMachine.range({ key: 'expiring/k', countOnly: true }).count > 0;
      await waitFor(() => !present(), 'the key to expire', 3_000);
      const elapsed = performance.now() - grantedAt;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(1_000 + 1_000);
      // Watchers see the expiry as a delete.
      const timeout = sleep(2_000).then(() => 'no delete event within 2 s');
      expect(await Promise.race([deleteEvent, timeout])).toBe('expiring/k');
      expect(await etcd.get('expiring/k').string()).toBeNull();
      expect((await timeToLive(leader, id)).TTL).toBe('-1');
      // A keep-alive for it now answers TTL 0 (etcd's "gone"), not an error.
      expect((await keepAliveOnce(leader, id)).TTL).toBe('0');
    } finally {
      await watcher.cancel();
    }
  }, 10_000);

  it('answers etcd errors and etcd answers for bad grants and unknown leases', async () => {
    const chosen = String(900_000 + Math.floor(Math.random() * 1000));
    const first = await unary<{ ID: string; TTL: string }>(leader.lease, 'LeaseGrant', {
      TTL: 5,
      ID: chosen,
    });
    expect(first).toMatchObject({ ID: chosen, TTL: '5' });
    await expect(etcd.leaseClient.leaseGrant({ TTL: 5, ID: chosen })).rejects.toThrow(
      'etcdserver: lease already exists',
    );
    const exists = await callError(unary(follower.lease, 'LeaseGrant', { TTL: 5, ID: chosen }));
    expect(exists.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(exists.details).toBe('etcdserver: lease already exists');

    // Below the minimum: raised to it, as etcd does; above raftree's one hour: etcd's error.
    const minimum = minimumTtlSeconds(cluster.nodes[cluster.leaderIndex()]!.replica.electionTimeoutMs);
    const short = await unary<{ ID: string; TTL: string }>(follower.lease, 'LeaseGrant', { TTL: 0, ID: 0 });
    expect(short.TTL).toBe(String(minimum));
    const tooLong = await callError(unary(leader.lease, 'LeaseGrant', { TTL: 3601, ID: 0 }));
    expect([tooLong.code, tooLong.details]).toEqual([
      grpc.status.OUT_OF_RANGE,
      'etcdserver: too large lease TTL',
    ]);
    const negative = await callError(unary(leader.lease, 'LeaseGrant', { TTL: 5, ID: -5 }));
    expect(negative.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(negative.details).toMatch(/^raftree: a chosen lease ID must be a positive integer/);

    const unknownPut = await etcd
      .put('nolease/k')
      .value('v')
      .lease('123456789')
      .exec()
      .catch((e: unknown) => e);
    expect(unknownPut).toBeInstanceOf(EtcdLeaseInvalidError);
    expect(String((unknownPut as Error).message)).toContain('etcdserver: requested lease not found');
    const revoked = await callError(unary(follower.lease, 'LeaseRevoke', { ID: '123456789' }));
    expect([revoked.code, revoked.details]).toEqual([
      grpc.status.NOT_FOUND,
      'etcdserver: requested lease not found',
    ]);
    const revokedZero = await callError(unary(leader.lease, 'LeaseRevoke', { ID: 0 }));
    expect(revokedZero.details).toBe('etcdserver: requested lease not found');
    expect(await timeToLive(follower, '123456789')).toMatchObject({ TTL: '-1', grantedTTL: '0', keys: [] });
    expect((await keepAliveOnce(follower, '-7')).TTL).toBe('0');

    await unary(leader.lease, 'LeaseRevoke', { ID: chosen });
    await unary(leader.lease, 'LeaseRevoke', { ID: short.ID });
  });

  it('answers every keep-alive sent before the client half-closes, on the leader and via a follower', async () => {
    const granted = await unary<{ ID: string }>(leader.lease, 'LeaseGrant', { TTL: 3, ID: 0 });
    for (const client of [leader, follower]) {
      const stream = (
        client.lease as unknown as {
          LeaseKeepAlive(options: grpc.CallOptions): grpc.ClientDuplexStream<object, KeepAliveWire>;
        }
      ).LeaseKeepAlive({ deadline: Date.now() + 5000 });
      const answers: string[] = [];
      const ended = new Promise<void>((resolve, reject) => {
        stream.on('data', (response: KeepAliveWire) => answers.push(response.TTL));
        stream.on('status', (status: grpc.StatusObject) =>
          status.code === grpc.status.OK ? resolve() : reject(new Error(status.details)),
        );
        stream.on('error', reject);
      });
      stream.write({ ID: granted.ID });
      stream.write({ ID: '424242' });
      stream.write({ ID: granted.ID });
      stream.end();
      await ended;
      expect(answers.sort()).toEqual(['0', '3', '3']);
    }
    await unary(leader.lease, 'LeaseRevoke', { ID: granted.ID });
  });

  it("shares each node's one session keeper between the coordination and etcd APIs", () => {
    const node = cluster.nodes[cluster.leaderIndex()]!;
    const first = acquireSessionKeeper(node);
    const second = acquireSessionKeeper(node);
    try {
      expect(second.keeper).toBe(first.keeper);
      // Tuning is the first acquirer's to give: later tuning would be silently ignored otherwise.
      expect(() => acquireSessionKeeper(node, { checkIntervalMs: 5 })).toThrow(/already runs/);
    } finally {
      first.release();
      second.release();
    }
  });

  it('keeps a lease alive through a follower, which relays keep-alives to the leader', async () => {
    const followerAddress = cluster.addresses[cluster.followerIndex()]!;
    const viaFollower = new Etcd3({ hosts: hostsOf([followerAddress]) });
    try {
      const kept = lease(viaFollower, 1);
      const seen = watchKeepAlives(kept);
      const id = await kept.grant();
      await kept.put('relayed/k').value('v');
      // The answer came from the leader's keeper (its header names the leader).
      const answer = await keepAliveOnce(follower, id);
      expect(answer.TTL).toBe('1');
      expect(answer.header.member_id).not.toBe(
        (await unary<{ header: { member_id: string } }>(follower.lease, 'LeaseLeases', {})).header.member_id,
      );
      await sleep(3_200);
      expect(seen.lost()).toBeNull();
      expect(seen.count()).toBeGreaterThanOrEqual(4);
      expect(await viaFollower.get('relayed/k').string()).toBe('v');
      await kept.revoke();
    } finally {
      viaFollower.close();
    }
  });

  it('keeps a lease and its keys across the leader being killed', async () => {
    const kept = lease(etcd, 2);
    const seen = watchKeepAlives(kept);
    const id = await kept.grant();
    await kept.put('failover/k').value('v');
    const oldLeader = cluster.leaderIndex();
    await cluster.stopNode(oldLeader);
    await waitFor(() => cluster.leaderIndex() !== -1, 'a new leader', 5_000);
    const before = seen.count();
    await sleep(4_500);
    expect(seen.lost()).toBeNull();
    expect(seen.count()).toBeGreaterThan(before);
    // Whichever member the client used, its stream broke with the leader and was re-opened.
    expect(seen.failures()).toBeGreaterThanOrEqual(1);

    const survivors = cluster.addresses.filter((_, i) => i !== oldLeader);
    const check = etcdClients(survivors[0]!);
    const after = new Etcd3({ hosts: hostsOf(survivors) });
    try {
      expect(await after.get('failover/k').string()).toBe('v');
      const ttl = await timeToLive(check, id);
      expect(ttl.grantedTTL).toBe('2');
      expect(Number(ttl.TTL)).toBeGreaterThanOrEqual(0);
      expect(ttl.keys.map((key) => key.toString())).toEqual(['failover/k']);
      await kept.revoke();
      expect(await after.get('failover/k').string()).toBeNull();
    } finally {
      check.close();
      after.close();
    }
  }, 15_000);
});
