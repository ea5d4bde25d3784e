import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, NodeId } from '../../../src/raft/types.js';
import { PeerTransport, TransportUsageError } from '../../../src/transport/index.js';
import type { PeerTransportOptions } from '../../../src/transport/index.js';
import { everyMessageType, heartbeat, reservePort, startPeerServer, waitFor } from './helpers.js';
import type { TestPeerServer } from './helpers.js';

/** Quick reconnects keep the tests short; the production cap is 1 s. */
const FAST_BACKOFF = { baseMs: 10, maxMs: 100 };

const servers: TestPeerServer[] = [];
const transports: PeerTransport[] = [];

async function serve(id: NodeId, port?: number): Promise<TestPeerServer> {
  const server = await startPeerServer(id, port === undefined ? {} : { port });
  servers.push(server);
  return server;
}

function transport(
  options: Partial<PeerTransportOptions> & { peers: ReadonlyMap<NodeId, string> },
): PeerTransport {
  const created = new PeerTransport({ selfId: 'n1', backoff: FAST_BACKOFF, ...options });
  transports.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

describe('PeerTransport over loopback gRPC', () => {
  it('delivers every message type field for field', { timeout: 10_000 }, async () => {
    const n2 = await serve('n2');
    const snapshotResults: [NodeId, boolean][] = [];
    const sender = transport({
      peers: new Map([['n2', n2.address]]),
      // Any pino logger fits the logger option.
      logger: pino({ level: 'silent' }),
      onSnapshotResult: (peer, ok) => snapshotResults.push([peer, ok]),
    });
    const messages = everyMessageType('n1', 'n2');
    sender.send(messages);
    await waitFor(() => n2.received.length === messages.length, 5_000, 'all messages');
    await waitFor(() => snapshotResults.length === 2, 5_000, 'snapshot results');

    // Snapshots take their own RPC, so compare the two kinds separately, each in order.
    const streamed = (list: Message[]): Message[] => list.filter((m) => m.type !== 'snapshot');
    const snapshots = (list: Message[]): Message[] => list.filter((m) => m.type === 'snapshot');
    expect(streamed(n2.received)).toStrictEqual(streamed(messages));
    // Two snapshots to one peer: the second waits for the first, so order holds here too.
    expect(snapshots(n2.received)).toStrictEqual(snapshots(messages));
    expect(snapshotResults).toEqual([
      ['n2', true],
      ['n2', true],
    ]);
    expect(n2.handle.stats().receivedByPeer).toEqual({ n1: messages.length });
    const stats = sender.stats().peers['n2']!;
    expect(stats.sent).toBe(messages.length - 2);
    expect(stats.snapshotsSent).toBe(2);
    expect(stats.dropped).toBe(0);
    expect(stats.state).toBe('open');
  });

  it('keeps many messages to one peer in order, across many batches', { timeout: 15_000 }, async () => {
    const n2 = await serve('n2');
    const sender = transport({ peers: new Map([['n2', n2.address]]), limits: { maxBatchMessages: 64 } });
    const total = 20_000;
    // In several send() calls and event-loop turns, like a running node.
    for (let sent = 0; sent < total; sent += 1_000) {
      sender.send(Array.from({ length: 1_000 }, (_, i) => heartbeat('n1', 'n2', sent + i)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => n2.received.length === total, 10_000, `${total} messages`);
    const commits = n2.received.map((m) => (m.type === 'heartbeat' ? m.commit : -1));
    expect(commits).toEqual(Array.from({ length: total }, (_, i) => i));
    const stats = sender.stats().peers['n2']!;
    expect(stats.dropped).toBe(0);
    expect(stats.batches).toBeGreaterThanOrEqual(total / 64);
  });

  it('routes to several peers independently', { timeout: 10_000 }, async () => {
    const [n2, n3] = await Promise.all([serve('n2'), serve('n3')]);
    const sender = transport({
      peers: new Map([
        ['n1', 'ignored:1'],
        ['n2', n2.address],
        ['n3', n3.address],
      ]),
    });
    sender.send([heartbeat('n1', 'n2', 1), heartbeat('n1', 'n3', 2), heartbeat('n1', 'n2', 3)]);
    await waitFor(() => n2.received.length === 2 && n3.received.length === 1, 5_000, 'both peers');
    expect(n3.received).toStrictEqual([heartbeat('n1', 'n3', 2)]);
    expect(Object.keys(sender.stats().peers).sort()).toEqual(['n2', 'n3']);
  });

  it('writes at once with `now`, on the next turn without it', { timeout: 10_000 }, async () => {
    const [n2, n3] = await Promise.all([serve('n2'), serve('n3')]);
    const sender = transport({
      peers: new Map([
        ['n2', n2.address],
        ['n3', n3.address],
      ]),
    });
    const sent = (peer: NodeId): number => sender.stats().peers[peer]!.sent;
    // Open both streams first: a link writes only once its stream is open.
    sender.send([heartbeat('n1', 'n2', 0), heartbeat('n1', 'n3', 0)]);
    await waitFor(() => n2.received.length === 1 && n3.received.length === 1, 5_000, 'streams open');

    sender.send([heartbeat('n1', 'n2', 1), heartbeat('n1', 'n3', 1)]);
    expect([sent('n2'), sent('n3')]).toEqual([1, 1]); // queued, written on the next turn
    sender.send([heartbeat('n1', 'n2', 2), heartbeat('n1', 'n3', 2), heartbeat('n1', 'n2', 3)], {
      now: true,
    });
    // Everything queued for the links this send touched, in order, before send returned.
    expect([sent('n2'), sent('n3')]).toEqual([4, 3]);
    await waitFor(() => n2.received.length === 4 && n3.received.length === 3, 5_000, 'all delivered');
    expect(n2.received.map((m) => (m.type === 'heartbeat' ? m.commit : -1))).toEqual([0, 1, 2, 3]);
  });
  it('delivers a 20 MiB snapshot intact, in chunks', { timeout: 15_000 }, async () => {
    const n2 = await serve('n2');
    const results: boolean[] = [];
    const sender = transport({
      peers: new Map([['n2', n2.address]]),
      onSnapshotResult: (_peer, ok) => results.push(ok),
    });
    const size = 20 * 1024 * 1024;
    const data = new Uint8Array(size);
    // A pattern that catches misplaced or repeated chunks, not just a wrong length.
    for (let i = 0; i < size; i += 4) {
      data[i] = i & 0xff;
      data[i + 1] = (i >>> 8) & 0xff;
      data[i + 2] = (i >>> 16) & 0xff;
      data[i + 3] = (i >>> 24) & 0xff;
    }
    const snapshot: Message = {
      type: 'snapshot',
      from: 'n1',
      to: 'n2',
      term: 9,
      snapshot: {
        meta: { index: 123_456, term: 8, conf: { voters: ['n1', 'n2', 'n3'], learners: [] } },
        data,
      },
    };
    const started = performance.now();
    sender.send([snapshot, heartbeat('n1', 'n2', 1)]);
    await waitFor(() => results.length === 1, 10_000, 'snapshot result');
    const elapsedMs = performance.now() - started;
    expect(results).toEqual([true]);
    const delivered = n2.received.find((m) => m.type === 'snapshot');
    expect(delivered).toBeDefined();
    if (delivered?.type !== 'snapshot') throw new Error('unreachable');
    expect(delivered.snapshot.meta).toStrictEqual(snapshot.snapshot.meta);
    expect(delivered.snapshot.data.byteLength).toBe(size);
    expect(delivered.snapshot.data.constructor).toBe(Uint8Array);
    expect(Buffer.compare(delivered.snapshot.data, data)).toBe(0);
    // The heartbeat did not wait behind the snapshot's chunks.
    expect(n2.received.some((m) => m.type === 'heartbeat')).toBe(true);
    expect(elapsedMs).toBeLessThan(10_000);
  });

  it(
    'never blocks on a down peer: bounded queue, counted drops, then resumes when it comes up',
    { timeout: 15_000 },
    async () => {
      const port = await reservePort();
      const unreachable: NodeId[] = [];
      const snapshotResults: boolean[] = [];
      const sender = transport({
        peers: new Map([['n2', `127.0.0.1:${port}`]]),
        limits: { maxQueueMessages: 100 },
        onUnreachable: (peer) => unreachable.push(peer),
        onSnapshotResult: (_peer, ok) => snapshotResults.push(ok),
      });

      const total = 10_000;
      const started = performance.now();
      for (let i = 0; i < total; i += 1) sender.send([heartbeat('n1', 'n2', i)]);
      const sendMs = performance.now() - started;
      expect(sendMs).toBeLessThan(500);

      // While connecting the queue is bounded; once the connection fails the peer counts as
      // down and what was queued is dropped. Raft keeps talking, which drives reconnects.
      await waitFor(() => unreachable.length >= 1, 5_000, 'unreachable report');
      let stats = sender.stats().peers['n2']!;
      expect(stats.queuedMessages).toBe(0);
      expect(stats.dropped).toBe(total);
      expect(stats.droppedQueueFull).toBe(total - 100);
      expect(stats.droppedPeerDown).toBe(100);
      let commit = total;
      const keepTalking = setInterval(() => sender.send([heartbeat('n1', 'n2', commit++)]), 20);
      try {
        await waitFor(() => unreachable.length >= 2, 5_000, 'repeated unreachable reports');
      } finally {
        clearInterval(keepTalking);
      }
      stats = sender.stats().peers['n2']!;
      expect(stats.sent).toBe(0);
      expect(stats.streamFailures).toBeGreaterThanOrEqual(2);
      expect(stats.dropped).toBe(commit);
      expect(['idle', 'connecting', 'backoff']).toContain(stats.state);

      // A snapshot to a down peer fails (and says so) instead of hanging.
      sender.send([
        {
          type: 'snapshot',
          from: 'n1',
          to: 'n2',
          term: 1,
          snapshot: {
            meta: { index: 1, term: 1, conf: { voters: ['n1'], learners: [] } },
            data: new Uint8Array(10),
          },
        },
      ]);
      await waitFor(() => snapshotResults.length === 1, 5_000, 'snapshot failure report');
      expect(snapshotResults).toEqual([false]);

      // The peer comes up on the same address: nothing stale is replayed, new messages flow.
      const n2 = await serve('n2', port);
      const deadline = Date.now() + 5_000;
      while (n2.received.length === 0 && Date.now() < deadline) {
        sender.send([heartbeat('n1', 'n2', commit++)]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const commits = n2.received.map((m) => (m.type === 'heartbeat' ? m.commit : -1));
      expect(commits.length).toBeGreaterThan(0);
      expect(Math.min(...commits)).toBeGreaterThanOrEqual(total);
      stats = sender.stats().peers['n2']!;
      expect(stats.state).toBe('open');
      expect(stats.queuedMessages).toBe(0);
    },
  );

  it(
    'says a peer is reachable until its stream fails, and again once a reconnect succeeds',
    { timeout: 15_000 },
    async () => {
      let n2 = await serve('n2');
      const port = n2.port;
      const sender = transport({ peers: new Map([['n2', n2.address]]) });
      expect(sender.isReachable('n2')).toBe(true); // never tried: worth a try
      expect(sender.isReachable('n9')).toBe(false); // unknown
      sender.send([heartbeat('n1', 'n2', 1)]);
      await waitFor(() => n2.received.length === 1, 5_000, 'first message');
      expect(sender.isReachable('n2')).toBe(true);

      n2.server.forceShutdown();
      await waitFor(() => !sender.isReachable('n2'), 5_000, 'the failure to be noticed');
      // Between reconnect attempts (backoff, then idle, then a failing attempt) it stays unreachable.
      for (let i = 0; i < 10; i++) {
        sender.send([heartbeat('n1', 'n2', 2)]);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(sender.isReachable('n2')).toBe(false);
      }
      n2 = await serve('n2', port);
      await waitFor(
        () => {
          sender.send([heartbeat('n1', 'n2', 3)]);
          return sender.isReachable('n2');
        },
        5_000,
        'the reconnect',
      );
      expect(sender.stats().peers['n2']!.state).toBe('open');
    },
  );

  it('reconnects after the peer restarts', { timeout: 15_000 }, async () => {
    let n2 = await serve('n2');
    const port = n2.port;
    const sender = transport({ peers: new Map([['n2', n2.address]]) });
    sender.send([heartbeat('n1', 'n2', 1)]);
    await waitFor(() => n2.received.length === 1, 5_000, 'first message');

    // Abruptly, like kill -9: no goodbye on the open stream.
    n2.server.forceShutdown();
    await waitFor(() => sender.stats().peers['n2']!.state !== 'open', 5_000, 'the stream to notice');
    n2 = await serve('n2', port);
    // Raft keeps sending; some of these may be lost while the link comes back, none out of order.
    const deadline = Date.now() + 5_000;
    let commit = 2;
    while (n2.received.length === 0 && Date.now() < deadline) {
      sender.send([heartbeat('n1', 'n2', commit++)]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(n2.received.length).toBeGreaterThan(0);
    const commits = n2.received.map((m) => (m.type === 'heartbeat' ? m.commit : -1));
    expect(commits).toEqual([...commits].sort((a, b) => a - b));
  });

  it(
    'connects without waiting for a message, naming itself, and the peer service reports it up',
    { timeout: 10_000 },
    async () => {
      const announced: NodeId[] = [];
      const n2 = await startPeerServer('n2', { service: { onPeerStream: (from) => announced.push(from) } });
      servers.push(n2);
      const sender = transport({ peers: new Map([['n2', n2.address]]) });
      expect(sender.stats().peers['n2']!.state).toBe('idle');
      sender.connectAll();
      await waitFor(() => sender.stats().peers['n2']!.state === 'open', 5_000, 'the eager stream');
      await waitFor(() => announced.length === 1, 5_000, 'the announcement');
      expect(announced).toEqual(['n1']);
      expect(n2.received).toEqual([]);
    },
  );

  it(
    'a link resting in a long backoff reconnects at once when the peer says it is up',
    { timeout: 10_000 },
    async () => {
      const port = await reservePort();
      // Long enough that only peerIsUp can explain a delivery within the wait below.
      const sender = transport({
        peers: new Map([['n2', `127.0.0.1:${port}`]]),
        backoff: { baseMs: 20_000, maxMs: 20_000 },
      });
      sender.send([heartbeat('n1', 'n2', 1)]);
      await waitFor(() => sender.stats().peers['n2']!.state === 'backoff', 5_000, 'the failure');
      const n2 = await serve('n2', port);
      sender.send([heartbeat('n1', 'n2', 2)]);
      expect(sender.stats().peers['n2']!.droppedPeerDown).toBe(2);

      sender.peerIsUp('n9'); // unknown: ignored
      sender.peerIsUp('n2');
      await waitFor(() => sender.stats().peers['n2']!.state === 'open', 3_000, 'the reconnect');
      sender.send([heartbeat('n1', 'n2', 3)]);
      await waitFor(() => n2.received.length === 1, 3_000, 'delivery after the reconnect');
      expect(n2.received).toStrictEqual([heartbeat('n1', 'n2', 3)]);

      // An open link is left alone.
      sender.peerIsUp('n2');
      expect(sender.stats().peers['n2']!.state).toBe('open');
      sender.send([heartbeat('n1', 'n2', 4)]);
      await waitFor(() => n2.received.length === 2, 3_000, 'delivery on the same stream');
      expect(sender.stats().peers['n2']!.streamFailures).toBe(1);
    },
  );

  it(
    'drops messages to unknown peers and logs once; throws on messages to itself',
    { timeout: 5_000 },
    async () => {
      const warnings: string[] = [];
      const logger = {
        debug: () => {},
        info: () => {},
        warn: (_fields: object, message?: string) => warnings.push(message ?? ''),
        error: () => {},
      };
      const sender = transport({ peers: new Map(), logger });
      sender.send([heartbeat('n1', 'n9', 1), heartbeat('n1', 'n9', 2)]);
      expect(sender.stats().droppedUnknownPeer).toBe(2);
      expect(warnings.filter((w) => w.includes('no known address'))).toHaveLength(1);

      expect(() => sender.send([heartbeat('n1', 'n1', 1)])).toThrow(TransportUsageError);
      expect(() => sender.send([heartbeat('n7', 'n2', 1)])).toThrow(TransportUsageError);
    },
  );

  it(
    'setPeers adds, re-addresses and removes peers without losing counters',
    { timeout: 10_000 },
    async () => {
      const [first, second] = await Promise.all([serve('n2'), serve('n2')]);
      const sender = transport({ peers: new Map() });
      sender.send([heartbeat('n1', 'n2', 1)]);
      expect(sender.stats().droppedUnknownPeer).toBe(1);

      sender.setPeers(new Map([['n2', first.address]]));
      sender.send([heartbeat('n1', 'n2', 2)]);
      await waitFor(() => first.received.length === 1, 5_000, 'delivery to the first address');

      sender.setPeers(new Map([['n2', second.address]]));
      sender.send([heartbeat('n1', 'n2', 3)]);
      await waitFor(() => second.received.length === 1, 5_000, 'delivery to the new address');
      expect(sender.stats().peers['n2']!.sent).toBe(2);

      sender.setPeers(new Map());
      sender.send([heartbeat('n1', 'n2', 4)]);
      const stats = sender.stats();
      expect(stats.droppedUnknownPeer).toBe(2);
      expect(stats.peers['n2']).toMatchObject({ state: 'removed', address: null, sent: 2 });
    },
  );

  it('ignores messages for another node without dropping the stream', { timeout: 10_000 }, async () => {
    const n2 = await serve('n2');
    // The sender believes n3 lives at n2's address (stale configuration).
    const sender = transport({
      peers: new Map([
        ['n2', n2.address],
        ['n3', n2.address],
      ]),
    });
    sender.send([heartbeat('n1', 'n3', 1), heartbeat('n1', 'n2', 2)]);
    await waitFor(() => n2.received.length === 1, 5_000, 'the message addressed to n2');
    expect(n2.received).toStrictEqual([heartbeat('n1', 'n2', 2)]);
    expect(n2.handle.stats().misrouted).toBe(1);
    expect(sender.stats().peers['n3']!.streamFailures).toBe(0);
  });

  it('drops a single message too large for the receiver, and keeps going', { timeout: 10_000 }, async () => {
    const n2 = await serve('n2');
    const sender = transport({ peers: new Map([['n2', n2.address]]), limits: { maxMessageBytes: 4_096 } });
    const append = (size: number): Message => ({
      type: 'append',
      from: 'n1',
      to: 'n2',
      term: 1,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array(size) }],
      commit: 0,
      commitOnly: false,
    });
    sender.send([append(10_000), append(1_000)]);
    await waitFor(() => n2.received.length === 1, 5_000, 'the small append');
    expect(n2.received).toStrictEqual([append(1_000)]);
    expect(sender.stats().peers['n2']).toMatchObject({ dropped: 1, droppedOversize: 1, sent: 1 });
  });

  it(
    'close() is prompt even with a peer that is down, and later sends are dropped',
    { timeout: 5_000 },
    async () => {
      const port = await reservePort();
      const sender = transport({ peers: new Map([['n2', `127.0.0.1:${port}`]]) });
      sender.send([heartbeat('n1', 'n2', 1)]);
      const started = performance.now();
      await sender.close();
      expect(performance.now() - started).toBeLessThan(2_000);
      sender.send([heartbeat('n1', 'n2', 2)]);
      expect(sender.stats().droppedAfterClose).toBe(1);
      expect(sender.stats().peers['n2']!.droppedOnClose).toBe(1);
    },
  );
});
