/**
 * The Registry gRPC API on an in-process cluster: register / discover with every filter,
 * sessions, deregister, WatchService, and bad input refused with nothing changed. Requests go
 * to a follower, so every write also exercises forwarding to the leader.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callError } from './api-harness.js';
import {
  call,
  startRegistryCluster,
  waitFor,
  type RawRegistryClient,
  type RegistryCluster,
} from './registry-harness.js';

interface Instance {
  name: string;
  id: string;
  host: string;
  port: number;
  tags: string[];
  metadata: Record<string, string>;
  weight: number;
  sessionId: number;
  health: { status: string; checks: { name: string; status: string; output: string }[] };
  createRevision: number;
  modRevision: number;
}
interface DiscoverResponse {
  header: { revision: number };
  instances: Instance[];
  count: number;
}

let cluster: RegistryCluster;
let client: RawRegistryClient;

const register = (fields: Record<string, unknown>) =>
  call<{ header: { revision: number }; instance: Instance }>(client, 'Register', {
    instance: { host: '127.0.0.1', port: 8000, ...fields },
  });
const discover = (request: Record<string, unknown>) => call<DiscoverResponse>(client, 'Discover', request);
const ids = (response: DiscoverResponse) => response.instances.map((i) => i.id);

beforeAll(async () => {
  cluster = await startRegistryCluster();
  client = cluster.clients[cluster.followerIndex()]!;
});

afterAll(async () => {
  await cluster?.stop();
});

describe('register and discover', () => {
  beforeAll(async () => {
    await register({
      name: 'web',
      id: 'w1',
      tags: ['v2', 'blue'],
      metadata: { zone: 'a', tier: 'edge' },
      weight: 3,
    });
    await register({ name: 'web', id: 'w2', tags: ['v2'], metadata: { zone: 'b' } });
    // A TTL check that never got a heartbeat: critical.
    await register({
      name: 'web',
      id: 'w3',
      tags: ['blue'],
      metadata: { zone: 'a' },
      checks: [{ kind: 'ttl', ttlMs: 60_000 }],
    });
    await register({ name: 'web', id: 'w4' });
    await register({ name: 'db', id: 'd1', port: 5432 });
  });

  it('returns what was registered, with health and revisions', async () => {
    const response = await discover({ name: 'web' });
    expect(ids(response)).toEqual(['w1', 'w2', 'w3', 'w4']);
    const w1 = response.instances[0]!;
    expect(w1).toMatchObject({
      name: 'web',
      id: 'w1',
      host: '127.0.0.1',
      port: 8000,
      tags: ['v2', 'blue'],
      metadata: { zone: 'a', tier: 'edge' },
      weight: 3,
      sessionId: 0,
      health: { status: 'passing', checks: [] },
    });
    expect(w1.modRevision).toBeGreaterThan(0);
    expect(response.instances[2]!.health).toMatchObject({
      status: 'critical',
      checks: [{ name: 'ttl', status: 'critical', output: 'not checked yet' }],
    });
    expect(response.instances[3]!.weight).toBe(1);
  });

  it('filters by tags (all of them)', async () => {
    expect(ids(await discover({ name: 'web', tags: ['v2'] }))).toEqual(['w1', 'w2']);
    expect(ids(await discover({ name: 'web', tags: ['v2', 'blue'] }))).toEqual(['w1']);
    expect(ids(await discover({ name: 'web', tags: ['green'] }))).toEqual([]);
  });

  it('filters by metadata (every entry equal)', async () => {
    expect(ids(await discover({ name: 'web', metadata: { zone: 'a' } }))).toEqual(['w1', 'w3']);
    expect(ids(await discover({ name: 'web', metadata: { zone: 'a', tier: 'edge' } }))).toEqual(['w1']);
    expect(ids(await discover({ name: 'web', metadata: { zone: 'c' } }))).toEqual([]);
  });

  it('filters healthy only', async () => {
    expect(ids(await discover({ name: 'web', healthyOnly: true }))).toEqual(['w1', 'w2', 'w4']);
  });

  it('limits, reporting the count before the limit', async () => {
    const response = await discover({ name: 'web', healthyOnly: true, limit: 2 });
    expect(ids(response)).toEqual(['w1', 'w2']);
    expect(response.count).toBe(3);
  });

  it('combines filters, lists every service with no name, and serves serializable reads', async () => {
    expect(
      ids(await discover({ name: 'web', tags: ['blue'], metadata: { zone: 'a' }, healthyOnly: true })),
    ).toEqual(['w1']);
    const all = await discover({ name: '' });
    expect(all.instances.map((i) => `${i.name}/${i.id}`)).toEqual([
      'db/d1',
      'web/w1',
      'web/w2',
      'web/w3',
      'web/w4',
    ]);
    expect(ids(await discover({ name: 'nothing-here' }))).toEqual([]);
    expect(ids(await discover({ name: 'db', serializable: true }))).toEqual(['d1']);
  });

  it('re-registers in place: same createRevision, new modRevision and fields', async () => {
    const before = (await discover({ name: 'db' })).instances[0]!;
    const again = await register({ name: 'db', id: 'd1', port: 5433, tags: ['primary'] });
    expect(again.instance.createRevision).toBe(before.createRevision);
    expect(again.instance.modRevision).toBeGreaterThan(before.modRevision);
    expect((await discover({ name: 'db' })).instances[0]).toMatchObject({ port: 5433, tags: ['primary'] });
  });

  it('is visible to ordinary KV reads as JSON under /_services/NAME/ID', async () => {
    const kv = cluster.nodes[cluster.leaderIndex()]!.replica.stateMachine.range({ key: '/_services/web/w1' })
      .kvs[0]!;
    expect(JSON.parse(Buffer.from(kv.value).toString('utf8'))).toMatchObject({
      name: 'web',
      id: 'w1',
      host: '127.0.0.1',
      port: 8000,
      health: { status: 'passing' },
    });
  });
});

describe('deregister', () => {
  it('removes the instance, and NOT_FOUND for one that is not there', async () => {
    await register({ name: 'tmp', id: 't1' });
    await call(client, 'Deregister', { name: 'tmp', id: 't1' });
    expect(ids(await discover({ name: 'tmp' }))).toEqual([]);
    const error = await callError(call(client, 'Deregister', { name: 'tmp', id: 't1' }));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toMatch(/instance t1 of service tmp is not registered/);
  });
});

describe('sessions', () => {
  it('an instance tied to a session disappears when the session ends', async () => {
    const session = await cluster.openSession();
    const registered = await register({ name: 'eph', id: 'e1', sessionId: session });
    expect(registered.instance.sessionId).toBe(session);
    expect((await discover({ name: 'eph' })).instances[0]!.sessionId).toBe(session);
    await cluster.closeSession(session);
    expect(ids(await discover({ name: 'eph' }))).toEqual([]);
  });
});

describe('bad input: a clear error and nothing changed', () => {
  const unchanged = async (attempt: () => Promise<unknown>) => {
    const before = await discover({ name: '' });
    const error = await callError(attempt());
    const after = await discover({ name: '' });
    expect(after.header.revision).toBe(before.header.revision);
    expect(after.instances).toEqual(before.instances);
    return error;
  };

  it('an invalid check spec', async () => {
    const error = await unchanged(() =>
      register({
        name: 'bad',
        id: 'b1',
        checks: [{ name: 'web', kind: 'http', url: 'ftp://nowhere', intervalMs: 1000 }],
      }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/checks\[0\] \(web\): invalid health check: url must use http: or https:/);
    const ttl = await unchanged(() => register({ name: 'bad', id: 'b1', checks: [{ kind: 'ttl' }] }));
    expect(ttl.details).toMatch(/ttlMs is missing/);
  });

  it('an unknown session', async () => {
    const error = await unchanged(() => register({ name: 'bad', id: 'b1', sessionId: 987654 }));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toMatch(/session 987654 does not exist/);
  });

  it('a bad port, name, id or weight', async () => {
    expect((await unchanged(() => register({ name: 'bad', id: 'b1', port: 0 }))).details).toMatch(
      /port must be from 1 to 65535, got 0/,
    );
    expect((await unchanged(() => register({ name: 'bad', id: 'b1', port: 65536 }))).code).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
    expect((await unchanged(() => register({ name: '', id: 'b1' }))).details).toMatch(
      /service name is empty/,
    );
    expect((await unchanged(() => register({ name: 'bad', id: '../x' }))).details).toMatch(
      /may contain only/,
    );
    expect((await unchanged(() => register({ name: 'bad', id: 'b1', weight: -1 }))).details).toMatch(
      /weight/,
    );
  });

  it('a heartbeat to an instance without a TTL check, or to no instance', async () => {
    const precondition = await unchanged(() => call(client, 'Heartbeat', { name: 'web', id: 'w1' }));
    expect(precondition.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(precondition.details).toMatch(/has no TTL check/);
    const missing = await unchanged(() => call(client, 'Heartbeat', { name: 'web', id: 'nope' }));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('WatchService', () => {
  interface WatchResponse {
    header: { revision: number };
    events: {
      type: number;
      revision: number;
      instance: Instance | null;
      previous: Instance | null;
      instances: Instance[];
    }[];
  }

  function openWatch(request: object) {
    const stream = (
      client as unknown as { WatchService(r: object): grpc.ClientReadableStream<WatchResponse> }
    ).WatchService(request);
    const events: WatchResponse['events'] = [];
    let status: grpc.ServiceError | null = null;
    stream.on('data', (response: WatchResponse) => events.push(...response.events));
    stream.on('error', (error: grpc.ServiceError) => (status = error));
    return { stream, events, status: () => status };
  }

  it('sees a snapshot, then register / health change / update / deregister in order', async () => {
    await register({ name: 'watched', id: 'x0' });
    const watch = openWatch({ name: 'watched' });
    try {
      await waitFor(() => watch.events.length >= 1, 'the snapshot');
      expect(watch.events[0]).toMatchObject({ type: 0, instances: [{ id: 'x0' }] });
      await register({ name: 'watched', id: 'x1', checks: [{ kind: 'ttl', ttlMs: 60_000 }] });
      await call(client, 'Heartbeat', { name: 'watched', id: 'x1' });
      await waitFor(() => watch.events.length >= 3, 'register and health events');
      await register({ name: 'watched', id: 'x1', port: 9999, checks: [{ kind: 'ttl', ttlMs: 60_000 }] });
      await call(client, 'Deregister', { name: 'watched', id: 'x1' });
      await register({ name: 'other', id: 'o1' });
      await waitFor(() => watch.events.length >= 5, 'update and deregister events');
      const [, registered, health, updated, deregistered] = watch.events;
      expect(registered).toMatchObject({ type: 1, instance: { id: 'x1', health: { status: 'critical' } } });
      expect(health).toMatchObject({
        type: 2,
        instance: { id: 'x1', health: { status: 'passing' } },
        previous: { health: { status: 'critical' } },
      });
      expect(updated).toMatchObject({ type: 3, instance: { port: 9999, health: { status: 'passing' } } });
      expect(deregistered).toMatchObject({ type: 4, instance: { id: 'x1' } });
      const revisions = watch.events.slice(1).map((e) => e.revision);
      expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
      expect(watch.events).toHaveLength(5);
    } finally {
      watch.stream.cancel();
    }
  });

  it('resumes from a revision without a snapshot', async () => {
    const first = await register({ name: 'resumed', id: 'r1' });
    await register({ name: 'resumed', id: 'r2' });
    const watch = openWatch({ name: 'resumed', startRevision: first.header.revision });
    try {
      await waitFor(() => watch.events.length >= 2, 'replayed events');
      expect(watch.events.map((e) => [e.type, e.instance?.id])).toEqual([
        [1, 'r1'],
        [1, 'r2'],
      ]);
    } finally {
      watch.stream.cancel();
    }
  });

  it('refuses a bad service name with INVALID_ARGUMENT', async () => {
    const watch = openWatch({ name: 'no spaces' });
    await waitFor(() => watch.status() !== null, 'the stream to fail');
    expect(watch.status()!.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});
