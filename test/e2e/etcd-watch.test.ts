/**
 * etcdserverpb.Watch against a three-node raftree cluster: through the npm etcd3 client (which
 * nobody here wrote) and through raw streams for what etcd3 does not expose (filters, ids,
 * progress and cancel requests, compaction). The raw protocol checks also run against a real
 * etcd 3.4 (/usr/bin/etcd) when it is installed: the expected replies are what it answers.
 */
import { connect as http2Connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { Etcd3, type IKeyValue, type IWatchResponse, type Watcher as Etcd3Watcher } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientApiExtension } from '../../src/api/index.js';
import { coordinationExtension } from '../../src/coordination/index.js';
import { etcdApiExtension } from '../../src/etcd/index.js';
import { memberIdOf } from '../../src/etcd/ids.js';
import { etcdPackageDefinition } from '../../src/etcd/proto.js';
import type { WatchOptions } from '../../src/state-machine/index.js';
import { etcdTools, startRealEtcd, type RealEtcdCluster } from '../support/etcdctl.js';
import {
  sleep,
  startCluster,
  text,
  unary,
  waitFor,
  type RawClient,
  type TestCluster,
} from './api-harness.js';
import { etcdClients, type EtcdRawClients, type KvWire } from './etcd-harness.js';

const PUT = 0;
const DELETE = 1;
const NOPUT = 0;
const NODELETE = 1;
const PROGRESS_INTERVAL_MS = 150;
const MAX_BUFFERED_EVENTS = 20;
/** Small, so that a modest deletion makes a response etcd would fragment. */
const MAX_REQUEST_BYTES = 64 * 1024;

interface EventWire {
  type: number;
  kv: KvWire;
  prev_kv: KvWire | null;
}
interface WatchResponse {
  header: { revision: string; member_id: string; cluster_id: string; raft_term: string };
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  events: EventWire[];
}

const revisionOf = (response: { header: { revision: string } }): number => Number(response.header.revision);
const describeEvent = (event: EventWire): string =>
  `${event.type === PUT ? 'put' : 'delete'} ${event.kv.key.toString()}@${event.kv.mod_revision}` +
  (event.type === PUT ? `=${event.kv.value.toString()}` : '') +
  (event.prev_kv === null ? '' : ` prev=${event.prev_kv.value.toString()}`);

/** One Watch stream through a generated grpc-js client, its responses kept in arrival order. */
class WatchStream {
  readonly responses: WatchResponse[] = [];
  /** The call's final status (set once it ended). */
  status: grpc.StatusObject | null = null;
  private readonly consumed = new Set<WatchResponse>();
  private readonly call: grpc.ClientDuplexStream<object, WatchResponse>;

  constructor(client: RawClient, metadata = new grpc.Metadata()) {
    const open = client['Watch'] as unknown as (
      metadata: grpc.Metadata,
    ) => grpc.ClientDuplexStream<object, WatchResponse>;
    this.call = open.call(client, metadata);
    this.call.on('data', (response: WatchResponse) => this.responses.push(response));
    this.call.on('status', (status: grpc.StatusObject) => (this.status = status));
    this.call.on('error', () => {});
  }

  send(request: object): void {
    this.call.write(request);
  }

  halfClose(): void {
    this.call.end();
  }

  /** The first response not yet taken that matches (default: any); takes it. */
  async next(
    match: (response: WatchResponse) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<WatchResponse> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.responses.find((response) => !this.consumed.has(response) && match(response));
      if (found !== undefined) {
        this.consumed.add(found);
        return found;
      }
      if (Date.now() > until) {
        throw new Error(
          `no matching watch response within ${timeoutMs} ms; got ${JSON.stringify(this.responses.map(summary))}`,
        );
      }
      await sleep(5);
    }
  }

  /** The next created / canceled / progress response (one without events). */
  control(): Promise<WatchResponse> {
    return this.next((response) => response.events.length === 0);
  }

  /** The events sent so far for `watchId`, described. */
  eventsOf(watchId: string): string[] {
    return this.responses.filter((r) => r.watch_id === watchId).flatMap((r) => r.events.map(describeEvent));
  }

  async ended(timeoutMs = 5000): Promise<grpc.StatusObject> {
    await waitFor(() => this.status !== null, 'the watch stream to end', timeoutMs);
    return this.status!;
  }

  close(): void {
    this.call.cancel();
  }
}

