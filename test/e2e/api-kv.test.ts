/** KV over gRPC against a real in-process 3-node cluster: reads, writes, forwarding, MVCC. */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callError, startCluster, text, unary, type TestCluster } from './api-harness.js';

interface KvWire {
  key: string;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
}
interface HeaderWire {
  clusterId: string;
  memberId: string;
  revision: number;
  raftTerm: number;
}
interface RangeWire {
  header: HeaderWire;
  kvs: KvWire[];
  count: number;
  more: boolean;
  children: { name: string; key: string; hasKey: boolean; kv: KvWire | null }[];
}
interface PutWire {
  header: HeaderWire;
  prevKv: KvWire | null;
}
interface DeleteWire {
  header: HeaderWire;
  deleted: number;
  prevKvs: KvWire[];
}
interface TxnWire {
  header: HeaderWire;
  succeeded: boolean;
  responses: { response: string; range?: RangeWire; put?: PutWire; delete?: DeleteWire }[];
}

const PREFIX = 1;
const CHILDREN = 2;
const VERSION = 1;
const EQUAL = 0;

let cluster: TestCluster;
const leader = () => cluster.clients[cluster.leaderIndex()]!;
const follower = () => cluster.clients[cluster.followerIndex()]!;
const put = (client = leader(), key: string, value: string, extra: object = {}) =>
  unary<PutWire>(client.kv, 'Put', { key, value: text(value), ...extra });
const get = (client = leader(), key: string, extra: object = {}) =>
  unary<RangeWire>(client.kv, 'Range', { key, ...extra });

beforeAll(async () => {
  cluster = await startCluster();
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
}, 30_000);

