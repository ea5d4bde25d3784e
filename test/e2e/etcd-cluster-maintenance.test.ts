/**
 * etcdserverpb.Cluster and etcdserverpb.Maintenance against a three-node raftree cluster:
 * through the npm etcd3 client where it exposes them, raw requests for the rest, and Debian's
 * etcdctl (skipped, with a message, when it is not installed), whose JSON output is compared
 * with what a real etcd prints for the same commands. Expected messages and codes are etcd 3.4's.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { memberIdOf } from '../../src/etcd/ids.js';
import { defaultLimits } from '../../src/node/node-config.js';
import { RaftreeNode } from '../../src/node/raftree-node.js';
import { decodeSnapshot } from '../../src/state-machine/index.js';
import { etcdTools, runEtcdctl, startRealEtcd } from '../support/etcdctl.js';
import { freePorts } from '../support/ports.js';
import { callError, unary, waitFor, type TestCluster } from './api-harness.js';
import {
  etcdClients,
  etcdNodeExtensions,
  startEtcdCluster,
  type EtcdRawClients,
  type HeaderWire,
} from './etcd-harness.js';

interface MemberWire {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}
interface MembersWire {
  header: HeaderWire;
  members: MemberWire[];
}
interface HashKVWire {
  header: HeaderWire;
  hash: number;
  compact_revision: string;
}
interface SnapshotChunk {
  remaining_bytes: string;
  blob: Buffer;
}

const tools = etcdTools();
if (tools.etcdctl === null) console.warn(`skipping the etcdctl tests: ${tools.missing ?? ''}`);
else if (tools.etcd === null)
  console.warn(`skipping the comparison with a real etcd: ${tools.missing ?? ''}`);

/**
 * The shape of etcdctl's JSON: every object's keys, recursively (an array by its first element).
 * Go prints uint64s as bare numbers beyond 2^53: parse only for shape, never for values.
 */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, field]) => [key, shapeOf(field)]),
    );
  }
  return typeof value;
}

/** The whole server stream of a Snapshot call, bounded in time. */
function snapshotStream(client: EtcdRawClients, timeoutMs = 10_000): Promise<SnapshotChunk[]> {
  return new Promise((resolve, reject) => {
    const method = client.maintenance['Snapshot'] as unknown as (
      request: object,
      metadata: grpc.Metadata,
      options: grpc.CallOptions,
    ) => grpc.ClientReadableStream<SnapshotChunk>;
    const call = method.call(client.maintenance, {}, new grpc.Metadata(), {
      deadline: Date.now() + timeoutMs,
    });
    const chunks: SnapshotChunk[] = [];
    call.on('data', (chunk: SnapshotChunk) => chunks.push(chunk));
    call.on('error', reject);
    call.on('end', () => resolve(chunks));
  });
}

