/**
 * The client library against a real three-node cluster of `raftree serve` processes:
 * KV and txn through any endpoint, typed errors, cluster calls, watches from history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compare,
  op,
  RaftreeClient,
  RaftreeError,
  WatchCompactedError,
  type WatchEvent,
} from '../../src/client/index.js';
import { ProcessCluster } from '../support/process-cluster.js';

let cluster: ProcessCluster;
const clients: RaftreeClient[] = [];

function client(endpoints = cluster.endpoints(), deadlineMs = 5_000): RaftreeClient {
  const c = new RaftreeClient({ endpoints, deadlineMs });
  clients.push(c);
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<RaftreeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RaftreeError);
    return error as RaftreeError;
  }
  throw new Error('expected a RaftreeError');
}

beforeAll(async () => {
  cluster = await ProcessCluster.start();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

describe('client library against a process cluster', () => {
  it('writes through every node and reads them back from every other', async () => {
    for (const [i, id] of cluster.ids.entries()) {
      const put = await client([cluster.address(id)]).put(`/any/${id}`, `written via ${id}`);
      expect(put.revision).toBeGreaterThan(0);
      const reader = client([cluster.address(cluster.ids[(i + 1) % cluster.ids.length]!)]);
      const got = await reader.get(`/any/${id}`);
      expect(got.kvs).toHaveLength(1);
      expect(got.kvs[0]!.text()).toBe(`written via ${id}`);
      expect(got.kvs[0]!.modRevision).toBe(put.revision);
      expect(got.revision).toBeGreaterThanOrEqual(put.revision);
    }
  });

  it('sends writes to the leader it discovers', async () => {
    const c = client();
    await c.put('/leader/probe', 'x');
    const leader = await c.leader();
    expect(leader?.id).toBe(await cluster.leader());
    expect(leader?.endpoint).toBe(cluster.address(leader!.id));
  });

  it('reads with prefix, children, limit, keys-only, count-only, old revisions and serializably', async () => {
    const c = client();
    const first = await c.put('/tree/a', '1');
    await c.put('/tree/b', 'two');
    await c.put('/tree/b/deep', 'd');
    await c.put('/tree/c/deeper/x', 'x');
    await c.put('/tree/a', 'one');

    const prefix = await c.get('/tree/', { prefix: true });
    expect(prefix.kvs.map((kv) => kv.key)).toEqual([
      '/tree/a',
      '/tree/b',
      '/tree/b/deep',
      '/tree/c/deeper/x',
    ]);
    expect(prefix.kvs[0]!.version).toBe(2);
    expect(prefix.kvs[0]!.createRevision).toBe(first.revision);

    const children = await c.get('/tree', { children: true });
    expect(children.children.map((child) => [child.name, child.hasKey])).toEqual([
      ['a', true],
      ['b', true],
      ['c', false],
    ]);
    expect(children.children[0]!.kv?.text()).toBe('one');

    const limited = await c.get('/tree/', { prefix: true, limit: 2 });
    expect(limited.kvs).toHaveLength(2);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(4);

    const keysOnly = await c.get('/tree/', { prefix: true, keysOnly: true });
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0)).toBe(true);
    expect((await c.get('/tree/', { prefix: true, countOnly: true })).count).toBe(4);

    const past = await c.get('/tree/a', { revision: first.revision });
    expect(past.kvs[0]!.text()).toBe('1');

    const local = await c.get('/tree/a', { serializable: true });
    expect(['1', 'one']).toContain(local.kvs[0]?.text() ?? '1');
  });

  it('accepts bytes and text for values', async () => {
    const c = client();
    await c.put('/bin', new Uint8Array([0, 1, 254, 255]));
    const got = await c.get('/bin');
    expect([...got.kvs[0]!.value]).toEqual([0, 1, 254, 255]);
  });

  it('deletes a key or a prefix, returning previous values on request', async () => {
    const c = client();
    await c.put('/del/a', 'A');
    await c.put('/del/b', 'B');
    await c.put('/del-not/c', 'C');
    const one = await c.delete('/del/a', { prevKv: true });
    expect(one.deleted).toBe(1);
    expect(one.prevKvs.map((kv) => kv.text())).toEqual(['A']);
    const many = await c.delete('/del/', { prefix: true });
    expect(many.deleted).toBe(1);
    expect((await c.get('/del-not/c')).kvs).toHaveLength(1);
    expect((await c.delete('/del/none')).deleted).toBe(0);
  });

  it('runs transactions from plain objects and from the builder', async () => {
    const c = client([cluster.address('n2')]);
    const created = await c.txn({
      compare: [compare.version('/txn/lock').equals(0)],
      success: [op.put('/txn/lock', 'me'), op.get('/txn/lock')],
      failure: [op.get('/txn/lock')],
    });
    expect(created.succeeded).toBe(true);
    expect(created.responses.map((r) => r.type)).toEqual(['put', 'get']);
    const read = created.responses[1]!;
    expect(read.type === 'get' && read.result.kvs[0]!.text()).toBe('me');

    const again = await c
      .txn()
      .if(compare.version('/txn/lock').equals(0))
      .then(op.put('/txn/lock', 'someone else'))
      .else(op.get('/txn/lock'))
      .commit();
    expect(again.succeeded).toBe(false);
    const holder = again.responses[0]!;
    expect(holder.type === 'get' && holder.result.kvs[0]!.text()).toBe('me');

    const swapped = await c
      .txn()
      .if(compare.value('/txn/lock').equals('me'), compare.modRevision('/txn/lock').equals(created.revision))
      .then(op.delete('/txn/lock'))
      .commit();
    expect(swapped.succeeded).toBe(true);
    expect(swapped.responses[0]!.type === 'delete' && swapped.responses[0]!.result.deleted).toBe(1);
  });

  it('raises typed errors with the server status', async () => {
    const c = client();
    const empty = await rejection(c.put('', 'x'));
    expect(empty.code).toBe('INVALID_ARGUMENT');
    expect(empty.outcomeUnknown).toBe(false);

    const huge = await rejection(c.put('/huge', new Uint8Array(1024 * 1024 + 1)));
    expect(huge.code).toBe('RESOURCE_EXHAUSTED');
    expect(huge.message).toMatch(/1048577 bytes/);
    expect((await c.get('/huge')).kvs).toHaveLength(0);

    const future = await rejection(c.get('/x', { revision: 1e12 }));
    expect(future.code).toBe('OUT_OF_RANGE');

    const both = await rejection(c.get('/x', { prefix: true, children: true }));
    expect(both.code).toBe('INVALID_ARGUMENT');
  });

  it('fails over from an endpoint that refuses connections', async () => {
    const c = client(['127.0.0.1:1', ...cluster.endpoints()]);
    const put = await c.put('/failover', 'ok');
    expect((await c.get('/failover')).kvs[0]!.modRevision).toBe(put.revision);
    const statuses = await c.clusterStatus();
    expect(statuses[0]).toMatchObject({ endpoint: '127.0.0.1:1', ok: false });
    expect(statuses.slice(1).every((s) => s.ok)).toBe(true);
  });

  it('reports cluster status and members', async () => {
    const c = client();
    const leader = await cluster.leader();
    const status = await c.status(cluster.address('n1'));
    expect(status.id).toBe('n1');
    expect(status.leader).toBe(leader);
    expect(status.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    const members = await c.members();
    expect(members.leader).toBe(leader);
    expect(members.members.map((m) => m.address).sort()).toEqual(cluster.endpoints().sort());
  });

  it('watches from history with previous values, then live', async () => {
    const c = client();
    const first = await c.put('/hist/a', '1');
    await c.put('/hist/a', '2');
    await c.delete('/hist/a');
    const watcher = c.watch('/hist/', { prefix: true, startRevision: first.revision, prevKv: true });
    const events: WatchEvent[] = [];
    const done = (async () => {
      for await (const event of watcher) {
        events.push(event);
        if (events.length === 4) break;
      }
    })();
    await watcher.ready();
    await c.put('/hist/b', 'live');
    await done;
    expect(events.map((e) => `${e.type} ${e.key} ${e.kv.text()} ${e.prevKv?.text() ?? '-'}`)).toEqual([
      'put /hist/a 1 -',
      'put /hist/a 2 1',
      'delete /hist/a  2',
      'put /hist/b live -',
    ]);
    expect(watcher.isDone).toBe(true);
  });

  it('ends a watch from a compacted revision with WatchCompactedError', async () => {
    const c = client();
    const old = await c.put('/compacted/a', '1');
    const newer = await c.put('/compacted/a', '2');
    await c.compact(newer.revision);

    const readOld = await rejection(c.get('/compacted/a', { revision: old.revision }));
    expect(readOld.code).toBe('OUT_OF_RANGE');

    const watcher = c.watch('/compacted/', { prefix: true, startRevision: old.revision });
    const started = Date.now();
    let caught: unknown;
    try {
      for await (const event of watcher) throw new Error(`unexpected event ${event.key}`);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(WatchCompactedError);
    expect((caught as WatchCompactedError).compactRevision).toBe(newer.revision);
    expect((caught as WatchCompactedError).code).toBe('OUT_OF_RANGE');
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(watcher.ready()).rejects.toBeInstanceOf(WatchCompactedError);
  });

  it('refuses calls after close()', async () => {
    const c = client();
    c.close();
    const error = await rejection(c.get('/x'));
    expect(error.code).toBe('CANCELLED');
  });
});
