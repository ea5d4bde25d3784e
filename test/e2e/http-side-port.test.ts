import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { httpExtension, type NodeStatus } from '../../src/http/index.js';
import { defaultLimits, type NodeConfig } from '../../src/node/node-config.js';
import { RaftreeNode } from '../../src/node/raftree-node.js';
import { encodeCommand } from '../../src/state-machine/index.js';
import { freePorts } from '../support/ports.js';

const IDS = ['n1', 'n2', 'n3'] as const;

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Enough of the Prometheus text format for these checks: `name{a="b",...} value`. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe().catch(() => undefined);
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Timing and limits shared by every node these tests start: 10 ms ticks, quiet logs. */
const FAST_NODE = {
  tickMs: 10,
  electionTicks: 10,
  heartbeatTicks: 2,
  snapshotEveryEntries: 10_000,
  logLevel: 'silent',
  limits: defaultLimits,
} satisfies Partial<NodeConfig>;

describe('HTTP side port', () => {
  let dataRoot: string;
  let grpcPorts: number[];
  let httpPorts: number[];
  const nodes = new Map<string, RaftreeNode>();
  const url = (index: number, path: string) => `http://127.0.0.1:${httpPorts[index]}${path}`;

  function config(index: number): NodeConfig {
    const id = IDS[index]!;
    return {
      id,
      listen: `127.0.0.1:${grpcPorts[index]}`,
      http: `127.0.0.1:${httpPorts[index]}`,
      peers: new Map(IDS.map((peer, i) => [peer, `127.0.0.1:${grpcPorts[i]}`])),
      dataDir: join(dataRoot, id),
      ...FAST_NODE,
    };
  }

  async function start(index: number): Promise<RaftreeNode> {
    const node = await RaftreeNode.start(config(index), {
      logger: silentLogger(),
      extensions: [httpExtension()],
    });
    nodes.set(IDS[index]!, node);
    return node;
  }

  beforeAll(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), 'raftree-http-'));
    const ports = await freePorts(6);
    grpcPorts = ports.slice(0, 3);
    httpPorts = ports.slice(3);
  });

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((node) => node.stop()));
    await rm(dataRoot, { recursive: true, force: true });
  });

  it('answers 503 on /health while no leader can be elected', async () => {
    await start(0);
    const response = await fetch(url(0, '/health'));
    expect(response.status).toBe(503);
    const body = (await response.json()) as { ok: boolean; reason: string; id: string };
    expect(body).toMatchObject({ ok: false, id: 'n1' });
    expect(body.reason).toMatch(/no leader/);
  });

  it('answers 200 on /health on every node once a leader is elected', async () => {
    await Promise.all([start(1), start(2)]);
    for (const index of [0, 1, 2]) {
      const body = await waitFor('a healthy node', async () => {
        const response = await fetch(url(index, '/health'));
        return response.status === 200
          ? ((await response.json()) as { ok: boolean; leader: string })
          : undefined;
      });
      expect(body.ok).toBe(true);
      expect(IDS).toContain(body.leader);
    }
  });

  it('reports the node and its members on /status, with replication progress on the leader', async () => {
    const statuses = await waitFor('agreement on one leader', async () => {
      const all = await Promise.all(
        [0, 1, 2].map(async (i) => (await (await fetch(url(i, '/status'))).json()) as NodeStatus),
      );
      const leaders = new Set(all.map((s) => s.leader));
      const leader = all.filter((s) => s.role === 'leader');
      // A leader just elected has not heard back from its followers yet (match 0): wait for that too.
      const settled = leader.length === 1 && leader[0]!.members.every((m) => (m.progress?.match ?? 0) >= 1);
      return leaders.size === 1 && !leaders.has(null) && settled ? all : undefined;
    });
    for (const [i, status] of statuses.entries()) {
      expect(status.id).toBe(IDS[i]);
      expect(status.term).toBeGreaterThanOrEqual(1);
      expect(status.commitIndex).toBeGreaterThanOrEqual(1);
      expect(status.appliedIndex).toBeLessThanOrEqual(status.commitIndex);
      expect(status.snapshotIndex).toBe(0);
      expect(status.listen).toBe(`127.0.0.1:${grpcPorts[i]}`);
      expect(status.members.map((m) => [m.id, m.address, m.learner])).toEqual(
        IDS.map((id, j) => [id, `127.0.0.1:${grpcPorts[j]}`, false]),
      );
      expect(typeof status.keys).toBe('number');
      expect(typeof status.revision).toBe('number');
    }
    const leader = statuses.find((s) => s.role === 'leader')!;
    for (const member of leader.members) {
      expect(member.progress).toMatchObject({ state: expect.any(String), recentActive: expect.any(Boolean) });
      expect(member.progress!.match).toBeGreaterThanOrEqual(1);
      expect(member.progress!.next).toBeGreaterThan(member.progress!.match - 1);
    }
    for (const follower of statuses.filter((s) => s.role !== 'leader')) {
      for (const member of follower.members) expect(member.progress).toBeUndefined();
    }
  });

  it('exports Prometheus metrics per node with sane values', async () => {
    const leaderNode = [...nodes.values()].find((n) => n.replica.isLeader)!;
    await leaderNode.replica.propose(
      encodeCommand({ type: 'put', key: '/hello', value: new TextEncoder().encode('world') }),
    );
    leaderNode.reportRequest({ method: 'KV/Put', code: 'OK', seconds: 0.004 });

    const scrapes = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const response = await fetch(url(i, '/metrics'));
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
        return parseMetrics(await response.text());
      }),
    );
    let leaders = 0;
    for (const [i, samples] of scrapes.entries()) {
      const names = new Set(samples.map((s) => s.name));
      for (const name of [
        'raftree_role',
        'raftree_term',
        'raftree_commit_index',
        'raftree_applied_index',
        'raftree_is_leader',
        'raftree_proposals_committed_total',
        'raftree_proposals_failed_total',
        'raftree_leader_changes_total',
        'raftree_snapshots_taken_total',
        'raftree_snapshots_installed_total',
        'raftree_peer_messages_sent_total',
        'raftree_peer_messages_dropped_total',
        'raftree_fsync_duration_seconds_bucket',
        'raftree_fsync_duration_seconds_count',
        'raftree_entries_per_fsync_count',
        'raftree_active_watchers',
        'process_resident_memory_bytes',
        'process_cpu_seconds_total',
      ]) {
        expect(names, `${IDS[i]} exports ${name}`).toContain(name);
      }
      expect(value(samples, 'raftree_term')).toBeGreaterThanOrEqual(1);
      expect(value(samples, 'raftree_commit_index')).toBeGreaterThanOrEqual(2);
      expect(value(samples, 'raftree_fsync_duration_seconds_count')).toBeGreaterThan(0);
      expect(value(samples, 'raftree_leader_changes_total')).toBeGreaterThanOrEqual(1);
      expect(value(samples, 'raftree_active_watchers')).toBe(0);
      expect(samples.every((s) => s.labels['node'] === IDS[i])).toBe(true);
      const roles = samples.filter((s) => s.name === 'raftree_role');
      expect(roles.map((s) => s.labels['role']).sort()).toEqual([
        'candidate',
        'follower',
        'leader',
        'preCandidate',
      ]);
      expect(roles.reduce((sum, s) => sum + s.value, 0)).toBe(1);
      const isLeader = value(samples, 'raftree_is_leader')!;
      expect(value(samples, 'raftree_role', { role: 'leader' })).toBe(isLeader);
      leaders += isLeader;
      // A follower talks only to the leader (and to everyone while campaigning); the leader to all.
      const sentTo = IDS.filter((id) => id !== IDS[i]).map(
        (peer) => value(samples, 'raftree_peer_messages_sent_total', { peer }) ?? 0,
      );
      if (isLeader === 1) for (const sent of sentTo) expect(sent).toBeGreaterThan(0);
      else expect(Math.max(...sentTo)).toBeGreaterThan(0);
    }
    expect(leaders).toBe(1);

    const leaderIndex = IDS.indexOf(leaderNode.config.id as (typeof IDS)[number]);
    const leaderSamples = scrapes[leaderIndex]!;
    expect(value(leaderSamples, 'raftree_proposals_committed_total')).toBeGreaterThanOrEqual(1);
    expect(value(leaderSamples, 'raftree_entries_per_fsync_count')).toBeGreaterThanOrEqual(1);
    expect(
      value(leaderSamples, 'raftree_grpc_request_duration_seconds_count', { method: 'KV/Put', code: 'OK' }),
    ).toBe(1);
    expect(
      value(leaderSamples, 'raftree_grpc_request_duration_seconds_bucket', {
        method: 'KV/Put',
        code: 'OK',
        le: '0.005',
      }),
    ).toBe(1);
  });

  it('times the leader round trips to each follower: appends with entries and heartbeats', async () => {
    const leaderNode = [...nodes.values()].find((n) => n.replica.isLeader)!;
    const leaderIndex = IDS.indexOf(leaderNode.config.id as (typeof IDS)[number]);
    const followers = IDS.filter((id) => id !== leaderNode.config.id);
    const count = (samples: Sample[], name: string, peer: string): number =>
      value(samples, `${name}_count`, { peer }) ?? 0;
    const before = parseMetrics(await (await fetch(url(leaderIndex, '/metrics'))).text());
    for (let i = 0; i < 5; i++) {
      await leaderNode.replica.propose(
        encodeCommand({ type: 'put', key: `/rtt/${i}`, value: new TextEncoder().encode('x') }),
      );
    }
    // Each put commits on the first follower's acknowledgement; the other's may come a bit later.
    const after = await waitFor('both followers to acknowledge the five appends', async () => {
      const samples = parseMetrics(await (await fetch(url(leaderIndex, '/metrics'))).text());
      const acked = followers.map(
        (peer) =>
          count(samples, 'raftree_peer_append_round_trip_seconds', peer) -
          count(before, 'raftree_peer_append_round_trip_seconds', peer),
      );
      return acked.every((n) => n >= 5) ? samples : undefined;
    });
    for (const peer of followers) {
      for (const name of [
        'raftree_peer_append_round_trip_seconds',
        'raftree_peer_heartbeat_round_trip_seconds',
      ]) {
        const observed = count(after, name, peer);
        expect(observed, `${name} to ${peer}`).toBeGreaterThan(0);
        const meanSeconds = value(after, `${name}_sum`, { peer })! / observed;
        expect(meanSeconds).toBeGreaterThan(0);
        expect(meanSeconds).toBeLessThan(1);
      }
    }
    // Only a leader times round trips.
    for (const follower of followers) {
      const samples = parseMetrics(await (await fetch(url(IDS.indexOf(follower), '/metrics'))).text());
      expect(samples.filter((s) => s.name.startsWith('raftree_peer_append_round_trip'))).toEqual([]);
    }
  });

  it('serves the dashboard at / and answers 404 and 405 in JSON', async () => {
    const page = await fetch(url(0, '/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/status');

    for (const path of ['/nope', '/v1/services', '/status/extra']) {
      const missing = await fetch(url(0, path));
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: 'NOT_FOUND' });
    }

    const wrongMethod = await fetch(url(0, '/status'), { method: 'POST', body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    expect(await wrongMethod.json()).toMatchObject({ error: 'METHOD_NOT_ALLOWED' });

    const head = await fetch(url(0, '/status'), { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('keeps registries apart: a request reported on one node is counted on that node only', async () => {
    const leaderIndex = IDS.findIndex((id) => nodes.get(id)?.replica.isLeader);
    const followerIndex = [0, 1, 2].find((i) => i !== leaderIndex)!;
    const [leader, follower] = await Promise.all(
      [leaderIndex, followerIndex].map(async (i) =>
        parseMetrics(await (await fetch(url(i, '/metrics'))).text()),
      ),
    );
    expect(value(leader!, 'raftree_grpc_request_duration_seconds_count', { method: 'KV/Put' })).toBe(1);
    expect(
      value(follower!, 'raftree_grpc_request_duration_seconds_count', { method: 'KV/Put' }),
    ).toBeUndefined();
  });

  it('closes the side port when the node stops', async () => {
    const node = nodes.get('n3')!;
    await node.stop();
    nodes.delete('n3');
    await expect(fetch(url(2, '/status'))).rejects.toThrow();
  });
});

/** A single-node cluster on `grpcPort`, its HTTP side port at `http` (null: none). */
function soloConfig(grpcPort: number, http: string | null, dataDir: string): NodeConfig {
  return {
    id: 'solo',
    listen: `127.0.0.1:${grpcPort}`,
    http,
    peers: new Map([['solo', `127.0.0.1:${grpcPort}`]]),
    dataDir,
    ...FAST_NODE,
  };
}

describe('HTTP side port that cannot bind', () => {
  it('fails the node start with the address, and leaves no node running', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'raftree-http-busy-'));
    const [grpcPort, httpPort] = await freePorts(2);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(httpPort, '127.0.0.1', resolve));
    try {
      const config = soloConfig(grpcPort!, `127.0.0.1:${httpPort}`, dataDir);
      await expect(
        RaftreeNode.start(config, { logger: silentLogger(), extensions: [httpExtension()] }),
      ).rejects.toThrow(`cannot listen for HTTP on 127.0.0.1:${httpPort}: the address is already in use`);
      // The gRPC port was released, so the same node can start once the HTTP port is free.
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
      const node = await RaftreeNode.start(config, { logger: silentLogger(), extensions: [httpExtension()] });
      await node.stop();
    } finally {
      squatter.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('an extension whose prepare() fails', () => {
  it('fails the node start with its error and releases the data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'raftree-prepare-'));
    const [grpcPort] = await freePorts(1);
    const config = soloConfig(grpcPort!, null, dataDir);
    try {
      const broken = {
        prepare(): void {
          throw new Error('proto missing');
        },
      };
      await expect(RaftreeNode.start(config, { logger: silentLogger(), extensions: [broken] })).rejects.toThrow(
        'proto missing',
      );
      // The storage that was opening meanwhile was closed: the directory is not left locked.
      const node = await RaftreeNode.start(config, { logger: silentLogger(), extensions: [] });
      await node.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('HTTP side port on port 0', () => {
  it('reports the port it bound, and a single-node cluster becomes healthy on its own', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'raftree-http-solo-'));
    const [grpcPort] = await freePorts(1);
    const extension = httpExtension();
    const node = await RaftreeNode.start(soloConfig(grpcPort!, '127.0.0.1:0', dataDir), {
      logger: silentLogger(),
      extensions: [extension],
    });
    try {
      expect(extension.port).toBeGreaterThan(0);
      const health = await waitFor('a healthy single node', async () => {
        const response = await fetch(`http://127.0.0.1:${extension.port}/health`);
        return response.status === 200 ? ((await response.json()) as { leader: string }) : undefined;
      });
      expect(health.leader).toBe('solo');
    } finally {
      await node.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
    expect(extension.port).toBeNull();
  }, 30_000);
});