describe('etcd Cluster and Maintenance APIs', () => {
  let cluster: TestCluster;
  let etcd: Etcd3;
  const raw: EtcdRawClients[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  const nodeIds = (): string[] => ['n1', 'n2', 'n3'];
  const leaderClient = (): EtcdRawClients => raw[cluster.leaderIndex()]!;
  const followerClient = (): EtcdRawClients => raw[cluster.followerIndex()]!;
  const leaderId = (): string => cluster.nodes[cluster.leaderIndex()]!.config.id;
  /**
   * etcdctl endpoints as HOST:PORT: with an http:// prefix, etcdctl's per-endpoint calls
   * (endpoint status / hashkv, move-leader) send ":authority: http://HOST:PORT", which Go's
   * HTTP/2 server (real etcd) accepts and Node's (nghttp2) resets as a PROTOCOL_ERROR.
   */
  const endpointList = (): string[] => cluster.addresses;

  /** Every member has applied everything the leader has. */
  const settled = async (): Promise<void> =>
    waitFor(() => {
      const leader = cluster.nodes[cluster.leaderIndex()];
      if (leader === undefined || leader === null) return false;
      const applied = leader.replica.status().commitIndex;
      return cluster.nodes.every((n) => n === null || n.replica.status().appliedIndex >= applied);
    }, 'every member to apply the leader commit index');

  beforeAll(async () => {
    cluster = await startEtcdCluster();
    etcd = new Etcd3({ hosts: cluster.addresses.map((address) => `http://${address}`) });
    for (const address of cluster.addresses) raw.push(etcdClients(address));
  }, 30_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    etcd?.close();
    for (const client of raw) client.close();
    await cluster?.stop();
  });

  it('lists members with etcd ids, names and one URL for peers and clients', async () => {
    // etcd3 sends its argument as the request message: it must be given.
    const listed = await etcd.cluster.memberList({});
    const expected = nodeIds()
      .map((id, i) => ({
        ID: memberIdOf(id),
        name: id,
        peerURLs: [`http://${cluster.addresses[i]}`],
        clientURLs: [`http://${cluster.addresses[i]}`],
        isLearner: false,
      }))
      .sort((a, b) => (BigInt(a.ID) < BigInt(b.ID) ? -1 : 1));
    expect(listed.members).toEqual(expected);
    // Any member answers from its own view, with etcd's revision-less Cluster header.
    const fromFollower = await unary<MembersWire>(followerClient().cluster, 'MemberList', {});
    expect(fromFollower.members).toEqual(expected);
    expect(fromFollower.header.revision).toBe('0');
    expect(fromFollower.header.member_id).toBe(memberIdOf(cluster.nodes[cluster.followerIndex()]!.config.id));
  });

  it('reports status: version, leader, raft indexes, db size, no errors', async () => {
    const status = await etcd.maintenance.status();
    expect(status.version).toMatch(/^3\.4\.0\+raftree\.\d+\.\d+\.\d+/);
    expect(status.leader).toBe(memberIdOf(leaderId()));
    expect(Number(status.raftTerm)).toBeGreaterThan(0);
    expect(Number(status.raftIndex)).toBeGreaterThan(0);
    expect(Number(status.raftAppliedIndex)).toBeGreaterThan(0);
    expect(Number(status.dbSize)).toBeGreaterThan(0);
    expect(status.dbSizeInUse).toBe(status.dbSize);
    expect(status.errors).toEqual([]);
    expect(status.isLearner).toBe(false);
    for (const [i, client] of raw.entries()) {
      const own = await unary<{ header: HeaderWire; leader: string }>(client.maintenance, 'Status', {});
      expect(own.header.member_id).toBe(memberIdOf(cluster.nodes[i]!.config.id));
      expect(own.leader).toBe(memberIdOf(leaderId()));
    }
  });

  it('has no alarms: GET and DEACTIVATE answer an empty list, ACTIVATE is refused', async () => {
    expect((await etcd.maintenance.alarm({ action: 'Get' })).alarms).toEqual([]);
    expect((await etcd.maintenance.alarm({ action: 'Deactivate', alarm: 'Nospace' })).alarms).toEqual([]);
    const activate = await callError(
      unary(leaderClient().maintenance, 'Alarm', { action: 1, memberID: '0', alarm: 1 }),
    );
    expect(activate.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(activate.details).toMatch(/^raftree: alarms are not supported/);
    const unknown = await callError(unary(leaderClient().maintenance, 'Alarm', { action: 7 }));
    expect(unknown.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('defragments as a no-op and hashes the keyspace so that members agree', async () => {
    // Like etcd's, the answer carries no header.
    const defragmented = await etcd.maintenance.defragment();
    expect(defragmented.header).toBeNull();

    await etcd.put('hash/a').value('1');
    const second = await etcd.put('hash/b').value('2');
    const revision = Number(second.header.revision);
    await etcd.put('hash/a').value('3');
    await settled();

    const hashes = await Promise.all(
      raw.map((client) => unary<HashKVWire>(client.maintenance, 'HashKV', { revision: String(revision) })),
    );
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    expect(hashes[0]!.compact_revision).toBe('-1');
    const latest = await Promise.all(
      raw.map((client) => unary<HashKVWire>(client.maintenance, 'HashKV', {})),
    );
    expect(new Set(latest.map((h) => h.hash)).size).toBe(1);
    expect(latest[0]!.hash).not.toBe(hashes[0]!.hash);
    // (etcd3 1.1.2's maintenance.hashKV() cannot work against any server: it calls a method
    // named `hashKV`, while proto-loader names it `hashKv`; hence raw calls here.)
    // Hash covers the whole image; idle members that applied the same entries agree.
    await settled();
    const whole = await Promise.all(
      raw.map((client) => unary<{ hash: number }>(client.maintenance, 'Hash', {})),
    );
    expect(new Set(whole.map((h) => h.hash)).size).toBe(1);

    const future = await callError(
      unary(leaderClient().maintenance, 'HashKV', { revision: String(revision + 1000) }),
    );
    expect(future.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(future.details).toBe('etcdserver: mvcc: required revision is a future revision');
    await etcd.put('hash/c').value('4');
    await unary(leaderClient().kv, 'Compact', { revision: String(revision), physical: false });
    await settled();
    // etcd refuses the compaction revision itself.
    const compacted = await callError(
      unary(followerClient().maintenance, 'HashKV', { revision: String(revision) }),
    );
    expect(compacted.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(compacted.details).toBe('etcdserver: mvcc: required revision has been compacted');
    const after = await unary<HashKVWire>(followerClient().maintenance, 'HashKV', {
      revision: String(revision + 1),
    });
    expect(after.compact_revision).toBe(String(revision));
  });

  it('streams a snapshot: raftree image, padded to 512 bytes, then its SHA-256', async () => {
    await etcd.put('snap/k').value('v');
    // About 2.5 MB: some 80 chunks, more than the stream buffers without waiting for 'drain'.
    const big = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 40; i++) await etcd.put(`snap/big/${i}`).value(big);
    const chunks = await snapshotStream(followerClient());
    expect(chunks.length).toBeGreaterThan(80);
    expect(chunks.slice(0, -2).every((c) => c.blob.length === 32 * 1024)).toBe(true);
    const body = Buffer.concat(chunks.slice(0, -1).map((c) => c.blob));
    const checksum = chunks.at(-1)!;
    expect(checksum.remaining_bytes).toBe('0');
    expect(checksum.blob).toEqual(createHash('sha256').update(body).digest());
    expect(body.length % 512).toBe(0);
    // remaining_bytes counts down to 0 over the image chunks.
    let sent = 0;
    for (const chunk of chunks.slice(0, -1)) {
      sent += chunk.blob.length;
      expect(Number(chunk.remaining_bytes)).toBe(body.length - sent);
    }
    // The image is the state-machine snapshot: it decodes once the zero padding is cut.
    let decoded: ReturnType<typeof decodeSnapshot> | null = null;
    for (let end = body.length; end > body.length - 512 && decoded === null; end--) {
      try {
        decoded = decodeSnapshot(body.subarray(0, end));
      } catch {
        // Not the image's end yet.
      }
    }
    expect(decoded).not.toBeNull();
    expect(decoded!.store.visibleAt('snap/k', Infinity)?.value).toEqual(new TextEncoder().encode('v'));

    // A client that goes away mid-stream leaves the member serving.
    const method = leaderClient().maintenance['Snapshot'] as unknown as (
      request: object,
    ) => grpc.ClientReadableStream<SnapshotChunk>;
    const abandoned = method.call(leaderClient().maintenance, {});
    abandoned.on('error', () => {});
    await new Promise<void>((resolve) => abandoned.once('data', () => resolve()));
    abandoned.cancel();
    await etcd.delete().prefix('snap/big/');
    expect((await etcd.maintenance.status()).errors).toEqual([]);
  });

  it('moves leadership on the leader, and refuses on a follower or for an unknown target', async () => {
    const oldLeader = leaderId();
    const target = nodeIds().find((id) => id !== oldLeader)!;
    const onFollower = await callError(
      unary(followerClient().maintenance, 'MoveLeader', { targetID: memberIdOf(target) }),
    );
    expect(onFollower.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(onFollower.details).toBe('etcdserver: not leader');
    const unknown = await callError(unary(leaderClient().maintenance, 'MoveLeader', { targetID: '12345' }));
    expect(unknown.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(unknown.details).toBe('etcdserver: bad leader transferee');
    // To itself: nothing to do.
    await unary(leaderClient().maintenance, 'MoveLeader', { targetID: memberIdOf(oldLeader) });
    expect(leaderId()).toBe(oldLeader);

    await unary(leaderClient().maintenance, 'MoveLeader', { targetID: memberIdOf(target) }, 10_000);
    expect(cluster.nodes.find((n) => n?.config.id === target)!.replica.isLeader).toBe(true);
    await waitFor(
      () => cluster.nodes.every((n) => n === null || n.replica.leaderId === target),
      'every member to follow the new leader',
    );
  });

  it('refuses bad membership requests with etcd errors', async () => {
    const expectError = async (promise: Promise<unknown>, code: grpc.status, details: string | RegExp) => {
      const error = await callError(promise);
      expect(error.code).toBe(code);
      if (typeof details === 'string') expect(error.details).toBe(details);
      else expect(error.details).toMatch(details);
    };
    const cl = followerClient().cluster;
    const { INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, UNIMPLEMENTED } = grpc.status;
    for (const urls of [
      [],
      ['127.0.0.1:7'],
      ['ftp://127.0.0.1:7'],
      ['http://127.0.0.1'],
      ['http://h:1/path'],
    ]) {
      await expectError(
        unary(cl, 'MemberAdd', { peerURLs: urls }),
        INVALID_ARGUMENT,
        'etcdserver: given member URLs are invalid',
      );
    }
    await expectError(
      unary(cl, 'MemberAdd', { peerURLs: ['https://127.0.0.1:7'] }),
      INVALID_ARGUMENT,
      /^raftree: /,
    );
    await expectError(
      unary(cl, 'MemberAdd', { peerURLs: ['http://127.0.0.1:7', 'http://127.0.0.1:8'] }),
      INVALID_ARGUMENT,
      /^raftree: a member has exactly one address/,
    );
    await expectError(
      unary(cl, 'MemberAdd', { peerURLs: [`http://${cluster.addresses[0]}`], isLearner: true }),
      FAILED_PRECONDITION,
      'etcdserver: Peer URLs already exists',
    );
    await expectError(unary(cl, 'MemberRemove', { ID: '42' }), NOT_FOUND, 'etcdserver: member not found');
    await expectError(unary(cl, 'MemberPromote', { ID: '42' }), NOT_FOUND, 'etcdserver: member not found');
    await expectError(
      unary(cl, 'MemberPromote', { ID: memberIdOf('n1') }),
      FAILED_PRECONDITION,
      'etcdserver: can only promote a learner member',
    );
    await expectError(
      unary(cl, 'MemberUpdate', { ID: '42', peerURLs: ['http://127.0.0.1:9'] }),
      NOT_FOUND,
      'etcdserver: member not found',
    );
    // An update that changes nothing succeeds; moving a member is not something raftree can do.
    const same = await unary<MembersWire>(cl, 'MemberUpdate', {
      ID: memberIdOf('n2'),
      peerURLs: [`http://${cluster.addresses[1]}`],
    });
    expect(same.members).toHaveLength(3);
    await expectError(
      unary(cl, 'MemberUpdate', { ID: memberIdOf('n2'), peerURLs: ['http://127.0.0.1:9'] }),
      UNIMPLEMENTED,
      /^raftree: a member's address cannot change/,
    );
    await expectError(
      unary(cl, 'MemberUpdate', { ID: memberIdOf('n2'), peerURLs: [`http://${cluster.addresses[0]}`] }),
      FAILED_PRECONDITION,
      'etcdserver: Peer URLs already exists',
    );
  });

  it('adds a learner named in its URL, refuses to promote it until it caught up, then promotes and removes it', async () => {
    const [port, otherPort] = await freePorts(2);
    const address = `127.0.0.1:${port}`;
    // From a follower: forwarded to the leader.
    const added = await unary<{ member: MemberWire; members: MemberWire[] }>(
      followerClient().cluster,
      'MemberAdd',
      { peerURLs: [`http://n4@${address}`], isLearner: true },
      10_000,
    );
    expect(added.member).toEqual({
      ID: memberIdOf('n4'),
      name: 'n4',
      peerURLs: [`http://${address}`],
      clientURLs: [],
      isLearner: true,
    });
    expect(added.members.find((m) => m.name === 'n4')?.isLearner).toBe(true);
    const notReady = await callError(
      unary(followerClient().cluster, 'MemberPromote', { ID: memberIdOf('n4') }),
    );
    expect(notReady.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(notReady.details).toBe(
      'etcdserver: can only promote a learner member which is in sync with leader',
    );

    // Start n4 the way an operator would: --id n4 --join.
    const dataDir = await mkdtemp(join(tmpdir(), 'raftree-etcd-n4-'));
    const peers = new Map([
      ...nodeIds().map((id, i) => [id, cluster.addresses[i]!] as const),
      ['n4', address],
    ]);
    const n4 = await RaftreeNode.start(
      {
        id: 'n4',
        listen: address,
        http: null,
        peers,
        dataDir,
        tickMs: 10,
        electionTicks: 10,
        heartbeatTicks: 2,
        snapshotEveryEntries: 100_000,
        join: true,
        logLevel: 'silent',
        limits: defaultLimits,
      },
      { logger: silentLogger(), extensions: etcdNodeExtensions() },
    );
    cleanups.push(async () => {
      await n4.stop();
      await rm(dataDir, { recursive: true, force: true });
    });
    await waitFor(() => {
      const leader = cluster.nodes[cluster.leaderIndex()];
      return leader != null && n4.replica.status().appliedIndex >= leader.replica.status().commitIndex;
    }, 'the learner to catch up');
    const n4Client = etcdClients(address);
    try {
      const n4Status = await unary<{ isLearner: boolean }>(n4Client.maintenance, 'Status', {});
      expect(n4Status.isLearner).toBe(true);
    } finally {
      n4Client.close();
    }

    const promoted = await unary<MembersWire>(
      followerClient().cluster,
      'MemberPromote',
      { ID: memberIdOf('n4') },
      10_000,
    );
    expect(promoted.members.find((m) => m.name === 'n4')?.isLearner).toBe(false);
    expect(promoted.members).toHaveLength(4);

    // A URL without a name: the member is named after its address.
    const unnamed = await unary<{ member: MemberWire }>(leaderClient().cluster, 'MemberAdd', {
      peerURLs: [`http://127.0.0.1:${otherPort}`],
      isLearner: true,
    });
    expect(unnamed.member.name).toBe(`127.0.0.1-${otherPort}`);
    await unary(leaderClient().cluster, 'MemberRemove', { ID: unnamed.member.ID }, 10_000);

    const removed = await unary<MembersWire>(
      followerClient().cluster,
      'MemberRemove',
      { ID: memberIdOf('n4') },
      10_000,
    );
    expect(removed.members.map((m) => m.name).sort()).toEqual(nodeIds());
  });

  describe.skipIf(tools.etcdctl === null)('etcdctl', () => {
    it('member list -w json', async () => {
      const { code, stdout, stderr } = await runEtcdctl(endpointList(), ['member', 'list', '-w', 'json']);
      expect(code, stderr).toBe(0);
      // Go prints uint64s as JSON numbers: compare them as text.
      const ids = [...stdout.matchAll(/"ID":(\d+)/g)].map((m) => m[1]);
      expect(ids.sort()).toEqual(nodeIds().map(memberIdOf).sort());
      const parsed = JSON.parse(stdout) as { header: object; members: Record<string, unknown>[] };
      expect(Object.keys(parsed.header).sort()).toEqual(['cluster_id', 'member_id', 'raft_term']);
      for (const member of parsed.members) {
        // isLearner false is omitted, as etcd omits it.
        expect(Object.keys(member).sort()).toEqual(['ID', 'clientURLs', 'name', 'peerURLs']);
      }
      const table = await runEtcdctl(endpointList(), ['member', 'list']);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toContain(`${BigInt(memberIdOf('n1')).toString(16)}, started, n1, http://`);
    });

    it('endpoint status -w json, endpoint health, alarm list', async () => {
      const status = await runEtcdctl(endpointList(), ['endpoint', 'status', '-w', 'json']);
      expect(status.code, status.stderr).toBe(0);
      const parsed = JSON.parse(status.stdout) as { Endpoint: string; Status: Record<string, unknown> }[];
      expect(parsed).toHaveLength(3);
      for (const entry of parsed) {
        expect(Object.keys(entry.Status).sort()).toEqual(
          [
            'dbSize',
            'dbSizeInUse',
            'header',
            'leader',
            'raftAppliedIndex',
            'raftIndex',
            'raftTerm',
            'version',
          ].sort(),
        );
        expect(entry.Status['version']).toMatch(/^3\.4\.0\+raftree\./);
      }
      const leaders = [...status.stdout.matchAll(/"leader":(\d+)/g)].map((m) => m[1]);
      expect(new Set(leaders)).toEqual(new Set([memberIdOf(leaderId())]));

      const table = await runEtcdctl(endpointList(), ['endpoint', 'status']);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout.match(/, true, false, /g)).toHaveLength(1);

      const health = await runEtcdctl(endpointList(), ['endpoint', 'health']);
      expect(health.code, health.stderr).toBe(0);
      expect(
        `${health.stdout}${health.stderr}`.match(/is healthy: successfully committed proposal/g),
      ).toHaveLength(3);

      const alarms = await runEtcdctl(endpointList(), ['alarm', 'list']);
      expect(alarms.code, alarms.stderr).toBe(0);
      expect(alarms.stdout).toBe('');
    });

    it('endpoint hashkv agrees across members', async () => {
      await etcd.put('ctl/hash').value('x');
      await settled();
      const { code, stdout, stderr } = await runEtcdctl(endpointList(), ['endpoint', 'hashkv']);
      expect(code, stderr).toBe(0);
      const hashes = stdout
        .trim()
        .split('\n')
        .map((line) => line.split(', ')[1]);
      expect(hashes).toHaveLength(3);
      expect(new Set(hashes).size).toBe(1);
    });

    it('move-leader transfers leadership through the leader endpoint', async () => {
      const oldLeader = leaderId();
      const target = nodeIds().find((id) => id !== oldLeader)!;
      const hex = BigInt(memberIdOf(target)).toString(16);
      const { code, stdout, stderr } = await runEtcdctl(endpointList(), ['move-leader', hex]);
      expect(code, stderr).toBe(0);
      expect(stdout.trim()).toBe(
        `Leadership transferred from ${BigInt(memberIdOf(oldLeader)).toString(16)} to ${hex}`,
      );
      await waitFor(() => leaderId() === target, 'the new leader');
    });

    it.skipIf(tools.etcd === null)('prints the same JSON shapes as a real etcd', async () => {
      const real = await startRealEtcd({ size: 1 });
      cleanups.push(() => real.stop());
      try {
        for (const args of [
          ['member', 'list', '-w', 'json'],
          ['endpoint', 'status', '-w', 'json'],
          ['endpoint', 'hashkv', '-w', 'json'],
        ]) {
          const ours = await runEtcdctl(endpointList(), args);
          const theirs = await runEtcdctl(real.endpoints, args);
          expect(ours.code, ours.stderr).toBe(0);
          expect(theirs.code, theirs.stderr).toBe(0);
          const parse = (text: string): unknown => shapeOf(JSON.parse(text));
          expect(parse(ours.stdout), args.join(' ')).toEqual(parse(theirs.stdout));
        }
        // etcd's AlarmResponse carries no header; neither does raftree's.
        const ours = await runEtcdctl(endpointList(), ['alarm', 'list', '-w', 'json']);
        const theirs = await runEtcdctl(real.endpoints, ['alarm', 'list', '-w', 'json']);
        expect(JSON.parse(theirs.stdout)).toEqual({});
        expect(JSON.parse(ours.stdout)).toEqual({});
      } finally {
        await real.stop();
      }
    });

    it('snapshot save writes the verified stream to a file', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'raftree-etcdctl-snap-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const file = join(dir, 'snap.db');
      const { code, stdout, stderr } = await runEtcdctl([cluster.addresses[0]!], ['snapshot', 'save', file]);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain(`Snapshot saved at ${file}`);
      const bytes = await readFile(file);
      expect(bytes.length % 512).toBe(32);
      const body = bytes.subarray(0, bytes.length - 32);
      expect(bytes.subarray(bytes.length - 32)).toEqual(createHash('sha256').update(body).digest());
    });
  });
});
