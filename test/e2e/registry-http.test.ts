/** The registry's HTTP/JSON routes on the side port (register, list with filters, heartbeat, deregister). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpJson, startRegistryCluster, waitFor, type RegistryCluster } from './registry-harness.js';

let cluster: RegistryCluster;
/** A follower's side port: writes are forwarded to the leader. */
let port: number;

beforeAll(async () => {
  cluster = await startRegistryCluster();
  port = cluster.httpPorts[cluster.followerIndex()]!;
});

afterAll(async () => {
  await cluster?.stop();
});

describe('POST /v1/services/register', () => {
  it("registers (201) with our field names or the seed's", async () => {
    const ours = await httpJson(port, 'POST', '/v1/services/register', {
      name: 'api',
      id: 'a1',
      host: '10.0.0.1',
      port: 8080,
      tags: ['v2', 'blue'],
      metadata: { zone: 'a' },
      weight: 2,
    });
    expect(ours.status).toBe(201);
    expect(ours.body).toMatchObject({
      status: 'registered',
      service_id: 'a1',
      instance: { name: 'api', id: 'a1', host: '10.0.0.1', port: 8080, weight: 2, healthy: true },
    });
    const seed = await httpJson(port, 'POST', '/v1/services/register', {
      service_name: 'api',
      service_id: 'a2',
      host: '10.0.0.2',
      port: 8080,
      metadata: { zone: 'b' },
      tags: ['v2'],
    });
    expect(seed.status).toBe(201);
    const withTtl = await httpJson(port, 'POST', '/v1/services/register', {
      name: 'api',
      id: 'a3',
      host: '10.0.0.3',
      port: 8080,
      tags: ['blue'],
      checks: [{ name: 'beat', kind: 'ttl', ttlMs: 60_000 }],
    });
    expect(withTtl.status).toBe(201);
    expect(withTtl.body).toMatchObject({ instance: { healthy: false, health: { status: 'critical' } } });
  });

  it('400 with a message on bad input, and nothing registered', async () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /not JSON/],
      [{ name: 'api', id: 'x', host: 'h', port: 0 }, /port must be from 1 to 65535/],
      [
        { name: 'api', id: 'x', host: 'h', port: 1, checks: [{ kind: 'http', url: 'nope' }] },
        /not an absolute URL/,
      ],
      [{ name: 'api', id: 'x/y', host: 'h', port: 1 }, /may contain only/],
      [{ name: 'api', host: 'h', port: 1 }, /id is missing/],
      [[1, 2], /must be a JSON object/],
    ];
    for (const [body, message] of cases) {
      const response = await httpJson(port, 'POST', '/v1/services/register', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body).toMatchObject({ error: 'INVALID_ARGUMENT' });
      expect(String(response.body['message'])).toMatch(message);
    }
    const list = await httpJson(port, 'GET', '/v1/services?service=api');
    expect((list.body['services'] as { id: string }[]).map((s) => s.id)).toEqual(['a1', 'a2', 'a3']);
  });

  it('404 for an unknown session', async () => {
    const response = await httpJson(port, 'POST', '/v1/services/register', {
      name: 'api',
      id: 'x',
      host: 'h',
      port: 1,
      session: 424242,
    });
    expect(response.status).toBe(404);
    expect(String(response.body['message'])).toMatch(/session 424242 does not exist/);
  });
});

describe('GET /v1/services', () => {
  const ids = async (query: string) => {
    const response = await httpJson(port, 'GET', `/v1/services${query}`);
    expect(response.status).toBe(200);
    return (response.body['services'] as { id: string }[]).map((s) => s.id);
  };

  it('filters by service, tags (all of them), metadata, health and limit', async () => {
    expect(await ids('?service=api')).toEqual(['a1', 'a2', 'a3']);
    expect(await ids('?service=api&tag=v2')).toEqual(['a1', 'a2']);
    expect(await ids('?service=api&tag=v2&tag=blue')).toEqual(['a1']);
    expect(await ids('?service=api&meta=zone:b')).toEqual(['a2']);
    expect(await ids('?service=api&healthy=true')).toEqual(['a1', 'a2']);
    expect(await ids('?service=api&healthy=true&limit=1')).toEqual(['a1']);
    expect(await ids('?service=unknown')).toEqual([]);
    expect(await ids('')).toEqual(['a1', 'a2', 'a3']);
    const counted = await httpJson(port, 'GET', '/v1/services?service=api&limit=1');
    expect(counted.body).toMatchObject({ count: 3 });
  });

  it('400 on a bad query', async () => {
    for (const query of ['?limit=-1', '?healthy=maybe', '?service=a%20b', '?meta=novalue']) {
      const response = await httpJson(port, 'GET', `/v1/services${query}`);
      expect(response.status, query).toBe(400);
    }
  });
});

describe('heartbeat and deregister', () => {
  it('heartbeat makes the TTL check pass; 409 without a TTL check; 404 for an unknown instance', async () => {
    const ok = await httpJson(port, 'POST', '/v1/services/heartbeat', { name: 'api', id: 'a3' });
    expect(ok).toMatchObject({ status: 200, body: { status: 'ok', checks: ['beat'] } });
    await waitFor(() => {
      const leader = cluster.nodes[cluster.leaderIndex()]!;
      const kv = leader.replica.stateMachine.range({ key: '/_services/api/a3' }).kvs[0];
      return kv !== undefined && Buffer.from(kv.value).toString().includes('"status":"passing"');
    }, 'the TTL check to pass');
    expect((await httpJson(port, 'POST', '/v1/services/heartbeat', { name: 'api', id: 'a1' })).status).toBe(
      409,
    );
    expect(
      (await httpJson(port, 'POST', '/v1/services/heartbeat', { service_name: 'api', service_id: 'zz' }))
        .status,
    ).toBe(404);
  });

  it('deregister removes the instance; 404 the second time', async () => {
    const first = await httpJson(port, 'POST', '/v1/services/deregister', { name: 'api', id: 'a2' });
    expect(first).toMatchObject({ status: 200, body: { status: 'deregistered' } });
    const second = await httpJson(port, 'POST', '/v1/services/deregister', { name: 'api', id: 'a2' });
    expect(second.status).toBe(404);
    expect(second.body).toMatchObject({ error: 'NOT_FOUND' });
  });

  it('405 for the wrong method, 404 for an unknown /v1 path', async () => {
    const wrong = await httpJson(port, 'GET', '/v1/services/register');
    expect(wrong.status).toBe(405);
    expect((await httpJson(port, 'POST', '/v1/services')).status).toBe(405);
    expect((await httpJson(port, 'GET', '/v1/nothing')).status).toBe(404);
    // The side port's own routes are untouched.
    expect((await httpJson(port, 'GET', '/status')).status).toBe(200);
  });
});

describe('no leader', () => {
  it('503 for writes when the cluster has lost its quorum', async () => {
    const survivor = cluster.followerIndex();
    const survivorPort = cluster.httpPorts[survivor]!;
    for (let i = 0; i < cluster.nodes.length; i++) if (i !== survivor) await cluster.stopNode(i);
    await waitFor(
      () => cluster.nodes[survivor]!.replica.leaderId === null,
      'the survivor to lose its leader',
      10_000,
    );
    const response = await httpJson(survivorPort, 'POST', '/v1/services/register?timeout=2000', {
      name: 'api',
      id: 'late',
      host: 'h',
      port: 1,
    });
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ error: 'UNAVAILABLE' });
    expect(String(response.body['message'])).toMatch(/no leader/);
  });
});
