/**
 * etcdserverpb.KV against a three-node raftree cluster: through the npm etcd3 client (which
 * nobody here wrote) and through raw requests for what it does not expose. Expected messages
 * and codes are etcd 3.4's (clients match on them).
 */
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callError, text, unary, type TestCluster } from './api-harness.js';
import { etcdClients, startEtcdCluster, type EtcdRawClients, type HeaderWire, type KvWire } from './etcd-harness.js';

interface RangeWire {
  header: HeaderWire;
  kvs: KvWire[];
  more: boolean;
  count: string;
}

const keysOf = (response: RangeWire): string[] => response.kvs.map((kv) => kv.key.toString());

describe('etcd KV API', () => {
  let cluster: TestCluster;
  let etcd: Etcd3;
  let leader: EtcdRawClients;
  let follower: EtcdRawClients;

  beforeAll(async () => {
    cluster = await startEtcdCluster();
    etcd = new Etcd3({ hosts: cluster.addresses.map((address) => `http://${address}`) });
    leader = etcdClients(cluster.addresses[cluster.leaderIndex()]!);
    follower = etcdClients(cluster.addresses[cluster.followerIndex()]!);
  }, 30_000);

  afterAll(async () => {
    etcd?.close();
    leader?.close();
    follower?.close();
    await cluster?.stop();
  });

  it('puts, gets, deletes and counts through the etcd3 client', async () => {
    await etcd.put('kv/a').value('1');
    await etcd.put('kv/b').value('2');
    await etcd.put('kv/c').value('3');
    expect(await etcd.get('kv/a').string()).toBe('1');
    expect(await etcd.getAll().prefix('kv/').strings()).toEqual({ 'kv/a': '1', 'kv/b': '2', 'kv/c': '3' });
    expect(await etcd.getAll().prefix('kv/').count()).toBe(3);
    expect(await etcd.getAll().prefix('kv/').sort('Key', 'Descend').limit(2).keys()).toEqual([
      'kv/c',
      'kv/b',
    ]);
    expect(await etcd.getAll().prefix('kv/').sort('Mod', 'Ascend').keys()).toEqual(['kv/a', 'kv/b', 'kv/c']);
    await etcd.delete().key('kv/b');
    expect(await etcd.getAll().prefix('kv/').keys()).toEqual(['kv/a', 'kv/c']);
    const deleted = await etcd.delete().prefix('kv/').getPrevious();
    expect(deleted.map((kv) => kv.key.toString()).sort()).toEqual(['kv/a', 'kv/c']);
    expect(await etcd.get('kv/a').string()).toBeNull();
  });

  it('runs etcd3 transactions with compares on value, version and mod revision', async () => {
    await etcd.put('tx/k').value('v1');
    const won = await etcd
      .if('tx/k', 'Value', '==', 'v1')
      .and('tx/k', 'Version', '==', 1)
      .then(etcd.put('tx/k').value('v2'), etcd.put('tx/other').value('x'))
      .else(etcd.get('tx/k'))
      .commit();
    expect(won.succeeded).toBe(true);
    const lost = await etcd.if('tx/k', 'Value', '==', 'v1').then(etcd.put('tx/k').value('nope')).commit();
    expect(lost.succeeded).toBe(false);
    expect(await etcd.get('tx/k').string()).toBe('v2');
    // Both writes of the winning txn share one revision.
    const k = await etcd.get('tx/k').exec();
    const other = await etcd.get('tx/other').exec();
    expect(k.kvs[0]!.mod_revision).toBe(other.kvs[0]!.mod_revision);
  });

  it('serves ranges with range_end, from-key, limits, revisions and filters like etcd', async () => {
    const put = (key: string, value: string): Promise<{ header: { revision: string } }> =>
      unary(leader.kv, 'Put', { key: text(key), value: text(value) });
    const first = await put('r/a', '1');
    await put('r/b', '2');
    await put('r/c', '3');
    await put('r/d', '4');
    const rewrite = await put('r/a', '1b');
    const range = (request: object): Promise<RangeWire> => unary<RangeWire>(leader.kv, 'Range', request);

    // [key, range_end): inclusive start, exclusive end.
    expect(keysOf(await range({ key: text('r/b'), range_end: text('r/d') }))).toEqual(['r/b', 'r/c']);
    // range_end "\0": every key >= key.
    const fromKey = keysOf(await range({ key: text('r/c'), range_end: Buffer.from([0]) }));
    expect(fromKey.slice(0, 2)).toEqual(['r/c', 'r/d']);
    expect(fromKey).not.toContain('r/b');
    // key "\0" with range_end "\0": everything.
    const all = await range({ key: Buffer.from([0]), range_end: Buffer.from([0]) });
    expect(keysOf(all)).toEqual(expect.arrayContaining(['r/a', 'r/b', 'r/c', 'r/d']));
    // limit: more and the full count.
    const limited = await range({ key: text('r/'), range_end: text('r0'), limit: 2 });
    expect(keysOf(limited)).toEqual(['r/a', 'r/b']);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe('4');
    // count_only and keys_only.
    const counted = await range({ key: text('r/'), range_end: text('r0'), count_only: true });
    expect(counted.kvs).toEqual([]);
    expect(counted.count).toBe('4');
    const keysOnly = await range({ key: text('r/'), range_end: text('r0'), keys_only: true });
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0)).toBe(true);
    // A past revision sees r/a's first value.
    const past = await range({ key: text('r/a'), revision: first.header.revision });
    expect(past.kvs[0]!.value.toString()).toBe('1');
    // Sort by version descending (r/a has version 2), then by key.
    const byVersion = await range({ key: text('r/'), range_end: text('r0'), sort_order: 2, sort_target: 1 });
    expect(keysOf(byVersion)[0]).toBe('r/a');
    // A target other than KEY with no order sorts ascending (etcd's rule).
    const byCreate = await range({ key: text('r/'), range_end: text('r0'), sort_target: 2 });
    expect(keysOf(byCreate)).toEqual(['r/a', 'r/b', 'r/c', 'r/d']);
    // Revision filters apply after the read; count stays the range's size.
    const recent = await range({
      key: text('r/'),
      range_end: text('r0'),
      min_mod_revision: rewrite.header.revision,
    });
    expect(keysOf(recent)).toEqual(['r/a']);
    expect(recent.count).toBe('4');
    const old = await range({
      key: text('r/'),
      range_end: text('r0'),
      max_create_revision: first.header.revision,
    });
    expect(keysOf(old)).toEqual(['r/a']);
    expect(old.count).toBe('4');
    // Serializable reads on a follower see the same data once it applied it.
    const serializable = await unary<RangeWire>(follower.kv, 'Range', {
      key: text('r/'),
      range_end: text('r0'),
    });
    expect(keysOf(serializable)).toEqual(['r/a', 'r/b', 'r/c', 'r/d']);
  });

  it('answers puts with prev_kv, ignore_value and ignore_lease as etcd does', async () => {
    await unary(leader.kv, 'Put', { key: text('p/k'), value: text('old') });
    const replaced = await unary<{ prev_kv: KvWire | null }>(leader.kv, 'Put', {
      key: text('p/k'),
      value: text('new'),
      prev_kv: true,
    });
    expect(replaced.prev_kv?.value.toString()).toBe('old');
    // ignore_value keeps the value and bumps the version.
    await unary(leader.kv, 'Put', { key: text('p/k'), ignore_value: true });
    const kept = await unary<RangeWire>(leader.kv, 'Range', { key: text('p/k') });
    expect(kept.kvs[0]!.value.toString()).toBe('new');
    expect(kept.kvs[0]!.version).toBe('3');

    const missing = await callError(unary(leader.kv, 'Put', { key: text('p/missing'), ignore_value: true }));
    expect(missing.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(missing.details).toBe('etcdserver: key not found');
    const provided = await callError(
      unary(leader.kv, 'Put', { key: text('p/k'), value: text('x'), ignore_value: true }),
    );
    expect(provided.details).toBe('etcdserver: value is provided');
    const lease = await callError(
      unary(leader.kv, 'Put', { key: text('p/k'), lease: 7, ignore_lease: true }),
    );
    expect(lease.details).toBe('etcdserver: lease is provided');
    const noLease = await callError(
      unary(leader.kv, 'Put', { key: text('p/k'), value: text('v'), lease: 999_999 }),
    );
    expect(noLease.code).toBe(grpc.status.NOT_FOUND);
    expect(noLease.details).toBe('etcdserver: requested lease not found');
  });

  it('runs nested txns, range compares and lease compares', async () => {
    await unary(leader.kv, 'Put', { key: text('n/a'), value: text('1') });
    await unary(leader.kv, 'Put', { key: text('n/b'), value: text('1') });
    interface TxnWire {
      succeeded: boolean;
      responses: { response: string; response_txn?: TxnWire; response_range?: RangeWire }[];
    }
    const response = await unary<TxnWire>(leader.kv, 'Txn', {
      // Every key under n/ has value "1", and none is attached to a lease.
      compare: [
        { key: text('n/'), range_end: text('n0'), target: 3, result: 0, value: text('1') },
        { key: text('n/a'), target: 4, result: 0, lease: 0 },
      ],
      success: [
        { request_put: { key: text('n/a'), value: text('2') } },
        {
          request_txn: {
            // Evaluated before the outer put: n/a still holds "1".
            compare: [{ key: text('n/a'), target: 3, result: 0, value: text('1') }],
            success: [{ request_range: { key: text('n/'), range_end: text('n0') } }],
            failure: [],
          },
        },
      ],
    });
    expect(response.succeeded).toBe(true);
    expect(response.responses[1]!.response).toBe('response_txn');
    const nested = response.responses[1]!.response_txn!;
    expect(nested.succeeded).toBe(true);
    const read = nested.responses[0]!.response_range!;
    expect(read.kvs.map((kv) => `${kv.key.toString()}=${kv.value.toString()}`)).toEqual(['n/a=2', 'n/b=1']);

    const duplicate = await callError(
      unary(leader.kv, 'Txn', {
        success: [
          { request_put: { key: text('n/a'), value: text('x') } },
          { request_put: { key: text('n/a'), value: text('y') } },
        ],
      }),
    );
    expect(duplicate.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(duplicate.details).toBe('etcdserver: duplicate key given in txn request');

    const tooMany = await callError(
      unary(leader.kv, 'Txn', {
        success: Array.from({ length: 129 }, (_, i) => ({ request_range: { key: text(`n/${i}`) } })),
      }),
    );
    expect(tooMany.details).toBe('etcdserver: too many operations in txn request');
  });

  it('deletes [key, range_end) and everything from a key', async () => {
    for (const key of ['d/a', 'd/b', 'd/c', 'd/d'])
      await unary(leader.kv, 'Put', { key: text(key), value: text('v') });
    const some = await unary<{ deleted: string; prev_kvs: KvWire[] }>(leader.kv, 'DeleteRange', {
      key: text('d/b'),
      range_end: text('d/d'),
      prev_kv: true,
    });
    expect(some.deleted).toBe('2');
    expect(some.prev_kvs.map((kv) => kv.key.toString())).toEqual(['d/b', 'd/c']);
    const rest = await unary<{ deleted: string }>(leader.kv, 'DeleteRange', {
      key: text('d/'),
      range_end: Buffer.from([0]),
    });
    expect(Number(rest.deleted)).toBeGreaterThanOrEqual(2);
    const left = await unary<RangeWire>(leader.kv, 'Range', { key: text('d/'), range_end: text('d0') });
    expect(left.kvs).toEqual([]);
  });

  it('forwards writes from a follower and headers name the answering member', async () => {
    const written = await unary<{ header: RangeWire['header'] }>(follower.kv, 'Put', {
      key: text('f/k'),
      value: text('v'),
    });
    const read = await unary<RangeWire>(follower.kv, 'Range', { key: text('f/k') });
    expect(read.kvs[0]!.value.toString()).toBe('v');
    expect(BigInt(read.header.revision)).toBeGreaterThanOrEqual(BigInt(written.header.revision));
    expect(read.header.cluster_id).toBe(written.header.cluster_id);
    expect(read.header.member_id).not.toBe('0');
  });

  it('refuses bad requests with etcd messages and keeps serving', async () => {
    const empty = await callError(unary(leader.kv, 'Range', { key: Buffer.alloc(0) }));
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.details).toBe('etcdserver: key is not provided');
    const emptyPut = await callError(unary(leader.kv, 'Put', { key: Buffer.alloc(0), value: text('v') }));
    expect(emptyPut.details).toBe('etcdserver: key is not provided');
    const large = await callError(
      unary(leader.kv, 'Put', { key: text('big'), value: Buffer.alloc(2 * 1024 * 1024) }),
    );
    expect(large.details).toBe('etcdserver: request is too large');
    const binary = await callError(
      unary(leader.kv, 'Put', { key: Buffer.from([0xff, 0xfe]), value: text('v') }),
    );
    expect(binary.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(binary.details).toMatch(/UTF-8/);
    // A key that cannot be stored cannot be found either.
    const none = await unary<RangeWire>(leader.kv, 'Range', { key: Buffer.from([0xff]) });
    expect(none.kvs).toEqual([]);

    const current = await unary<RangeWire>(leader.kv, 'Range', { key: text('any') });
    const future = await callError(
      unary(leader.kv, 'Range', { key: text('any'), revision: Number(current.header.revision) + 100 }),
    );
    expect(future.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(future.details).toBe('etcdserver: mvcc: required revision is a future revision');
    await unary(leader.kv, 'Compact', { revision: current.header.revision });
    const compacted = await callError(unary(leader.kv, 'Range', { key: text('any'), revision: 1 }));
    expect(compacted.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(compacted.details).toBe('etcdserver: mvcc: required revision has been compacted');
    const again = await callError(unary(leader.kv, 'Compact', { revision: 1 }));
    expect(again.details).toBe('etcdserver: mvcc: required revision has been compacted');

    const auth = await callError(unary(leader.auth, 'Authenticate', { name: 'root', password: 'x' }));
    expect(auth.details).toBe('etcdserver: authentication is not enabled');
    expect(await etcd.put('after/errors').value('ok')).toBeDefined();
  });
});
