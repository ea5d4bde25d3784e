/**
 * Health checks run by the cluster's leader against real local targets — an HTTP server, a TCP
 * port, a gRPC health server, and TTL heartbeats — each made to fail and recover, with the
 * thresholds respected and only transitions written to the log; then the checks move to the
 * new leader when the old one stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  startGrpcHealthTarget,
  startHttpTarget,
  startRegistryCluster,
  startTcpTarget,
  waitFor,
  type GrpcHealthTarget,
  type HttpTarget,
  type RegistryCluster,
  type TcpTarget,
} from './registry-harness.js';
import { decodeInstance, type ServiceInstance } from '../../src/registry/model.js';

let cluster: RegistryCluster;
let http: HttpTarget;
let tcp: TcpTarget;
let grpcTarget: GrpcHealthTarget;

beforeAll(async () => {
  [cluster, http, tcp, grpcTarget] = await Promise.all([
    startRegistryCluster({ registry: { resyncIntervalMs: 500 } }),
    startHttpTarget(),
    startTcpTarget(),
    startGrpcHealthTarget(),
  ]);
});

afterAll(async () => {
  await Promise.all([cluster?.stop(), http?.close(), tcp?.close(), grpcTarget?.close()]);
});

const client = () =>
  cluster.clients[cluster.followerIndex() === -1 ? cluster.leaderIndex() : cluster.followerIndex()]!;

/** The instance as the leader's state machine holds it (no RPC: cheap to poll). */
function stored(name: string, id: string): ServiceInstance | undefined {
  const leader = cluster.nodes[cluster.leaderIndex()];
  if (leader === null || leader === undefined) return undefined;
  const key = `/_services/${name}/${id}`;
  const kv = leader.replica.stateMachine.range({ key }).kvs[0];
  return kv === undefined ? undefined : decodeInstance(key, kv.value);
}

const status = (name: string, id: string) => stored(name, id)?.health.status;

async function waitForStatus(name: string, id: string, want: 'passing' | 'critical', timeoutMs = 10_000) {
  await waitFor(() => status(name, id) === want, `${name}/${id} to be ${want}`, timeoutMs);
}

/** Health transitions of the instance, from its key's history on the leader. */
function transitions(name: string, id: string): string[] {
  const leader = cluster.nodes[cluster.leaderIndex()]!;
  const watcher = leader.replica.stateMachine.watch({ key: `/_services/${name}/${id}`, startRevision: 1 });
  const events = watcher.take();
  watcher.cancel();
  const statuses = events
    .filter((e) => e.type === 'put')
    .map((e) => decodeInstance(e.kv.key, e.kv.value)?.health.status ?? '?');
  return statuses.filter((s, i) => i === 0 || s !== statuses[i - 1]);
}

describe('HTTP check', () => {
  it('passes on 2xx with the expected body, turns critical only after failuresBeforeCritical failed probes, recovers after successesBeforePassing', async () => {
    await call(client(), 'Register', {
      instance: {
        name: 'web',
        id: 'h1',
        host: '127.0.0.1',
        port: http.port,
        checks: [
          {
            name: 'http',
            kind: 'http',
            url: http.url,
            expectBody: 'all good',
            intervalMs: 150,
            timeoutMs: 100,
            failuresBeforeCritical: 3,
            successesBeforePassing: 2,
          },
        ],
      },
    });
    expect(status('web', 'h1')).toBe('critical');
    await waitForStatus('web', 'h1', 'passing');

    http.healthy = false;
    const hitsAtDown = http.hits;
    // Two failed probes are not enough.
    await waitFor(() => http.hits >= hitsAtDown + 2, 'two failing probes');
    expect(status('web', 'h1')).toBe('passing');
    await waitForStatus('web', 'h1', 'critical');
    expect(http.hits - hitsAtDown).toBeGreaterThanOrEqual(3);
    expect(stored('web', 'h1')!.health.checks[0]!.output).toMatch(/503/);

    http.healthy = true;
    const hitsAtUp = http.hits;
    await waitFor(() => http.hits >= hitsAtUp + 1, 'one good probe');
    expect(status('web', 'h1')).toBe('critical');
    await waitForStatus('web', 'h1', 'passing');
    expect(http.hits - hitsAtUp).toBeGreaterThanOrEqual(2);

    // Only transitions went through the log: critical (registered), passing, critical, passing.
    expect(transitions('web', 'h1')).toEqual(['critical', 'passing', 'critical', 'passing']);
    const puts = cluster.nodes[cluster.leaderIndex()]!.replica.stateMachine.range({
      key: '/_services/web/h1',
    }).kvs[0]!;
    expect(puts.version).toBe(4);
  });
});

