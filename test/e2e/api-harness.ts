/**
 * In-process clusters for the client API tests, and a raw gRPC client generated from
 * proto/raftree.proto (deliberately not src/client: these tests pin the wire contract).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect as http2Connect } from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { clientApiExtension, type ClientApiOptions } from '../../src/api/index.js';
import { silentLogger } from '../../src/common/logger.js';
import { defaultLimits, type NodeConfig, type RequestLimits } from '../../src/node/node-config.js';
import { RaftreeNode, type NodeExtension } from '../../src/node/raftree-node.js';
import { findProtoFile, PROTO_LOADER_OPTIONS } from '../../src/transport/raft-proto.js';
import { freePorts } from '../support/ports.js';

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

/** A generated client: methods by proto name, typed loosely (responses are checked by the tests). */
export type RawClient = grpc.Client & Record<string, Unary>;
type ClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: object,
) => RawClient;

interface Constructors {
  KV: ClientConstructor;
  Watch: ClientConstructor;
  Cluster: ClientConstructor;
}

let constructors: Constructors | null = null;

function clientConstructors(): Constructors {
  if (constructors !== null) return constructors;
  const definition = protoLoader.loadSync(findProtoFile('raftree.proto'), PROTO_LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { raftree: { v1: Constructors } };
  constructors = loaded.raftree.v1;
  return constructors;
}

export interface ApiClients {
  readonly address: string;
  readonly kv: RawClient;
  readonly watch: RawClient;
  readonly cluster: RawClient;
}

export function connect(address: string): ApiClients {
  const c = clientConstructors();
  const credentials = grpc.credentials.createInsecure();
  const options = {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  };
  return {
    address,
    kv: new c.KV(address, credentials, options),
    watch: new c.Watch(address, credentials, options),
    cluster: new c.Cluster(address, credentials, options),
  };
}

export function closeClients(clients: ApiClients): void {
  clients.kv.close();
  clients.watch.close();
  clients.cluster.close();
}

/** One unary call; rejects with the grpc ServiceError. Every call has a deadline. */
export function unary<T = Record<string, unknown>>(
  client: RawClient,
  method: string,
  request: object,
  deadlineMs = 5000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fn = client[method];
    if (typeof fn !== 'function') throw new Error(`no method ${method}`);
    fn.call(
      client,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, response) => {
        if (error) reject(error);
        else resolve(response as T);
      },
    );
  });
}

/** The ServiceError a call failed with (fails the test if it succeeded). */
export async function callError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    const response = await promise;
    throw new Error(`expected the call to fail, got ${JSON.stringify(response)}`);
  } catch (error) {
    if (error instanceof Error && 'code' in error) return error as grpc.ServiceError;
    throw error;
  }
}

export const text = (s: string): Buffer => Buffer.from(s, 'utf8');

