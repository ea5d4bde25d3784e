/**
 * The TypeScript client's registry API against an in-process cluster: register / discover /
 * heartbeat / deregister, watchService, and discovery (a watch-fed cache with load balancing,
 * retries across instances, per-instance circuit breakers and client-counted connections).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftreeClient, RaftreeError, type ServiceWatchEvent } from '../../src/client/index.js';
import { startRegistryCluster, waitFor, type RegistryCluster } from './registry-harness.js';

let cluster: RegistryCluster;
let client: RaftreeClient;

beforeAll(async () => {
  cluster = await startRegistryCluster();
  client = new RaftreeClient({ endpoints: cluster.addresses, deadlineMs: 5_000 });
});

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

describe('calls', () => {
  it('register, discover with filters, heartbeat and deregister', async () => {
    const result = await client.register({
      name: 'api',
      id: 'a1',
      host: '127.0.0.1',
      port: 9001,
      tags: ['v2'],
      metadata: { zone: 'a' },
      weight: 2,
      checks: [{ name: 'beat', kind: 'ttl', ttlMs: 60_000 }],
    });
    expect(result.instance).toMatchObject({
      name: 'api',
      id: 'a1',
      weight: 2,
      healthy: false,
      checks: [{ name: 'beat', kind: 'ttl', ttlMs: 60_000 }],
    });
    await client.register({ name: 'api', id: 'a2', host: '127.0.0.1', port: 9002, tags: ['v1'] });
    expect((await client.discover('api')).instances.map((i) => i.id)).toEqual(['a1', 'a2']);
    expect((await client.discover('api', { healthyOnly: true })).instances.map((i) => i.id)).toEqual(['a2']);
    expect(
      (await client.discover('api', { tags: ['v2'], metadata: { zone: 'a' } })).instances.map((i) => i.id),
    ).toEqual(['a1']);
    expect(await client.heartbeat('api', 'a1')).toMatchObject({ checks: ['beat'] });
    await expect
      .poll(async () => (await client.discover('api', { healthyOnly: true })).count, { timeout: 5000 })
      .toBe(2);
    await client.deregister('api', 'a2');
    const error = await client.deregister('api', 'a2').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RaftreeError);
    expect((error as RaftreeError).code).toBe('NOT_FOUND');
  });

  it('refuses an unknown check field before sending', async () => {
    const error = await client
      .register({
        name: 'api',
        id: 'bad',
        host: 'h',
        port: 1,
        checks: [{ kind: 'ttl', ttlMs: 1000, ttl: 5 } as never],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RaftreeError);
    expect((error as RaftreeError).code).toBe('INVALID_ARGUMENT');
    expect((error as RaftreeError).message).toMatch(/unknown field ttl/);
  });
});

describe('watchService', () => {
  it('sees the snapshot, then register / health change / deregister', async () => {
    await client.register({ name: 'jobs', id: 'j0', host: '127.0.0.1', port: 1 });
    const watch = client.watchService('jobs');
    const events: ServiceWatchEvent[] = [];
    watch.on('event', (event) => events.push(event));
    try {
      await waitFor(() => events.length >= 1, 'the snapshot');
      expect(events[0]).toMatchObject({ type: 'snapshot', instances: [{ id: 'j0' }] });
      await client.register({
        name: 'jobs',
        id: 'j1',
        host: '127.0.0.1',
        port: 2,
        checks: [{ kind: 'ttl', ttlMs: 60_000 }],
      });
      await client.heartbeat('jobs', 'j1');
      await waitFor(() => events.length >= 3, 'register and health events');
      await client.deregister('jobs', 'j1');
      await waitFor(() => events.length >= 4, 'the deregister event');
      expect(events.slice(1).map((e) => e.type)).toEqual(['registered', 'health', 'deregistered']);
      expect(events[2]).toMatchObject({
        id: 'j1',
        instance: { healthy: true },
        previous: { healthy: false },
      });
    } finally {
      watch.close();
    }
  });

  it('is async-iterable', async () => {
    const watch = client.watchService('iter');
    const seen: string[] = [];
    const done = (async () => {
      for await (const event of watch) {
        seen.push(event.type === 'snapshot' ? 'snapshot' : `${event.type}:${event.id}`);
        if (seen.length === 2) break;
      }
    })();
    await waitFor(() => seen.length === 1, 'the snapshot');
    await client.register({ name: 'iter', id: 'i1', host: 'h', port: 1 });
    await done;
    expect(seen).toEqual(['snapshot', 'registered:i1']);
    expect(watch.isClosed).toBe(true);
  });
});

describe('discovery', () => {
  it('follows registrations and health, balances, and retries across instances with breakers', async () => {
    for (const id of ['s1', 's2', 's3']) {
      await client.register({
        name: 'svc',
        id,
        host: '127.0.0.1',
        port: 7000 + Number(id[1]),
        weight: id === 's3' ? 2 : 1,
      });
    }
    const discovery = client.discovery('svc', {
      strategy: 'round-robin',
      circuitBreaker: { consecutiveFailures: 2, cooldownMs: 60_000 },
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    });
    try {
      await discovery.ready();
      expect(discovery.instances().map((i) => i.id)).toEqual(['s1', 's2', 's3']);

      // Round-robin over the three.
      const picks = Array.from({ length: 6 }, () => discovery.pick()!.id);
      expect(new Set(picks)).toEqual(new Set(['s1', 's2', 's3']));

      // s2 always fails: every call still succeeds on another instance, and s2's breaker opens.
      const calls: string[] = [];
      for (let i = 0; i < 6; i++) {
        const answer = await discovery.call(async (instance) => {
          calls.push(instance.id);
          if (instance.id === 's2') throw new Error('connection refused');
          return instance.id;
        });
        expect(answer).not.toBe('s2');
      }
      expect(calls.filter((id) => id === 's2')).toHaveLength(2);
      expect(Array.from({ length: 6 }, () => discovery.pick()!.id)).not.toContain('s2');

      // A call that fails everywhere gives up after maxAttempts with the last error.
      const attempts: string[] = [];
      const failure = await discovery
        .call(async (instance) => {
          attempts.push(instance.id);
          throw new Error(`down: ${instance.id}`);
        })
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(Error);
      expect(attempts.length).toBeLessThanOrEqual(3);
      expect(new Set(attempts).size).toBe(attempts.length);

      // Registry changes reach the cache.
      await client.register({
        name: 'svc',
        id: 's4',
        host: '127.0.0.1',
        port: 7004,
        checks: [{ kind: 'ttl', ttlMs: 60_000 }],
      });
      await client.deregister('svc', 's1');
      await waitFor(
        () => discovery.all().some((i) => i.id === 's4') && !discovery.all().some((i) => i.id === 's1'),
        'cache update',
      );
      // s4 is critical (never heartbeated): not qualifying until it passes.
      expect(discovery.instances().map((i) => i.id)).not.toContain('s4');
      await client.heartbeat('svc', 's4');
      await waitFor(() => discovery.instances().some((i) => i.id === 's4'), 's4 to qualify');
    } finally {
      discovery.close();
    }
  });

  it('least-connections counts in-flight calls on the client', async () => {
    for (const id of ['l1', 'l2']) await client.register({ name: 'lc', id, host: '127.0.0.1', port: 1 });
    const discovery = client.discovery('lc', { strategy: 'least-connections', circuitBreaker: false });
    try {
      await discovery.ready();
      const releases: (() => void)[] = [];
      const first = discovery.call(
        (instance) => new Promise<string>((resolve) => releases.push(() => resolve(instance.id))),
      );
      await waitFor(() => releases.length === 1, 'the first call to start');
      const busy = discovery.all().find((i) => discovery.activeRequests(i.id) === 1)!.id;
      // With one call in flight on `busy`, the next picks go to the other instance.
      const second = discovery.call((instance) => Promise.resolve(instance.id));
      expect(await second).not.toBe(busy);
      releases[0]!();
      expect(await first).toBe(busy);
      expect(discovery.activeRequests(busy)).toBe(0);
    } finally {
      discovery.close();
    }
  });

  it('consistent-hash keeps a key on one instance', async () => {
    for (const id of ['c1', 'c2', 'c3'])
      await client.register({ name: 'ch', id, host: '127.0.0.1', port: 1 });
    const discovery = client.discovery('ch', { strategy: 'consistent-hash' });
    try {
      await discovery.ready();
      const target = discovery.pick({ key: 'user-42' })!.id;
      for (let i = 0; i < 10; i++) expect(discovery.pick({ key: 'user-42' })!.id).toBe(target);
    } finally {
      discovery.close();
    }
  });
});