describe('TCP check', () => {
  it('follows a port that closes and reopens', async () => {
    await call(client(), 'Register', {
      instance: {
        name: 'db',
        id: 't1',
        host: '127.0.0.1',
        port: tcp.port,
        checks: [
          {
            kind: 'tcp',
            host: '127.0.0.1',
            port: tcp.port,
            intervalMs: 100,
            timeoutMs: 80,
            failuresBeforeCritical: 1,
          },
        ],
      },
    });
    await waitForStatus('db', 't1', 'passing');
    await tcp.down();
    await waitForStatus('db', 't1', 'critical');
    expect(stored('db', 't1')!.health.checks[0]!.output).toMatch(/ECONNREFUSED/);
    await tcp.up();
    await waitForStatus('db', 't1', 'passing');
  });
});

describe('gRPC check', () => {
  it('follows the grpc.health.v1 serving status', async () => {
    await call(client(), 'Register', {
      instance: {
        name: 'rpc',
        id: 'g1',
        host: '127.0.0.1',
        port: grpcTarget.port,
        checks: [
          {
            kind: 'grpc',
            host: '127.0.0.1',
            port: grpcTarget.port,
            intervalMs: 100,
            timeoutMs: 80,
            failuresBeforeCritical: 2,
          },
        ],
      },
    });
    await waitForStatus('rpc', 'g1', 'passing');
    grpcTarget.status = 'NOT_SERVING';
    await waitForStatus('rpc', 'g1', 'critical');
    expect(stored('rpc', 'g1')!.health.checks[0]!.output).toMatch(/NOT_SERVING/);
    grpcTarget.status = 'SERVING';
    await waitForStatus('rpc', 'g1', 'passing');
  });
});

describe('TTL check', () => {
  it('passes on a heartbeat (through a follower) and turns critical when the TTL passes without one', async () => {
    await call(client(), 'Register', {
      instance: {
        name: 'worker',
        id: 'k1',
        host: '127.0.0.1',
        port: 1,
        checks: [{ name: 'beat', kind: 'ttl', ttlMs: 600 }],
      },
    });
    expect(status('worker', 'k1')).toBe('critical');
    const reset = await call<{ checks: string[] }>(client(), 'Heartbeat', { name: 'worker', id: 'k1' });
    expect(reset.checks).toEqual(['beat']);
    await waitForStatus('worker', 'k1', 'passing');
    // Heartbeats inside the TTL keep it passing.
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await call(client(), 'Heartbeat', { name: 'worker', id: 'k1', check: 'beat' });
      expect(status('worker', 'k1')).toBe('passing');
    }
    const silentFrom = Date.now();
    await waitForStatus('worker', 'k1', 'critical');
    expect(Date.now() - silentFrom).toBeGreaterThanOrEqual(450);
    expect(stored('worker', 'k1')!.health.checks[0]!.output).toMatch(
      /no heartbeat for \d+ ms \(TTL 600 ms\)/,
    );
    await call(client(), 'Heartbeat', { name: 'worker', id: 'k1' });
    await waitForStatus('worker', 'k1', 'passing');
  });
});

describe('ownership', () => {
  it('only the leader runs checks; when it stops, the new leader takes them over from the logged status', async () => {
    const leader = cluster.leaderIndex();
    const running = cluster.registries[leader]!.handle!.health.runningChecks();
    expect(running).toEqual(
      expect.arrayContaining(['/_services/web/h1#http', '/_services/db/t1#tcp', '/_services/rpc/g1#grpc']),
    );
    cluster.registries.forEach((registry, i) => {
      if (i !== leader) expect(registry.handle!.health.runningChecks()).toEqual([]);
    });
    expect(status('web', 'h1')).toBe('passing');

    await cluster.stopNode(leader);
    await waitFor(() => cluster.leaderIndex() !== -1, 'a new leader', 10_000);
    const next = cluster.leaderIndex();
    await waitFor(
      () => cluster.registries[next]!.handle!.health.runningChecks().includes('/_services/web/h1#http'),
      'the new leader to run the checks',
    );
    // Taken over as passing: no flapping transition was written by the takeover itself.
    expect(status('web', 'h1')).toBe('passing');
    http.healthy = false;
    await waitForStatus('web', 'h1', 'critical');
    http.healthy = true;
    await waitForStatus('web', 'h1', 'passing');
    expect(transitions('web', 'h1')).toEqual([
      'critical',
      'passing',
      'critical',
      'passing',
      'critical',
      'passing',
    ]);
  });
});