function summary(response: WatchResponse): object {
  return {
    id: response.watch_id,
    rev: response.header.revision,
    ...(response.created ? { created: true } : {}),
    ...(response.canceled ? { canceled: true, reason: response.cancel_reason } : {}),
    ...(response.compact_revision !== '0' ? { compact: response.compact_revision } : {}),
    ...(response.fragment ? { fragment: true } : {}),
    events: response.events.map(describeEvent),
  };
}

async function put(kv: RawClient, key: string, value: string | Buffer): Promise<number> {
  const response = await unary<{ header: { revision: string } }>(kv, 'Put', {
    key: text(key),
    value: typeof value === 'string' ? text(value) : value,
  });
  return revisionOf(response);
}

/**
 * The raw protocol, step by step, with what etcd 3.4.23 answers (run against it below). Expects
 * a store where only this sequence writes: the all-keys watch sees every event.
 */
async function checkWatchProtocol(clients: EtcdRawClients, prefix: string): Promise<void> {
  const kv = clients.kv;
  const a = `${prefix}a`;
  const b = `${prefix}b`;
  const r1 = await put(kv, a, '1');
  const r2 = await put(kv, a, '2');
  await put(kv, b, '1');
  const r4 = await put(kv, a, '3');
  await unary(kv, 'Compact', { revision: String(r2) });
  const stream = new WatchStream(clients.watch);
  try {
    // A progress request with no watch at all: answered at once with the current revision.
    stream.send({ progress_request: {} });
    let reply = await stream.control();
    expect(reply).toMatchObject({ watch_id: '-1', created: false, canceled: false });
    expect(revisionOf(reply)).toBe(r4);

    // Auto ids count from 0 on each stream; `created` carries the current revision.
    stream.send({ create_request: { key: text(a) } });
    reply = await stream.control();
    expect(reply).toMatchObject({ watch_id: '0', created: true, canceled: false });
    expect(revisionOf(reply)).toBe(r4);

    // A start below the compaction: created, then canceled with compact_revision (header 0).
    stream.send({ create_request: { key: text(a), start_revision: String(r1) } });
    expect(await stream.control()).toMatchObject({ watch_id: '1', created: true, canceled: false });
    reply = await stream.control();
    expect(reply).toMatchObject({
      watch_id: '1',
      created: false,
      canceled: true,
      compact_revision: String(r2),
      cancel_reason: '',
    });
    expect(revisionOf(reply)).toBe(0);

    // A start at the compaction revision itself still replays from there.
    stream.send({ create_request: { key: text(a), start_revision: String(r2) } });
    expect(await stream.control()).toMatchObject({ watch_id: '2', created: true });
    const replay = await stream.next((r) => r.watch_id === '2' && r.events.length > 0);
    expect(replay.events.map(describeEvent)).toEqual([`put ${a}@${r2}=2`, `put ${a}@${r4}=3`]);
    expect(revisionOf(replay)).toBe(r4);

    // Client-chosen ids; a duplicate is refused with mvcc's reason and watch_id -1.
    stream.send({ create_request: { key: text(a), watch_id: '7' } });
    expect(await stream.control()).toMatchObject({ watch_id: '7', created: true, canceled: false });
    stream.send({ create_request: { key: text(a), watch_id: '7' } });
    reply = await stream.control();
    expect(reply).toMatchObject({
      watch_id: '-1',
      created: true,
      canceled: true,
      cancel_reason: 'mvcc: duplicate watch ID provided on the WatchStream',
    });
    expect(revisionOf(reply)).toBe(r4);
    // A range whose end is not above its start.
    stream.send({ create_request: { key: text(b), range_end: text(a) } });
    expect(await stream.control()).toMatchObject({
      watch_id: '-1',
      created: true,
      canceled: true,
      cancel_reason: 'mvcc: watcher range is empty',
    });

    // Every key ("\0" to "\0"), puts filtered out; and one key with prev_kv, deletes filtered out.
    stream.send({ create_request: { key: Buffer.from([0]), range_end: Buffer.from([0]), filters: [NOPUT] } });
    expect(await stream.control()).toMatchObject({ watch_id: '3', created: true });
    stream.send({ create_request: { key: text(a), prev_kv: true, filters: [NODELETE] } });
    expect(await stream.control()).toMatchObject({ watch_id: '4', created: true });

    // Cancel: an unknown id is ignored; a compacted watch keeps its id until canceled.
    stream.send({ cancel_request: { watch_id: '99' } });
    stream.send({ cancel_request: { watch_id: '1' } });
    reply = await stream.control();
    expect(reply).toMatchObject({ watch_id: '1', canceled: true, created: false, cancel_reason: '' });
    expect(revisionOf(reply)).toBe(r4);
    stream.send({ cancel_request: { watch_id: '7' } });
    expect(await stream.control()).toMatchObject({ watch_id: '7', canceled: true });
    // A freed id can be chosen again; auto ids go on after the highest one handed out.
    stream.send({ create_request: { key: text(a), watch_id: '7' } });
    expect(await stream.control()).toMatchObject({ watch_id: '7', created: true, canceled: false });
    stream.send({ create_request: { key: text(a) } });
    expect(await stream.control()).toMatchObject({ watch_id: '5', created: true });
    // A key that is not UTF-8 (raftree cannot store one) is watched all the same.
    stream.send({ create_request: { key: Buffer.from([0xff, 0xfe]) } });
    expect(await stream.control()).toMatchObject({ watch_id: '6', created: true, canceled: false });
    // An empty request is ignored; the progress request after it is answered.
    stream.send({});
    stream.send({ progress_request: {} });
    reply = await stream.control();
    expect(reply).toMatchObject({ watch_id: '-1', created: false, canceled: false });
    expect(revisionOf(reply)).toBe(r4);

    // A txn's events share a revision and one response; deletes carry only key and revision.
    const txn = await unary<{ header: { revision: string } }>(kv, 'Txn', {
      success: [
        { request_put: { key: text(a), value: text('4') } },
        { request_put: { key: text(b), value: text('4') } },
      ],
    });
    const r5 = revisionOf(txn);
    const r6 = revisionOf(await unary<{ header: { revision: string } }>(kv, 'DeleteRange', { key: text(a) }));
    const deleted = await stream.next((r) => r.watch_id === '3');
    expect(deleted.events).toHaveLength(1);
    expect(deleted.events[0]).toMatchObject({ type: DELETE, prev_kv: null });
    expect(deleted.events[0]!.kv).toMatchObject({
      mod_revision: String(r6),
      create_revision: '0',
      version: '0',
      lease: '0',
    });
    expect(deleted.events[0]!.kv.key.toString()).toBe(a);
    expect(deleted.events[0]!.kv.value.length).toBe(0);
    expect(revisionOf(deleted)).toBe(r6);
    // (A member that applied both writes before sending may put them in one response.)
    await waitFor(
      () => ['0', '2', '5', '7'].every((id) => stream.eventsOf(id).includes(`delete ${a}@${r6}`)),
      'the deletion on every watch of the key',
    );
    stream.send({ progress_request: {} });
    reply = await stream.next((r) => r.watch_id === '-1');
    expect(revisionOf(reply)).toBe(r6);

    expect(stream.eventsOf('0')).toEqual([`put ${a}@${r5}=4`, `delete ${a}@${r6}`]);
    expect(stream.eventsOf('3')).toEqual([`delete ${a}@${r6}`]);
    expect(stream.eventsOf('4')).toEqual([`put ${a}@${r5}=4 prev=3`]);
    expect(stream.eventsOf('6')).toEqual([]);
    expect(stream.responses.filter((r) => r.watch_id === '99')).toEqual([]);
    expect(stream.responses.every((r) => !r.fragment)).toBe(true);

    // The client's half-close does not end the stream: events keep coming until it cancels.
    stream.halfClose();
    const r7 = await put(kv, a, '5');
    await stream.next((r) => r.watch_id === '0' && r.events.some((e) => e.kv.mod_revision === String(r7)));
    expect(stream.status).toBeNull();
  } finally {
    stream.close();
  }
}

