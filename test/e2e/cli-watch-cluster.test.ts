/**
 * `raftree watch` as a long-running child process reading its JSON lines, and the
 * `raftree cluster` commands (status table and JSON, members, transfer), against a real
 * three-node cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftreeClient } from '../../src/client/index.js';
import { runCli, spawnCli, type CliProcess } from '../support/cli-runner.js';
import { ProcessCluster } from '../support/process-cluster.js';

let cluster: ProcessCluster;
let endpoints: string;
let client: RaftreeClient;
const watchers: CliProcess[] = [];

beforeAll(async () => {
  cluster = await ProcessCluster.start();
  endpoints = cluster.endpoints().join(',');
  client = new RaftreeClient({ endpoints: cluster.endpoints() });
}, 60_000);

afterAll(async () => {
  await Promise.all(watchers.map((w) => w.stop('SIGKILL')));
  client?.close();
  await cluster?.stop();
});

function watch(...args: string[]): CliProcess {
  const process = spawnCli(['watch', ...args, '--endpoints', endpoints]);
  watchers.push(process);
  return process;
}

async function started(watcher: CliProcess): Promise<void> {
  await watcher.waitFor('the watch to start', () =>
    watcher.stderrLines.some((l) => l.startsWith('raftree: watching')),
  );
}

describe('raftree watch', () => {
  it('prints one JSON object per event, exactly shaped, and exits 0 on Ctrl-C', async () => {
    const watcher = watch('/w/json/', '--prefix', '--json', '--prev-kv');
    await started(watcher);
    const a1 = await client.put('/w/json/a', 'one');
    const a2 = await client.put('/w/json/a', 'two');
    const gone = await client.delete('/w/json/a');
    await client.put('/w/other', 'not watched');
    await watcher.waitFor('three events', () => watcher.stdoutLines.length >= 3);
    expect(watcher.stdoutLines).toEqual([
      JSON.stringify({
        type: 'put',
        key: '/w/json/a',
        value: 'one',
        modRevision: a1.revision,
        createRevision: a1.revision,
        version: 1,
      }),
      JSON.stringify({
        type: 'put',
        key: '/w/json/a',
        value: 'two',
        modRevision: a2.revision,
        createRevision: a1.revision,
        version: 2,
        prevValue: 'one',
      }),
      JSON.stringify({
        type: 'delete',
        key: '/w/json/a',
        value: '',
        modRevision: gone.revision,
        createRevision: 0,
        version: 0,
        prevValue: 'two',
      }),
    ]);
    expect(await watcher.stop('SIGINT')).toBe(0);
    expect(watcher.stdoutLines).toHaveLength(3);
  });

  it('replays history from --rev in human form, then follows live changes', async () => {
    const first = await client.put('/w/hist', 'old');
    await client.put('/w/hist', 'new');
    const watcher = watch('/w/hist', '--rev', String(first.revision));
    await watcher.waitFor('the history', () => watcher.stdoutLines.length >= 2);
    const live = await client.put('/w/hist', 'live');
    await watcher.waitFor('the live event', () => watcher.stdoutLines.length >= 3);
    expect(watcher.stdoutLines).toEqual([
      `[rev ${first.revision}] PUT /w/hist = old`,
      `[rev ${first.revision + 1}] PUT /w/hist = new`,
      `[rev ${live.revision}] PUT /w/hist = live`,
    ]);
    expect(await watcher.stop('SIGTERM')).toBe(0);
  });

  it('--children sees direct children only', async () => {
    const watcher = watch('/w/tree', '--children', '--json');
    await started(watcher);
    await client.put('/w/tree/deep/x', 'no');
    await client.put('/w/tree/a', 'yes');
    await watcher.waitFor('the child event', () => watcher.stdoutLines.length >= 1);
    expect(JSON.parse(watcher.stdoutLines[0]!)).toMatchObject({ key: '/w/tree/a', value: 'yes' });
    expect(watcher.stdoutLines).toHaveLength(1);
    await watcher.stop();
  });

  it('a watch from a compacted revision exits 1 with one line naming the compaction', async () => {
    const old = await client.put('/w/compact', '1');
    const newer = await client.put('/w/compact', '2');
    await client.compact(newer.revision);
    const watcher = watch('/w/compact', '--rev', String(old.revision));
    const code = await Promise.race([
      watcher.exited(),
      new Promise((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    expect(code).toBe(1);
    expect(watcher.stdoutLines).toEqual([]);
    const errors = watcher.stderrLines.filter((l) => l !== '');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(`^raftree: watch /w/compact: OUT_OF_RANGE.*revision ${old.revision} is compacted`),
    );
  });

  it('keeps printing, once each, when the node it watches through is killed', async () => {
    const victim = cluster.ids[0]!;
    // The watch connects to the first endpoint it can: the victim.
    const ordered = [
      cluster.address(victim),
      ...cluster.endpoints().filter((e) => e !== cluster.address(victim)),
    ];
    const watcher = spawnCli(['watch', '/w/kill/', '--prefix', '--json', '--endpoints', ordered.join(',')]);
    watchers.push(watcher);
    await started(watcher);
    expect(watcher.stderrLines.join('\n')).toContain(`on ${cluster.address(victim)}`);
    const revisions: number[] = [];
    for (let i = 0; i < 5; i++) revisions.push((await client.put(`/w/kill/${i}`, `${i}`)).revision);
    await cluster.kill(victim, 'SIGKILL');
    try {
      await cluster.waitForLeader();
      for (let i = 5; i < 10; i++) revisions.push((await client.put(`/w/kill/${i}`, `${i}`)).revision);
      await watcher.waitFor('all ten events', () => watcher.stdoutLines.length >= 10);
      const seen = watcher.stdoutLines.map(
        (line) => JSON.parse(line) as { key: string; modRevision: number },
      );
      expect(seen.map((e) => e.modRevision)).toEqual(revisions);
      expect(seen.map((e) => e.key)).toEqual(revisions.map((_, i) => `/w/kill/${i}`));
      expect(watcher.stderrLines.some((l) => l.includes(`watch lost ${cluster.address(victim)}`))).toBe(true);
      expect(await watcher.stop('SIGINT')).toBe(0);
    } finally {
      await cluster.restart(victim);
    }
    await cluster.waitForAgreement();
  });

  it('bad usage exits 2', async () => {
    const result = await runCli(['watch', '/a', '--prefix', '--children', '--endpoints', endpoints]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('raftree: choose --prefix or --children, not both');
  });
});

describe('raftree cluster', () => {
  it('status prints a table with a row per node', async () => {
    const leader = await cluster.waitForAgreement();
    const result = await runCli(['cluster', 'status', '--endpoints', endpoints]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ADDRESS\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LEADER\s+PROGRESS$/);
    expect(lines).toHaveLength(4);
    for (const id of cluster.ids) {
      const row = lines.find((l) => l.startsWith(`${id} `));
      expect(row, id).toBeDefined();
      const role = id === leader ? 'leader' : 'follower';
      expect(row).toMatch(
        new RegExp(
          `^${id}\\s+${cluster.address(id).replace(/\./g, '\\.')}\\s+${role}\\s+\\d+\\s+\\d+\\s+\\d+\\s+${leader}\\b`,
        ),
      );
    }
  });

  it('status --json is an array of node objects', async () => {
    const leader = await cluster.waitForAgreement();
    const result = await runCli(['cluster', 'status', '--json', '--endpoints', endpoints]);
    expect(result.code).toBe(0);
    const nodes = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(nodes).toHaveLength(3);
    for (const node of nodes) {
      expect(Object.keys(node)).toEqual([
        'id',
        'address',
        'role',
        'term',
        'leader',
        'commitIndex',
        'appliedIndex',
      ]);
      expect(node['leader']).toBe(leader);
      expect(node['address']).toBe(cluster.address(node['id'] as string));
      expect(node['role']).toBe(node['id'] === leader ? 'leader' : 'follower');
      expect(typeof node['commitIndex']).toBe('number');
    }
  });

  it('members lists every member and marks the leader', async () => {
    const leader = await cluster.waitForLeader();
    const human = await runCli(['cluster', 'members', '--endpoints', endpoints]);
    expect(human.stdout).toMatch(new RegExp(`${leader}\\s+\\S+\\s+voter\\s+\\*`));
    const result = await runCli(['cluster', 'members', '--json', '--endpoints', endpoints]);
    const members = JSON.parse(result.stdout) as {
      leader: string;
      members: { id: string; address: string; isLearner: boolean }[];
    };
    expect(members.leader).toBe(leader);
    expect(members.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('transfer hands leadership to another member', async () => {
    const leader = await cluster.waitForLeader();
    const target = cluster.ids.find((id) => id !== leader)!;
    const result = await runCli(['cluster', 'transfer', target, '--endpoints', endpoints]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`leadership transferred to ${target}\n`);
    expect(await cluster.waitForLeader()).toBe(target);
  });

  it('status shows an unreachable node with its error and still exits 0', async () => {
    const victim = cluster.ids.find((id) => id !== 'n1') ?? 'n2';
    await cluster.kill(victim, 'SIGKILL');
    try {
      const json = await runCli(['cluster', 'status', '--json', '--endpoints', endpoints]);
      expect(json.code).toBe(0);
      const nodes = JSON.parse(json.stdout) as Record<string, unknown>[];
      const dead = nodes.find((n) => n['address'] === cluster.address(victim))!;
      expect(dead['id']).toBeNull();
      expect(dead['error']).toMatch(/UNAVAILABLE/);
      expect(nodes.filter((n) => n['error'] === undefined)).toHaveLength(2);

      const table = await runCli(['cluster', 'status', '--endpoints', endpoints]);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(
        new RegExp(`-\\s+${cluster.address(victim).replace(/\./g, '\\.')}\\s+unreachable`),
      );
      expect(table.stdout).toMatch(
        new RegExp(`${cluster.address(victim).replace(/\./g, '\\.')}: status: UNAVAILABLE`),
      );

      const nothing = await runCli(['cluster', 'status', '--endpoints', cluster.address(victim)]);
      expect(nothing.code).toBe(1);
      expect(nothing.stderr.trim()).toBe('raftree: no endpoint answered (is the cluster running?)');
    } finally {
      await cluster.restart(victim);
    }
    await cluster.waitForAgreement();
  });
});
