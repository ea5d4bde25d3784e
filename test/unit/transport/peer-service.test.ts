import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/raft/types.js';
import {
  PeerTransport,
  RAFT_PEER_SERVER_OPTIONS,
  registerRaftPeerService,
} from '../../../src/transport/index.js';
import { PEER_FROM_METADATA, raftPeerService } from '../../../src/transport/raft-proto.js';
import type { RaftMessageWire, SnapshotChunkWire } from '../../../src/transport/wire-types.js';
import { bindServer, heartbeat, startPeerServer, waitFor } from './helpers.js';
import type { TestPeerServer } from './helpers.js';

const servers: TestPeerServer[] = [];
const clients: grpc.Client[] = [];
const transports: PeerTransport[] = [];

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(
  id: NodeId,
  service: Parameters<typeof startPeerServer>[1] = {},
): Promise<TestPeerServer> {
  const server = await startPeerServer(id, service);
  servers.push(server);
  return server;
}

function rawClient(address: string): grpc.Client {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0 });
  clients.push(client);
  return client;
}

/**
 * Opens a client stream on `path`, writes the given frames (already-serialized bytes, so they
 * can be garbage), half-closes, and resolves with the final status code.
 */
function streamRawFrames(
  client: grpc.Client,
  path: string,
  frames: readonly Buffer[],
  metadata = new grpc.Metadata(),
): Promise<grpc.status> {
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest<Buffer, Buffer>(
      path,
      (frame) => frame,
      (frame) => frame,
      metadata,
      { deadline: Date.now() + 5_000 },
      (error) => resolve(error ? error.code : grpc.status.OK),
    );
    call.on('error', () => {});
    for (const frame of frames) call.write(frame);
    call.end();
  });
}

const SEND_PATH = '/raftree.raft.RaftPeer/Send';
const SNAPSHOT_PATH = '/raftree.raft.RaftPeer/InstallSnapshot';

function batchFrame(messages: readonly Record<string, unknown>[]): Buffer {
  return raftPeerService().Send.requestSerialize({ messages: messages as unknown as RaftMessageWire[] });
}

function chunkFrame(chunk: Partial<SnapshotChunkWire>): Buffer {
  return raftPeerService().InstallSnapshot.requestSerialize({
    header: null,
    offset: 0,
    data: new Uint8Array(0),
    ...chunk,
  });
}

const validHeader = (to: NodeId, totalBytes: number): SnapshotChunkWire['header'] => ({
  from: 'n1',
  to,
  term: 2,
  meta: { index: 10, term: 2, conf: { voters: ['n1', to], learners: [] } },
  totalBytes,
});

/** Proves the server still works: a real transport delivers a message end to end. */
async function expectStillServing(server: TestPeerServer): Promise<void> {
  const sender = new PeerTransport({ selfId: 'n1', peers: new Map([[server.id, server.address]]) });
  transports.push(sender);
  const before = server.received.length;
  sender.send([heartbeat('n1', server.id, 4242)]);
  await waitFor(() => server.received.length === before + 1, 5_000, 'delivery after bad input');
  expect(server.received.at(-1)).toStrictEqual(heartbeat('n1', server.id, 4242));
}

