import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_SH,
  IDS,
  consecutiveFreePorts,
  killAll,
  pidsFromFiles,
  processAlive,
  run,
  serveProcessesUnder,
  eventually,
} from './local-cluster-support.js';

describe('scripts/cluster.sh', () => {
  let dataRoot: string;
  let env: NodeJS.ProcessEnv;
  const started = new Set<number>();
  const cluster = async (...args: string[]) => {
    const result = await run('bash', [CLUSTER_SH, ...args], env);
    for (const pid of pidsFromFiles(dataRoot)) started.add(pid);
    return result;
  };

  beforeAll(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), 'raftree-cluster-sh-'));
    env = {
      ...process.env,
      RAFTREE_DATA: dataRoot,
      RAFTREE_BASE_PORT: String(await consecutiveFreePorts(3)),
      RAFTREE_HTTP_BASE_PORT: String(await consecutiveFreePorts(3)),
      RAFTREE_TICK_MS: '20',
      RAFTREE_LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    await run('bash', [CLUSTER_SH, 'stop'], env, 20_000);
    killAll([...started, ...serveProcessesUnder(dataRoot)]);
    await rm(dataRoot, { recursive: true, force: true });
  });

  it('starts, survives killing the leader, restarts the node and stops cleanly', async () => {
    const start = await cluster('start');
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    for (const id of IDS) expect(start.stdout).toContain(`${id} started (pid `);
    expect(pidsFromFiles(dataRoot)).toHaveLength(3);

    const first = await cluster('leader');
    expect(first.code).toBe(0);
    const oldLeader = first.stdout.trim();
    expect(IDS).toContain(oldLeader);

    const killed = await cluster('kill', oldLeader);
    expect(killed.code).toBe(0);
    expect(killed.stdout).toContain(`${oldLeader} killed (SIGKILL`);

    const next = await eventually('a new leader', async () => {
      const result = await cluster('leader');
      return result.code === 0 ? result.stdout.trim() : undefined;
    });
    expect(IDS).toContain(next);
    expect(next).not.toBe(oldLeader);

    const down = await cluster('status');
    expect(down.stdout).toMatch(new RegExp(`^${oldLeader}\\s+-\\s+down`, 'm'));

    const restart = await cluster('restart', oldLeader);
    expect(restart.code).toBe(0);
    const status = await eventually('all three up, following one leader', async () => {
      const result = await cluster('status');
      const lines = IDS.map((id) => new RegExp(`^${id}\\s+\\d+\\s+up\\s.*leader ${next} `, 'm'));
      return lines.every((line) => line.test(result.stdout)) ? result.stdout : undefined;
    });
    expect(status).toMatch(new RegExp(`^${next}\\s+\\d+\\s+up\\s+\\S+\\s+leader\\s`, 'm'));

    const beforeStop = serveProcessesUnder(dataRoot);
    expect(beforeStop).toHaveLength(3);
    const stop = await cluster('stop');
    expect(stop.code).toBe(0);
    for (const id of IDS) expect(stop.stdout).toContain(`${id} stopped`);
    expect(beforeStop.filter(processAlive)).toEqual([]);
    expect(serveProcessesUnder(dataRoot)).toEqual([]);
    expect(pidsFromFiles(dataRoot)).toEqual([]);

    const after = await cluster('status');
    for (const id of IDS) expect(after.stdout).toMatch(new RegExp(`^${id}\\s+-\\s+down`, 'm'));
  }, 90_000);

  it('rejects unknown nodes and commands with a usage message', async () => {
    const unknown = await cluster('kill', 'n9');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("unknown node 'n9'");
    const bogus = await cluster('frobnicate');
    expect(bogus.code).toBe(2);
    expect(bogus.stdout).toContain('scripts/cluster.sh start');
    const notRunning = await cluster('kill', 'n1');
    expect(notRunning.stderr).toContain('n1 is not running');
  }, 30_000);
});
