/**
 * The registry on a real three-process cluster: the `raftree service …` CLI, and health checks
 * that keep following their targets after the leader (which runs them) is SIGKILLed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftreeClient } from '../../src/client/index.js';
import { runCli, spawnCli, type CliProcess } from '../support/cli-runner.js';
import { until } from '../support/eventually.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { startHttpTarget, type HttpTarget } from './registry-harness.js';

let cluster: ProcessCluster;
let client: RaftreeClient;
let endpoints: string;
let target: HttpTarget;
const children: CliProcess[] = [];

beforeAll(async () => {
  [cluster, target] = await Promise.all([ProcessCluster.start(), startHttpTarget()]);
  endpoints = cluster.endpoints().join(',');
  client = new RaftreeClient({ endpoints: cluster.endpoints(), deadlineMs: 8_000 });
}, 60_000);

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
  client?.close();
  await Promise.all([cluster?.stop(), target?.close()]);
});

const statusOf = async (name: string, id: string) =>
  (await client.discover(name)).instances.find((i) => i.id === id)?.health.status;

describe('raftree service', () => {
  it('register / list / heartbeat / watch / deregister', async () => {
    const watcher = spawnCli(['service', 'watch', 'cli', '--json', '--endpoints', endpoints]);
    children.push(watcher);
    await watcher.waitFor('the snapshot', () => watcher.stdoutLines.length >= 1);
    expect(JSON.parse(watcher.stdoutLines[0]!)).toMatchObject({ type: 'snapshot', instances: [] });

    const registered = await runCli([
      'service',
      'register',
      'cli',
      '--id',
      'c1',
      '--host',
      '127.0.0.1',
      '--port',
      '8080',
      '--tag',
      'v2',
      '--tag',
      'blue',
      '--meta',
      'zone=a',
      '--weight',
      '3',
      '--ttl',
      '30s',
      '--json',
      '--endpoints',
      endpoints,
    ]);
    expect(registered.stderr).toBe('');
    expect(registered.code).toBe(0);
    expect(JSON.parse(registered.stdout)).toMatchObject({
      instance: {
        name: 'cli',
        id: 'c1',
        port: 8080,
        tags: ['v2', 'blue'],
        metadata: { zone: 'a' },
        weight: 3,
        healthy: false,
        checks: [{ name: 'ttl', kind: 'ttl', ttlMs: 30_000 }],
      },
    });
    const second = await runCli([
      'service',
      'register',
      'cli',
      '--id',
      'c2',
      '--host',
      '127.0.0.1',
      '--port',
      '8081',
      '--http-check',
      target.url,
      '--interval',
      '200ms',
      '--endpoints',
      endpoints,
    ]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^registered cli\/c2 {2}127\.0\.0\.1:8081 {2}critical/);

    const heartbeat = await runCli(['service', 'heartbeat', 'cli', 'c1', '--endpoints', endpoints]);
    expect(heartbeat).toMatchObject({ code: 0, stdout: 'heartbeat cli/c1: ttl\n' });
    await until(
      'both instances passing',
      async () => (await client.discover('cli', { healthyOnly: true })).count === 2,
    );

    const listed = await runCli([
      'service',
      'list',
      'cli',
      '--tag',
      'v2',
      '--healthy',
      '--json',
      '--endpoints',
      endpoints,
    ]);
    expect(listed.code).toBe(0);
    const json = JSON.parse(listed.stdout) as {
      count: number;
      instances: { id: string; healthy: boolean }[];
    };
    expect(json.instances.map((i) => [i.id, i.healthy])).toEqual([['c1', true]]);
    const human = await runCli(['service', 'list', '--endpoints', endpoints]);
    expect(human.stdout).toMatch(
      /cli\/c1 {2}127\.0\.0\.1:8080 {2}passing {2}weight=3 {2}tags=v2,blue {2}meta=zone=a {2}\[ttl passing: heartbeat received\]/,
    );

    const removed = await runCli(['service', 'deregister', 'cli', 'c2', '--endpoints', endpoints]);
    expect(removed.code).toBe(0);
    const again = await runCli(['service', 'deregister', 'cli', 'c2', '--endpoints', endpoints]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/NOT_FOUND.*instance c2 of service cli is not registered/);

    await watcher.waitFor('register, health and deregister lines', () =>
      watcher.stdoutLines.some((l) => l.includes('"type":"deregistered"')),
    );
    const types = watcher.stdoutLines
      .slice(1)
      .map(
        (l) =>
          `${(JSON.parse(l) as { type: string; id: string }).type}:${(JSON.parse(l) as { id: string }).id}`,
      );
    expect(types.filter((t) => t.endsWith(':c1'))).toEqual(['registered:c1', 'health:c1']);
    expect(types.filter((t) => t.endsWith(':c2'))).toEqual(['registered:c2', 'health:c2', 'deregistered:c2']);
    expect(await watcher.stop('SIGINT')).toBe(0);
  });

  it('refuses bad input with a one-line error', async () => {
    const badPort = await runCli([
      'service',
      'register',
      'x',
      '--id',
      'a',
      '--host',
      'h',
      '--port',
      '0',
      '--endpoints',
      endpoints,
    ]);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/expected a port from 1 to 65535/);
    const badCheck = await runCli([
      'service',
      'register',
      'x',
      '--id',
      'a',
      '--host',
      'h',
      '--port',
      '1',
      '--http-check',
      'ftp://x',
      '--endpoints',
      endpoints,
    ]);
    expect(badCheck.code).not.toBe(0);
    expect(badCheck.stderr).toMatch(/INVALID_ARGUMENT.*url must use http: or https:/);
    const noSession = await runCli([
      'service',
      'register',
      'x',
      '--id',
      'a',
      '--host',
      'h',
      '--port',
      '1',
      '--session',
      '99999',
      '--endpoints',
      endpoints,
    ]);
    expect(noSession.code).toBe(1);
    expect(noSession.stderr).toMatch(/NOT_FOUND.*session 99999 does not exist/);
    expect((await client.discover('x')).count).toBe(0);
  });
});

describe('health checks across a leader kill', () => {
  it('move to the new leader and keep following their targets', async () => {
    target.healthy = true;
    await client.register({
      name: 'moving',
      id: 'm1',
      host: '127.0.0.1',
      port: target.port,
      checks: [{ kind: 'http', url: target.url, intervalMs: 200, timeoutMs: 150, failuresBeforeCritical: 1 }],
    });
    await client.register({
      name: 'moving',
      id: 'ttl1',
      host: '127.0.0.1',
      port: 1,
      checks: [{ kind: 'ttl', ttlMs: 3_000 }],
    });
    await client.heartbeat('moving', 'ttl1');
    await until('m1 passing', async () => (await statusOf('moving', 'm1')) === 'passing');
    await until('ttl1 passing', async () => (await statusOf('moving', 'ttl1')) === 'passing');

    const leader = await cluster.waitForLeader();
    await cluster.kill(leader, 'SIGKILL');
    const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 15_000 });
    expect(next).not.toBe(leader);

    // Heartbeats go on through the failover: the TTL check never lapses.
    const beating = setInterval(() => void client.heartbeat('moving', 'ttl1').catch(() => undefined), 500);
    try {
      target.healthy = false;
      await until(
        'm1 critical under the new leader',
        async () => (await statusOf('moving', 'm1')) === 'critical',
        15_000,
      );
      target.healthy = true;
      await until('m1 passing again', async () => (await statusOf('moving', 'm1')) === 'passing', 15_000);
      expect(await statusOf('moving', 'ttl1')).toBe('passing');
    } finally {
      clearInterval(beating);
    }
    // Without heartbeats the new leader lets the TTL lapse.
    await until('ttl1 critical', async () => (await statusOf('moving', 'ttl1')) === 'critical', 15_000);
  });
});