describe('RaftPeer service under bad input', () => {
  it('survives random bytes on a raw TCP connection', { timeout: 10_000 }, async () => {
    const n2 = await serve('n2');
    for (const prefix of [Buffer.alloc(0), Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')]) {
      await new Promise<void>((resolve) => {
        const socket = connect(n2.port, '127.0.0.1', () => {
          socket.write(Buffer.concat([prefix, randomBytes(64 * 1024)]));
          setTimeout(() => socket.destroy(), 100);
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve());
      });
    }
    await expectStillServing(n2);
  });

  it('ends a stream of undecodable protobuf with INVALID_ARGUMENT', { timeout: 10_000 }, async () => {
    const n2 = await serve('n2');
    const client = rawClient(n2.address);
    // A length-delimited field whose length runs past the end of the frame.
    const truncated = Buffer.from([0x0a, 0x40, 0x0a, 0x02]);
    expect(await streamRawFrames(client, SEND_PATH, [truncated])).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await streamRawFrames(client, SNAPSHOT_PATH, [truncated])).toBe(grpc.status.INVALID_ARGUMENT);
    expect(n2.handle.stats().rejectedStreams).toBe(2);
    expect(n2.received).toHaveLength(0);
    await expectStillServing(n2);
  });

  it(
    'rejects a well-formed batch holding an invalid message, delivering none of it',
    { timeout: 10_000 },
    async () => {
      const n2 = await serve('n2');
      const client = rawClient(n2.address);
      const good = { from: 'n1', to: 'n2', term: 1, heartbeat: { commit: 1, readContext: 0 } };
      const invalid: Record<string, unknown>[] = [
        { from: 'n1', to: 'n2', term: 1 }, // no body
        { from: 'n1', to: 'n2', term: 2 ** 60, timeoutNow: {} }, // beyond 2^53
        { from: '', to: 'n2', term: 1, timeoutNow: {} },
        {
          from: 'n1',
          to: 'n2',
          term: 1,
          append: {
            prevLogIndex: 1,
            prevLogTerm: 1,
            commit: 0,
            entries: [{ index: 5, term: 1, type: 0, data: new Uint8Array(0) }],
          },
        },
      ];
      for (const bad of invalid) {
        expect(await streamRawFrames(client, SEND_PATH, [batchFrame([good, bad])])).toBe(
          grpc.status.INVALID_ARGUMENT,
        );
      }
      expect(n2.received).toHaveLength(0);
      // Well-formed frames on the same raw path are fine (an empty batch too).
      expect(await streamRawFrames(client, SEND_PATH, [batchFrame([]), batchFrame([good])])).toBe(
        grpc.status.OK,
      );
      expect(n2.received).toHaveLength(1);
      await expectStillServing(n2);
    },
  );

  it('refuses bad snapshot streams with the right status codes', { timeout: 10_000 }, async () => {
    const n2 = await serve('n2', { service: { maxSnapshotBytes: 1024 } });
    const client = rawClient(n2.address);
    const cases: [string, Buffer[], grpc.status][] = [
      ['no header', [chunkFrame({ data: new Uint8Array(4) })], grpc.status.INVALID_ARGUMENT],
      ['ends before any chunk', [], grpc.status.INVALID_ARGUMENT],
      ['for another node', [chunkFrame({ header: validHeader('n3', 0) })], grpc.status.FAILED_PRECONDITION],
      ['too large', [chunkFrame({ header: validHeader('n2', 4096) })], grpc.status.RESOURCE_EXHAUSTED],
      [
        'truncated',
        [chunkFrame({ header: validHeader('n2', 8), data: new Uint8Array(4) })],
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        'a gap',
        [
          chunkFrame({ header: validHeader('n2', 8), data: new Uint8Array(2) }),
          chunkFrame({ offset: 4, data: new Uint8Array(4) }),
        ],
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        'a second header',
        [
          chunkFrame({ header: validHeader('n2', 8), data: new Uint8Array(4) }),
          chunkFrame({ header: validHeader('n2', 8), offset: 4, data: new Uint8Array(4) }),
        ],
        grpc.status.INVALID_ARGUMENT,
      ],
    ];
    for (const [name, frames, expected] of cases) {
      expect({ name, code: await streamRawFrames(client, SNAPSHOT_PATH, frames) }).toEqual({
        name,
        code: expected,
      });
    }
    expect(n2.received).toHaveLength(0);

    const good = [
      chunkFrame({ header: validHeader('n2', 6), data: Uint8Array.of(1, 2, 3) }),
      chunkFrame({ offset: 3, data: Uint8Array.of(4, 5, 6) }),
    ];
    expect(await streamRawFrames(client, SNAPSHOT_PATH, good)).toBe(grpc.status.OK);
    expect(n2.received).toStrictEqual([
      {
        type: 'snapshot',
        from: 'n1',
        to: 'n2',
        term: 2,
        snapshot: {
          meta: { index: 10, term: 2, conf: { voters: ['n1', 'n2'], learners: [] } },
          data: Uint8Array.of(1, 2, 3, 4, 5, 6),
        },
      },
    ]);
    await expectStillServing(n2);
  });

  it('contains a throwing onMessage', { timeout: 10_000 }, async () => {
    let calls = 0;
    const n2 = await serve('n2', {
      service: {
        onMessage: () => {
          calls += 1;
          throw new Error('core bug');
        },
      },
    });
    const sender = new PeerTransport({ selfId: 'n1', peers: new Map([['n2', n2.address]]) });
    transports.push(sender);
    sender.send([heartbeat('n1', 'n2', 1), heartbeat('n1', 'n2', 2)]);
    await waitFor(() => calls === 2, 5_000, 'both deliveries');
    expect(n2.handle.stats().deliveryErrors).toBe(2);
    expect(sender.stats().peers['n2']!.streamFailures).toBe(0);
  });

  it(
    'reports only plausible peer ids from Send stream headers, and contains a throwing listener',
    { timeout: 10_000 },
    async () => {
      const announced: string[] = [];
      const n2 = await serve('n2', {
        service: {
          onPeerStream: (from) => {
            announced.push(from);
            throw new Error('listener bug');
          },
        },
      });
      const client = rawClient(n2.address);
      const withFrom = (...values: (string | Buffer)[]): grpc.Metadata => {
        const metadata = new grpc.Metadata();
        for (const value of values) {
          metadata.add(typeof value === 'string' ? PEER_FROM_METADATA : `${PEER_FROM_METADATA}-bin`, value);
        }
        return metadata;
      };
      for (const metadata of [
        new grpc.Metadata(), // no header
        withFrom(''),
        withFrom('n2'), // claims to be the receiver
        withFrom('x'.repeat(300)),
        withFrom(Buffer.from('n1')), // a binary header is another key
        withFrom('n3'),
      ]) {
        expect(await streamRawFrames(client, SEND_PATH, [], metadata)).toBe(grpc.status.OK);
      }
      expect(announced).toEqual(['n3']);
      await expectStillServing(n2);
    },
  );

  it('close() ends open peer streams so tryShutdown completes', { timeout: 10_000 }, async () => {
    const server = new grpc.Server(RAFT_PEER_SERVER_OPTIONS);
    const handle = registerRaftPeerService(server, { selfId: 'n2', onMessage: () => {} });
    const port = await bindServer(server, '127.0.0.1:0');
    const sender = new PeerTransport({ selfId: 'n1', peers: new Map([['n2', `127.0.0.1:${port}`]]) });
    transports.push(sender);
    try {
      sender.send([heartbeat('n1', 'n2', 1)]);
      await waitFor(() => handle.stats().receivedByPeer['n1'] === 1, 5_000, 'an open stream');
      const started = performance.now();
      handle.close();
      await new Promise<void>((resolve, reject) =>
        server.tryShutdown((error) => (error ? reject(error) : resolve())),
      );
      // Without close() the sender's long-lived stream keeps tryShutdown waiting.
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      server.forceShutdown();
    }
  });
});