describe('KV', () => {
  it('puts and reads through the leader, with a complete header', async () => {
    const written = await put(leader(), '/kv/a', 'one');
    const leaderId = cluster.nodes[cluster.leaderIndex()]!.config.id;
    expect(written.header.memberId).toBe(leaderId);
    expect(written.header.clusterId).toMatch(/^[0-9a-f]{16}$/);
    expect(written.header.revision).toBeGreaterThan(0);
    expect(written.header.raftTerm).toBeGreaterThan(0);
    const read = await get(leader(), '/kv/a');
    expect(read.kvs).toHaveLength(1);
    expect(read.kvs[0]!.value.toString()).toBe('one');
    expect(read.kvs[0]!.version).toBe(1);
    expect(read.kvs[0]!.createRevision).toBe(written.header.revision);
    expect(read.kvs[0]!.modRevision).toBe(written.header.revision);
    // Every member names the same cluster.
    const headers = await Promise.all(cluster.clients.map((c) => get(c, '/kv/a', { serializable: true })));
    expect(new Set(headers.map((h) => h.header.clusterId)).size).toBe(1);
  });

  it('forwards writes from a follower to the leader and returns prev_kv', async () => {
    const first = await put(follower(), '/kv/forwarded', 'v1');
    expect(first.prevKv).toBeNull();
    const second = await put(follower(), '/kv/forwarded', 'v2', { prevKv: true });
    expect(second.prevKv?.value.toString()).toBe('v1');
    expect(second.header.revision).toBe(first.header.revision + 1);
    const read = await get(leader(), '/kv/forwarded');
    expect(read.kvs[0]!.value.toString()).toBe('v2');
    expect(read.kvs[0]!.version).toBe(2);
  });

  it('answers a write on a follower once that follower applied it (it reads its own write)', async () => {
    const client = follower();
    const writes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => put(client, `/kv/own/${i}`, `v${i}`)),
    );
    // Forwarded together, they still got one revision each.
    expect(new Set(writes.map((w) => w.header.revision)).size).toBe(50);
    const followerId = cluster.nodes[cluster.followerIndex()]!.config.id;
    expect(writes.every((w) => w.header.memberId === followerId)).toBe(true);
    for (let i = 0; i < 50; i++) {
      const read = await get(client, `/kv/own/${i}`, { serializable: true });
      expect(read.kvs[0]?.value.toString()).toBe(`v${i}`);
      expect(read.kvs[0]?.modRevision).toBe(writes[i]!.header.revision);
    }
  });

  it('serves a linearizable read on a follower that sees the write just acknowledged', async () => {
    for (let i = 0; i < 20; i++) {
      await put(leader(), '/kv/linear', `value-${i}`);
      const read = await get(follower(), '/kv/linear');
      expect(read.kvs[0]?.value.toString()).toBe(`value-${i}`);
      expect(read.header.memberId).toBe(cluster.nodes[cluster.followerIndex()]!.config.id);
    }
  });

  it('serves serializable reads from local state', async () => {
    await put(leader(), '/kv/serial', 'x');
    await get(follower(), '/kv/serial'); // linearizable: the follower has applied the write
    const read = await get(follower(), '/kv/serial', { serializable: true });
    expect(read.kvs[0]!.value.toString()).toBe('x');
  });

  it('deletes one key or a prefix, via leader and follower', async () => {
    await put(leader(), '/del/a', '1');
    await put(leader(), '/del/b', '2');
    await put(leader(), '/del/c/d', '3');
    const one = await unary<DeleteWire>(follower().kv, 'Delete', { key: '/del/a', prevKv: true });
    expect(one.deleted).toBe(1);
    expect(one.prevKvs.map((kv) => kv.value.toString())).toEqual(['1']);
    const missing = await unary<DeleteWire>(leader().kv, 'Delete', { key: '/del/missing' });
    expect(missing.deleted).toBe(0);
    const prefix = await unary<DeleteWire>(follower().kv, 'Delete', { key: '/del/', prefix: true });
    expect(prefix.deleted).toBe(2);
    expect((await get(leader(), '/del/', { mode: PREFIX })).count).toBe(0);
  });

  it('runs txns: success branch, then failure branch, via the follower', async () => {
    const createIfAbsent = {
      compare: [{ key: '/txn/lock', target: VERSION, result: EQUAL, number: 0 }],
      success: [{ put: { key: '/txn/lock', value: text('me') } }],
      failure: [{ range: { key: '/txn/lock' } }],
    };
    const first = await unary<TxnWire>(follower().kv, 'Txn', createIfAbsent);
    expect(first.succeeded).toBe(true);
    expect(first.responses).toHaveLength(1);
    expect(first.responses[0]!.put).toBeDefined();
    const second = await unary<TxnWire>(leader().kv, 'Txn', createIfAbsent);
    expect(second.succeeded).toBe(false);
    expect(second.responses[0]!.range?.kvs[0]?.value.toString()).toBe('me');
    // A failed compare writes nothing: the revision did not move.
    expect(second.header.revision).toBe(first.header.revision);
  });

  it('reads by prefix and children, with limit/more, keys_only, count_only and past revisions', async () => {
    await put(leader(), '/tree/a', 'A');
    const v1 = await put(leader(), '/tree/b', 'B1');
    await put(leader(), '/tree/b', 'B2');
    await put(leader(), '/tree/c/deep', 'C');
    await put(leader(), '/treehouse', 'not a child');

    const prefix = await get(leader(), '/tree/', { mode: PREFIX });
    expect(prefix.kvs.map((kv) => kv.key)).toEqual(['/tree/a', '/tree/b', '/tree/c/deep']);

    const children = await get(follower(), '/tree', { mode: CHILDREN });
    expect(children.children.map((c) => [c.name, c.hasKey])).toEqual([
      ['a', true],
      ['b', true],
      ['c', false],
    ]);
    expect(children.count).toBe(3);

    const limited = await get(leader(), '/tree/', { mode: PREFIX, limit: 2 });
    expect(limited.kvs).toHaveLength(2);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(3);

    const keysOnly = await get(leader(), '/tree/', { mode: PREFIX, keysOnly: true });
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0)).toBe(true);

    const countOnly = await get(leader(), '/tree/', { mode: PREFIX, countOnly: true });
    expect(countOnly.kvs).toHaveLength(0);
    expect(countOnly.count).toBe(3);

    const past = await get(follower(), '/tree/b', { revision: v1.header.revision });
    expect(past.kvs[0]!.value.toString()).toBe('B1');
  });

  it('compacts, and a read at a compacted revision is OUT_OF_RANGE naming it', async () => {
    const old = await put(leader(), '/compact/k', 'old');
    const newer = await put(leader(), '/compact/k', 'new');
    await unary(follower().kv, 'Compact', { revision: newer.header.revision });
    const error = await callError(get(follower(), '/compact/k', { revision: old.header.revision }));
    expect(error.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(error.details).toContain(`${newer.header.revision}`);
    expect(error.details).toMatch(/compacted/);
    expect(error.metadata.get('raftree-compact-revision')).toEqual([`${newer.header.revision}`]);
    const atCompaction = await get(leader(), '/compact/k', { revision: newer.header.revision });
    expect(atCompaction.kvs[0]!.value.toString()).toBe('new');

    const again = await callError(unary(leader().kv, 'Compact', { revision: newer.header.revision }));
    expect(again.code).toBe(grpc.status.OUT_OF_RANGE);
    const future = await callError(unary(leader().kv, 'Compact', { revision: 1_000_000 }));
    expect(future.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(future.details).toMatch(/future/);
  });
});