export interface TestCluster {
  readonly nodes: (RaftreeNode | null)[];
  readonly addresses: string[];
  readonly clients: ApiClients[];
  leaderIndex(): number;
  followerIndex(): number;
  stopNode(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly size?: number;
  readonly limits?: Partial<RequestLimits>;
  readonly api?: ClientApiOptions;
  /** The extensions each node runs (default: the native client API only); one fresh set per node. */
  readonly extensions?: () => NodeExtension[];
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A cluster of in-process nodes on free ports with fast timing; the leader is elected on return. */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const size = options.size ?? 3;
  const ports = await freePorts(size);
  const ids = ports.map((_, i) => `n${i + 1}`);
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  const peers = new Map(ids.map((id, i) => [id, addresses[i]!]));
  const dataDirs = await Promise.all(ids.map((id) => mkdtemp(join(tmpdir(), `raftree-api-${id}-`))));
  const limits: RequestLimits = { ...defaultLimits, ...options.limits };
  const nodes: (RaftreeNode | null)[] = await Promise.all(
    ids.map((id, i) => {
      const config: NodeConfig = {
        id,
        listen: addresses[i]!,
        http: null,
        peers,
        dataDir: dataDirs[i]!,
        tickMs: 10,
        electionTicks: 10,
        heartbeatTicks: 2,
        snapshotEveryEntries: 100_000,
        logLevel: 'silent',
        limits,
      };
      return RaftreeNode.start(config, {
        logger: silentLogger(),
        extensions: options.extensions?.() ?? [clientApiExtension(options.api)],
      });
    }),
  );
  const clients = addresses.map(connect);
  const leaderIndex = (): number => nodes.findIndex((node) => node !== null && node.replica.isLeader);
  const cluster: TestCluster = {
    nodes,
    addresses,
    clients,
    leaderIndex,
    followerIndex: () => {
      const leader = leaderIndex();
      return nodes.findIndex((node, i) => node !== null && i !== leader && node.replica.leaderId !== null);
    },
    async stopNode(index) {
      const node = nodes[index];
      nodes[index] = null;
      await node?.stop();
    },
    async stop() {
      for (const c of clients) closeClients(c);
      await Promise.all(nodes.map((node, i) => (node === null ? undefined : cluster.stopNode(i))));
      await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
  try {
    // A leader, and every member knowing it (so follower tests can forward at once).
    await waitFor(
      () =>
        leaderIndex() !== -1 && nodes.every((n) => n?.replica.leaderId === nodes[leaderIndex()]!.config.id),
      'a leader known to every member',
    );
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

// --- Watch streams --------------------------------------------------------------------------------

export interface WatchResponse {
  header: { clusterId: string; memberId: string; revision: number; raftTerm: number };
  watchId: number;
  created: boolean;
  canceled: boolean;
  cancelReason: string;
  compactRevision: number;
  events: {
    type: number;
    kv: { key: string; value: Buffer; modRevision: number; version: number };
    prevKv: { value: Buffer } | null;
  }[];
  progress: boolean;
}

export interface WatchSession {
  readonly call: grpc.ClientDuplexStream<object, WatchResponse>;
  readonly responses: WatchResponse[];
  /** Sends one WatchRequest. */
  send(request: object): void;
  /** Waits for the first response (not yet consumed) that matches; consumes it. */
  next(match?: (response: WatchResponse) => boolean, timeoutMs?: number): Promise<WatchResponse>;
  /** Responses for a watch that carried events, flattened. */
  events(watchId: number): WatchResponse['events'];
  close(): void;
}

export function openWatch(clients: ApiClients): WatchSession {
  const factory = clients.watch['Watch'] as unknown as () => grpc.ClientDuplexStream<object, WatchResponse>;
  const call = factory.call(clients.watch);
  const responses: WatchResponse[] = [];
  const consumed = new Set<WatchResponse>();
  call.on('data', (response: WatchResponse) => responses.push(response));
  call.on('error', () => {});
  return {
    call,
    responses,
    send: (request) => call.write(request),
    async next(match = () => true, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = responses.find((r) => !consumed.has(r) && match(r));
        if (found) {
          consumed.add(found);
          return found;
        }
        if (Date.now() > until) {
          const summary = responses.slice(-5).map((r) => ({
            watchId: r.watchId,
            created: r.created,
            canceled: r.canceled,
            cancelReason: r.cancelReason,
            progress: r.progress,
            revision: r.header.revision,
            events: r.events.map((e) => e.kv.modRevision),
          }));
          throw new Error(
            `no matching watch response within ${timeoutMs} ms; the last ones: ${JSON.stringify(summary)}`,
          );
        }
        await sleep(5);
      }
    },
    events: (watchId) => responses.filter((r) => r.watchId === watchId).flatMap((r) => r.events),
    close: () => call.cancel(),
  };
}

/**
 * A Watch stream over bare HTTP/2 whose reading really stops on pause(): grpc-js clients keep
 * reading into memory when paused, so only this exercises the server's flow control.
 */
export interface RawWatchStream {
  readonly responses: WatchResponse[];
  send(request: object): void;
  pause(): void;
  resume(): void;
  close(): void;
}

export function openRawWatch(address: string): RawWatchStream {
  const method = protoLoader.loadSync(findProtoFile('raftree.proto'), PROTO_LOADER_OPTIONS)[
    'raftree.v1.Watch'
  ] as protoLoader.ServiceDefinition | undefined;
  const watch = method!['Watch']!;
  const session = http2Connect(`http://${address}`);
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST',
    ':path': '/raftree.v1.Watch/Watch',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  const responses: WatchResponse[] = [];
  let pending = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      responses.push(watch.responseDeserialize(pending.subarray(5, 5 + length)) as WatchResponse);
      pending = pending.subarray(5 + length);
    }
  });
  return {
    responses,
    send(request) {
      const body = watch.requestSerialize(request);
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      stream.write(frame);
    },
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    close() {
      stream.close();
      session.close();
    },
  };
}
