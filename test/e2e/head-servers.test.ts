/**
 * examples/head-servers end to end: three head-server processes against a three-node process
 * cluster elect one leader, register as ephemeral nodes and in the service registry, write
 * health reports; the monitor shows them; SIGKILL the leading process and another takes over
 * within its session TTL (plus slack), while the dead one's ephemeral state disappears.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftreeClient } from '../../src/client/index.js';
import { until } from '../support/eventually.js';
import { ProcessCluster, REPO_ROOT } from '../support/process-cluster.js';

const TTL_MS = 3_000;
/** Keep-alive timing, the leader's expiry check and the next candidate's wake-up. */
const SLACK_MS = 3_000;

interface Child {
  readonly id: string;
  readonly process: ChildProcess;
  readonly lines: string[];
}

let cluster: ProcessCluster;
let client: RaftreeClient;
const children: Child[] = [];
const killAll = (): void => {
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
};

function run(id: string, script: string, args: string[], input?: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/head-servers/${script}`, ...args], {
    cwd: REPO_ROOT,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RAFTREE_'))),
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const entry: Child = { id, process: child, lines: [] };
  let partial = '';
  const collect = (chunk: string): void => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    entry.lines.push(...parts);
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  if (input !== undefined) child.stdin!.end(input);
  children.push(entry);
  return entry;
}

const headServer = (n: number): Child =>
  run(`head_server_${n}`, 'head-server.ts', [
    '--id',
    `head_server_${n}`,
    '--endpoints',
    cluster.endpoints().join(','),
    '--ttl',
    String(TTL_MS),
    '--report',
    '300',
  ]);

const elected = (child: Child): boolean => child.lines.some((l) => l.includes('elected leader'));

async function readJson<T>(key: string): Promise<T | undefined> {
  const kv = (await client.get(key)).kvs[0];
  return kv === undefined ? undefined : (JSON.parse(kv.text()) as T);
}

beforeAll(async () => {
  process.once('exit', killAll);
  cluster = await ProcessCluster.start();
  client = new RaftreeClient({ endpoints: cluster.endpoints() });
}, 60_000);

afterAll(async () => {
  killAll();
  await Promise.all(
    children.map((c) =>
      c.process.exitCode === null && c.process.signalCode === null ? once(c.process, 'exit') : undefined,
    ),
  );
  client?.close();
  await cluster?.stop();
});

describe('head servers', () => {
  it('elect one leader, and another takes over within the TTL when the leader is killed', async () => {
    const servers = [1, 2, 3].map(headServer);
    const dump = () => servers.map((s) => `--- ${s.id}\n${s.lines.join('\n')}`).join('\n');

    await until(
      'every head server to campaign',
      () => servers.every((s) => s.lines.some((l) => l.includes('campaigning'))),
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${dump()}`);
    });
    await until('a leader', () => servers.some(elected), 15_000);
    // Exactly one, and it stays that way.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(servers.filter(elected)).toHaveLength(1);
    const first = servers.find(elected)!;

    const registered = await client.get('/distributed_file_grid/head_servers/', { prefix: true });
    expect(registered.kvs.map((kv) => kv.key.split('/').pop())).toEqual([
      'head_server_1',
      'head_server_2',
      'head_server_3',
    ]);
    await until(
      'the leader node',
      async () => (await readJson<{ id: string }>('/distributed_file_grid/leader'))?.id === first.id,
    );
    await until(
      'three health reports',
      async () => (await client.get('/distributed_file_grid/health_reports/', { prefix: true })).count === 3,
    );
    await until(
      'three passing registry entries',
      async () => (await client.discover('head_servers', { healthyOnly: true })).count === 3,
      15_000,
    );

    // The monitor, fed from a pipe.
    const monitor = run(
      'monitor',
      'monitor.ts',
      ['--endpoints', cluster.endpoints().join(',')],
      'status\nleader\nquit\n',
    );
    const [code] = (await once(monitor.process, 'exit')) as [number | null];
    expect(code, monitor.lines.join('\n')).toBe(0);
    const output = monitor.lines.join('\n');
    expect(output).toMatch(/head servers \(3\)/);
    expect(output).toContain(`${first.id} (LEADER)`);
    expect(output).toMatch(/health=passing \[http=passing\]/);
    expect(output).toContain(`leader: ${first.id} (fencing token`);

    // Kill the leading process: its session stops being kept alive.
    const killedAt = Date.now();
    first.process.kill('SIGKILL');
    await until(
      'another head server to be elected',
      () => servers.some((s) => s !== first && elected(s)),
      TTL_MS + SLACK_MS + 5_000,
    );
    const takeoverMs = Date.now() - killedAt;
    const second = servers.find((s) => s !== first && elected(s))!;
    expect(takeoverMs, dump()).toBeLessThanOrEqual(TTL_MS + SLACK_MS);
    // Not before the dead leader's session could expire: no two leaders at once.
    expect(takeoverMs).toBeGreaterThanOrEqual(TTL_MS / 3);
    expect(servers.filter((s) => s !== first && elected(s))).toHaveLength(1);

    const leader = await readJson<{ id: string; fencingToken: number }>('/distributed_file_grid/leader');
    expect(leader?.id).toBe(second.id);
    const remaining = await client.get('/distributed_file_grid/head_servers/', { prefix: true });
    expect(remaining.kvs.map((kv) => kv.key.split('/').pop())).not.toContain(first.id);
    expect((await client.discover('head_servers')).instances.map((i) => i.id)).not.toContain(first.id);
    const before = (await readJson<{ sequence: number; role: string }>(
      `/distributed_file_grid/health_reports/${second.id}`,
    ))!;
    await until('the new leader to keep reporting', async () => {
      const report = await readJson<{ sequence: number; role: string }>(
        `/distributed_file_grid/health_reports/${second.id}`,
      );
      return report !== undefined && report.sequence > before.sequence && report.role === 'leader';
    });
    process.stdout.write(`head-server takeover after SIGKILL: ${takeoverMs} ms (TTL ${TTL_MS} ms)\n`);
  });
});