/** A Watch stream over bare HTTP/2, so that pausing really stops reading (grpc-js reads on). */
class UnreadWatchStream {
  readonly responses: WatchResponse[] = [];
  private readonly session;
  private readonly stream;
  private buffered = Buffer.alloc(0);
  private readonly method: protoLoader.MethodDefinition<object, WatchResponse>;

  constructor(address: string) {
    const service = etcdPackageDefinition()['etcdserverpb.Watch'] as protoLoader.ServiceDefinition;
    this.method = service['Watch'] as protoLoader.MethodDefinition<object, WatchResponse>;
    this.session = http2Connect(`http://${address}`);
    this.session.on('error', () => {});
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.Watch/Watch',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    this.stream.on('error', () => {});
    this.stream.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  send(request: object): void {
    const message = this.method.requestSerialize(request);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    this.stream.write(Buffer.concat([prefix, message]));
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  close(): void {
    this.stream.close();
    this.session.close();
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (;;) {
      if (this.buffered.length < 5) return;
      const end = 5 + this.buffered.readUInt32BE(1);
      if (this.buffered.length < end) return;
      this.responses.push(this.method.responseDeserialize(this.buffered.subarray(5, end)));
      this.buffered = this.buffered.subarray(end);
    }
  }
}

describe('etcd Watch on raftree', () => {
  let cluster: TestCluster;
  let etcd: Etcd3;
  const streams: WatchStream[] = [];
  const unread: UnreadWatchStream[] = [];
  const extraClients: { close(): void }[] = [];
  /** Watches created on each node's state machine, to find the member serving a client. */
  const watchCalls: { node: number; options: WatchOptions }[] = [];
  const clientsOf = (index: number): EtcdRawClients => {
    const clients = etcdClients(cluster.addresses[index]!);
    extraClients.push(clients);
    return clients;
  };
  const leader = (): EtcdRawClients => clientsOf(cluster.leaderIndex());
  const follower = (): EtcdRawClients => clientsOf(cluster.followerIndex());
  const stream = (clients: EtcdRawClients, metadata?: grpc.Metadata): WatchStream => {
    const opened = new WatchStream(clients.watch, metadata);
    streams.push(opened);
    return opened;
  };

  beforeAll(async () => {
    cluster = await startCluster({
      limits: { maxRequestBytes: MAX_REQUEST_BYTES },
      extensions: () => [
        clientApiExtension(),
        coordinationExtension(),
        etcdApiExtension({
          watchProgressIntervalMs: PROGRESS_INTERVAL_MS,
          watchMaxBufferedEvents: MAX_BUFFERED_EVENTS,
        }),
      ],
    });
    cluster.nodes.forEach((node, index) => {
      const stateMachine = node!.replica.stateMachine;
      const watch = stateMachine.watch.bind(stateMachine);
      stateMachine.watch = (options) => {
        watchCalls.push({ node: index, options });
        return watch(options);
      };
    });
    etcd = new Etcd3({ hosts: cluster.addresses.map((address) => `http://${address}`) });
  }, 30_000);

  afterAll(async () => {
    for (const opened of streams) opened.close();
    for (const raw of unread) raw.close();
    etcd?.close();
    for (const clients of extraClients) clients.close();
    await cluster?.stop();
  }, 30_000);

  it('answers the raw protocol as etcd does (ids, filters, compaction, cancel, progress)', async () => {
    // Through a follower: watches are served by the member the client is connected to.
    await checkWatchProtocol(follower(), 'proto/');
  });

  it('streams puts and deletes under a prefix in order to the etcd3 client, one response per txn', async () => {
    const watcher = await etcd.watch().prefix('e3/').create();
    const seen: string[] = [];
    const responses: IWatchResponse[] = [];
    watcher.on('put', (kv: IKeyValue) =>
      seen.push(`put ${kv.key.toString()}@${kv.mod_revision}=${kv.value.toString()}`),
    );
    watcher.on('delete', (kv: IKeyValue) => seen.push(`delete ${kv.key.toString()}@${kv.mod_revision}`));
    watcher.on('data', (response: IWatchResponse) => responses.push(response));
    const r1 = Number((await etcd.put('e3/a').value('1')).header.revision);
    const txn = await etcd
      .if('e3/a', 'Value', '==', '1')
      .then(etcd.put('e3/b').value('2'), etcd.put('e3/c').value('3'))
      .commit();
    const r2 = Number(txn.header.revision);
    const r3 = Number((await etcd.delete().key('e3/a')).header.revision);
    await etcd.put('other/x').value('not watched');
    await waitFor(() => seen.length >= 4, 'four events');
    expect(seen).toEqual([`put e3/a@${r1}=1`, `put e3/b@${r2}=2`, `put e3/c@${r2}=3`, `delete e3/a@${r3}`]);
    const withTxn = responses.filter((response) =>
      response.events.some((e) => e.kv.mod_revision === String(r2)),
    );
    expect(withTxn).toHaveLength(1);
    expect(withTxn[0]!.events.filter((e) => e.kv.mod_revision === String(r2))).toHaveLength(2);
    expect(withTxn[0]!.header.revision).toBe(withTxn[0]!.events.at(-1)!.kv.mod_revision);
    await watcher.cancel();

    // History from a start revision, with previous values.
    const replay = await etcd.watch().prefix('e3/').startRevision(String(r1)).withPreviousKV().create();
    const replayed: string[] = [];
    replay.on('put', (kv: IKeyValue, previous?: IKeyValue) =>
      replayed.push(`put ${kv.key.toString()}@${kv.mod_revision} prev=${previous?.value.toString() ?? '-'}`),
    );
    replay.on('delete', (kv: IKeyValue, previous?: IKeyValue) =>
      replayed.push(
        `delete ${kv.key.toString()}@${kv.mod_revision} prev=${previous?.value.toString() ?? '-'}`,
      ),
    );
    await waitFor(() => replayed.length >= 4, 'the replayed history');
    expect(replayed).toEqual([
      `put e3/a@${r1} prev=-`,
      `put e3/b@${r2} prev=-`,
      `put e3/c@${r2} prev=-`,
      `delete e3/a@${r3} prev=1`,
    ]);
    await replay.cancel();
  });

  it('sends progress notifications to idle progress_notify watches only', async () => {
    const clients = leader();
    const watch = stream(clients);
    watch.send({ create_request: { key: text('progress/k'), progress_notify: true } });
    watch.send({ create_request: { key: text('progress/k') } });
    expect(await watch.control()).toMatchObject({ watch_id: '0', created: true });
    expect(await watch.control()).toMatchObject({ watch_id: '1', created: true });
    const idle = await watch.next((r) => r.watch_id === '0' && !r.created, PROGRESS_INTERVAL_MS * 10);
    expect(idle).toMatchObject({ canceled: false, created: false, events: [] });
    const current = revisionOf(
      await unary<{ header: { revision: string } }>(clients.kv, 'Range', { key: text('x') }),
    );
    expect(revisionOf(idle)).toBeLessThanOrEqual(current);
    const written = await put(clients.kv, 'progress/k', 'v');
    const event = await watch.next((r) => r.watch_id === '0' && r.events.length > 0);
    expect(revisionOf(event)).toBe(written);
    const after = await watch.next(
      (r) => r.watch_id === '0' && r.events.length === 0,
      PROGRESS_INTERVAL_MS * 10,
    );
    expect(revisionOf(after)).toBeGreaterThanOrEqual(written);
    // The watch without progress_notify only ever got its created reply and the event.
    expect(watch.responses.filter((r) => r.watch_id === '1').map(summary)).toEqual([
      expect.objectContaining({ created: true }),
      expect.objectContaining({ events: [`put progress/k@${written}=v`] }),
    ]);
  });

  it('serves a watch on a follower with the writes made through the leader', async () => {
    const followerIndex = cluster.followerIndex();
    const watch = stream(clientsOf(followerIndex));
    watch.send({ create_request: { key: text('follower/'), range_end: text('follower0') } });
    const created = await watch.control();
    expect(created.header.member_id).toBe(memberIdOf(cluster.nodes[followerIndex]!.config.id));
    const written = await put(leader().kv, 'follower/k', 'v');
    const event = await watch.next((r) => r.events.length > 0);
    expect(event.events.map(describeEvent)).toEqual([`put follower/k@${written}=v`]);
    expect(event.header.member_id).toBe(created.header.member_id);
  });

  it('splits a large revision into fragments only for watches that ask for them', async () => {
    const clients = leader();
    const value = Buffer.alloc(24 * 1024, 7);
    for (let i = 0; i < 4; i++) await put(clients.kv, `fragment/${i}`, value);
    const watch = stream(clients);
    watch.send({
      create_request: { key: text('fragment/'), range_end: text('fragment0'), prev_kv: true, fragment: true },
    });
    watch.send({ create_request: { key: text('fragment/'), range_end: text('fragment0'), prev_kv: true } });
    await watch.control();
    await watch.control();
    const deleted = await unary<{ header: { revision: string } }>(clients.kv, 'DeleteRange', {
      key: text('fragment/'),
      range_end: text('fragment0'),
    });
    await waitFor(
      () => watch.eventsOf('0').length === 4 && watch.eventsOf('1').length === 4,
      'the deletions',
    );
    const fragments = watch.responses.filter((r) => r.watch_id === '0' && r.events.length > 0);
    expect(fragments.length).toBeGreaterThan(1);
    expect(fragments.map((r) => r.fragment)).toEqual([...fragments.slice(1).map(() => true), false]);
    expect(fragments.every((r) => revisionOf(r) === revisionOf(deleted))).toBe(true);
    const whole = watch.responses.filter((r) => r.watch_id === '1' && r.events.length > 0);
    expect(whole.map((r) => [r.fragment, r.events.length])).toEqual([[false, 4]]);
  });

  it('restarts a watch that fell behind a slow client from history: no gap, no cancel', async () => {
    const leaderIndex = cluster.leaderIndex();
    const raw = new UnreadWatchStream(cluster.addresses[leaderIndex]!);
    unread.push(raw);
    const callsBefore = watchCalls.filter((call) => call.options.key === 'slow/').length;
    raw.send({ create_request: { key: text('slow/'), range_end: text('slow0') } });
    await waitFor(() => raw.responses.some((r) => r.created), 'the watch to be created');
    raw.pause();
    const kv = leader().kv;
    // Well past what the server lets wait unflushed (2 MiB) before it stops taking events.
    const value = Buffer.alloc(32 * 1024, 1);
    const revisions: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      revisions.push(
        ...(await Promise.all(Array.from({ length: 12 }, (_, i) => put(kv, `slow/${batch}-${i}`, value)))),
      );
    }
    // Answered only once every event up to its revision has been sent.
    raw.send({ progress_request: {} });
    raw.resume();
    await waitFor(() => raw.responses.some((r) => r.watch_id === '-1'), 'the progress reply', 15_000);
    const progressAt = raw.responses.findIndex((r) => r.watch_id === '-1');
    const received = raw.responses
      .slice(0, progressAt)
      .flatMap((r) => r.events)
      .map((event) => Number(event.kv.mod_revision));
    const last = Math.max(...revisions);
    expect(received).toEqual([...revisions].sort((x, y) => x - y));
    expect(revisionOf(raw.responses[progressAt]!)).toBeGreaterThanOrEqual(last);
    expect(raw.responses.some((r) => r.canceled)).toBe(false);
    // It was restarted (more than one state-machine watcher served it).
    expect(watchCalls.filter((call) => call.options.key === 'slow/').length - callsBefore).toBeGreaterThan(1);
  }, 30_000);

  it('resumes an etcd3 watch on another member when its member stops, without gaps or repeats', async () => {
    const followers = cluster.nodes
      .map((_, index) => index)
      .filter((index) => index !== cluster.leaderIndex() && cluster.nodes[index] !== null);
    const watching = new Etcd3({ hosts: followers.map((index) => `http://${cluster.addresses[index]}`) });
    extraClients.push(watching);
    const callsBefore = watchCalls.length;
    const watcher: Etcd3Watcher = await watching.watch().prefix('resume/').create();
    const seen: number[] = [];
    watcher.on('put', (kv: IKeyValue) => seen.push(Number(kv.mod_revision)));
    const served = watchCalls.slice(callsBefore).find((call) => call.options.key === 'resume/')!.node;
    // A raw stream on the same member sees how the stop ends it.
    const raw = stream(clientsOf(served));
    raw.send({ create_request: { key: text('resume/') } });
    await raw.control();

    const written: number[] = [];
    for (let i = 0; i < 5; i++)
      written.push(Number((await etcd.put(`resume/${i}`).value('x')).header.revision));
    await waitFor(() => seen.length >= 5, 'the first events');
    await cluster.stopNode(served);
    expect(await raw.ended()).toMatchObject({ code: grpc.status.UNAVAILABLE });
    for (let i = 5; i < 10; i++)
      written.push(Number((await etcd.put(`resume/${i}`).value('x')).header.revision));
    await waitFor(() => seen.length >= 10, 'the events after the resume', 15_000);
    await sleep(100);
    expect(seen).toEqual(written);
    const resumed = watchCalls
      .slice(callsBefore)
      .filter((call) => call.options.key === 'resume/' && call.node !== served);
    expect(resumed[0]?.options.startRevision).toBe(written[4]! + 1);
    await watcher.cancel();
  }, 30_000);

  it('ends require-leader streams with "etcdserver: no leader" once the member has none', async () => {
    const remaining = cluster.nodes.findIndex(
      (node, index) => node !== null && index !== cluster.leaderIndex(),
    );
    const clients = clientsOf(remaining);
    const requireLeader = new grpc.Metadata();
    requireLeader.set('hasleader', 'true');
    const guarded = stream(clients, requireLeader);
    const plain = stream(clients);
    guarded.send({ create_request: { key: text('leader/') } });
    plain.send({ create_request: { key: text('leader/') } });
    await guarded.control();
    await plain.control();
    await cluster.stopNode(cluster.leaderIndex());
    const status = await guarded.ended(10_000);
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'etcdserver: no leader' });
    // Without the metadata the stream stays open, served from what the member has applied.
    plain.send({ progress_request: {} });
    expect(await plain.next((r) => r.watch_id === '-1')).toMatchObject({ canceled: false });
    expect(plain.status).toBeNull();
    // And a new require-leader stream is refused at once.
    const late = stream(clients, requireLeader);
    expect(await late.ended()).toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: 'etcdserver: no leader',
    });
  }, 30_000);
});

// startRealEtcd waits for health with etcdctl, so both tools are needed (a machine may have
// only etcd-server, e.g. after `npm run bench -- --install-etcd`).
const realEtcdMissing = etcdTools().missing !== null;

describe.skipIf(realEtcdMissing)('etcd Watch on a real etcd (the expectations above)', () => {
  let etcd: RealEtcdCluster | null = null;
  let clients: EtcdRawClients | null = null;

  beforeAll(async () => {
    etcd = await startRealEtcd({ size: 1 });
    clients = etcdClients(etcd.endpoints[0]!);
  }, 30_000);

  afterAll(async () => {
    clients?.close();
    await etcd?.stop();
  });

  it('answers the raw protocol the way the raftree test expects', async () => {
    await checkWatchProtocol(clients!, 'proto/');
  });
});

if (realEtcdMissing) {
  console.warn(
    'etcd is not installed (Debian package etcd-server): the comparison with a real etcd is skipped',
  );
}
