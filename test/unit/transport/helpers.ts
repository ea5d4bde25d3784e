/** Shared fixtures for the transport tests: loopback servers, waiting, one of every message. */
import * as grpc from '@grpc/grpc-js';
import { EntryType } from '../../../src/raft/types.js';
import type { Message, NodeId } from '../../../src/raft/types.js';
import { RAFT_PEER_SERVER_OPTIONS, registerRaftPeerService } from '../../../src/transport/index.js';
import type { RaftPeerServiceHandle, RaftPeerServiceOptions } from '../../../src/transport/index.js';

export interface TestPeerServer {
  readonly id: NodeId;
  readonly port: number;
  readonly address: string;
  readonly server: grpc.Server;
  readonly handle: RaftPeerServiceHandle;
  readonly received: Message[];
  stop(): Promise<void>;
}

export function bindServer(server: grpc.Server, hostPort: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(hostPort, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) reject(error);
      else resolve(port);
    });
  });
}

/**
 * A grpc server on 127.0.0.1 with only the peer service, recording what it receives. Pass a
 * port to rebind a known (previously reserved) port; the default asks the OS for a free one.
 */
export async function startPeerServer(
  id: NodeId,
  options: { port?: number; service?: Partial<RaftPeerServiceOptions> } = {},
): Promise<TestPeerServer> {
  const server = new grpc.Server(RAFT_PEER_SERVER_OPTIONS);
  const received: Message[] = [];
  const handle = registerRaftPeerService(server, {
    selfId: id,
    onMessage: (message) => received.push(message),
    ...options.service,
  });
  const port = await bindServer(server, `127.0.0.1:${options.port ?? 0}`);
  let stopped = false;
  return {
    id,
    port,
    address: `127.0.0.1:${port}`,
    server,
    handle,
    received,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      handle.close();
      server.forceShutdown();
    },
  };
}

/** A port nobody listens on right now (bound, then released). */
export async function reservePort(): Promise<number> {
  const server = new grpc.Server();
  const port = await bindServer(server, '127.0.0.1:0');
  server.forceShutdown();
  return port;
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** One of every message type, with the awkward values: empty lists, null-ish zeros, 2^53 - 1. */
export function everyMessageType(from: NodeId, to: NodeId): Message[] {
  const big = Number.MAX_SAFE_INTEGER;
  return [
    { type: 'vote', from, to, term: 7, lastLogIndex: 42, lastLogTerm: 6, transfer: false },
    { type: 'vote', from, to, term: 8, lastLogIndex: 0, lastLogTerm: 0, transfer: true },
    { type: 'preVote', from, to, term: 9, lastLogIndex: big, lastLogTerm: big, transfer: false },
    { type: 'voteResp', from, to, term: 7, reject: false },
    { type: 'voteResp', from, to, term: 7, reject: true },
    { type: 'preVoteResp', from, to, term: 0, reject: true },
    {
      type: 'append',
      from,
      to,
      term: 3,
      prevLogIndex: 10,
      prevLogTerm: 2,
      entries: [],
      commit: 9,
      commitOnly: false,
    },
    {
      type: 'append',
      from,
      to,
      term: 3,
      prevLogIndex: 13,
      prevLogTerm: 3,
      entries: [],
      commit: 13,
      commitOnly: true,
    },
    {
      type: 'append',
      from,
      to,
      term: 3,
      prevLogIndex: 10,
      prevLogTerm: 2,
      entries: [
        { index: 11, term: 3, type: EntryType.Normal, data: new Uint8Array(0) },
        { index: 12, term: 3, type: EntryType.Normal, data: bytes(0, 1, 2, 255, 254) },
        {
          index: 13,
          term: 3,
          type: EntryType.ConfChange,
          data: new TextEncoder().encode('{"type":"addVoter"}'),
        },
      ],
      commit: 11,
      commitOnly: false,
    },
    {
      type: 'append',
      from,
      to,
      term: big,
      prevLogIndex: big - 2,
      prevLogTerm: big,
      entries: [
        { index: big - 1, term: big, type: EntryType.Normal, data: bytes(1) },
        { index: big, term: big, type: EntryType.Normal, data: bytes(2) },
      ],
      commit: big,
      commitOnly: false,
    },
    {
      type: 'appendResp',
      from,
      to,
      term: 3,
      reject: false,
      index: 13,
      rejectHintIndex: 0,
      rejectHintTerm: 0,
    },
    { type: 'appendResp', from, to, term: 3, reject: true, index: 10, rejectHintIndex: 5, rejectHintTerm: 2 },
    { type: 'heartbeat', from, to, term: 4, commit: 100, readContext: 0 },
    { type: 'heartbeat', from, to, term: 4, commit: 100, readContext: 17 },
    { type: 'heartbeatResp', from, to, term: 4, readContext: 17 },
    {
      type: 'snapshot',
      from,
      to,
      term: 5,
      snapshot: {
        meta: { index: 500, term: 4, conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } },
        data: bytes(9, 8, 7, 6, 5),
      },
    },
    {
      type: 'snapshot',
      from,
      to,
      term: 6,
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) },
    },
    { type: 'timeoutNow', from, to, term: 5 },
    { type: 'readIndex', from, to, term: 5, requestIds: [] },
    { type: 'readIndex', from, to, term: 5, requestIds: ['r-1', 'r-2', 'ünïcødé-✓'] },
    { type: 'readIndexResp', from, to, term: 5, requestIds: ['r-1'], index: 99, reject: false },
    { type: 'readIndexResp', from, to, term: 5, requestIds: ['r-2'], index: 0, reject: true },
    { type: 'propose', from, to, term: 6, proposalId: 1, commands: [bytes(1, 2, 3), new Uint8Array(0)] },
    { type: 'propose', from, to, term: big, proposalId: big, commands: [] },
    { type: 'proposeResp', from, to, term: 6, proposalId: 1, index: 42, reject: false },
    { type: 'proposeResp', from, to, term: 6, proposalId: 2, index: 0, reject: true },
  ];
}

/** Keyed by type so that adding a Message type to the core fails to compile here. */
const MESSAGE_TYPES: Record<Message['type'], true> = {
  vote: true,
  preVote: true,
  voteResp: true,
  preVoteResp: true,
  append: true,
  appendResp: true,
  heartbeat: true,
  heartbeatResp: true,
  snapshot: true,
  timeoutNow: true,
  readIndex: true,
  readIndexResp: true,
  propose: true,
  proposeResp: true,
};
export const ALL_MESSAGE_TYPES = Object.keys(MESSAGE_TYPES) as Message['type'][];

export function heartbeat(from: NodeId, to: NodeId, commit: number): Message {
  return { type: 'heartbeat', from, to, term: 1, commit, readContext: 0 };
}
