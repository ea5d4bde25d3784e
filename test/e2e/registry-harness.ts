/**
 * In-process clusters with the service registry (gRPC + HTTP side port), a raw Registry gRPC
 * client generated from proto/registry.proto (the wire contract), and real local check targets:
 * an HTTP server, a TCP port and a gRPC health server that can be made to fail and recover.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { clientApiExtension } from '../../src/api/index.js';
import { silentLogger } from '../../src/common/logger.js';
import { healthServiceDefinition, type ServingStatus } from '../../src/health/index.js';
import { httpExtension, type HttpExtension } from '../../src/http/index.js';
import { defaultLimits, type NodeConfig } from '../../src/node/node-config.js';
import { RaftreeNode } from '../../src/node/raftree-node.js';
import {
  loadRegistryProto,
  registryExtension,
  type RegistryExtension,
  type RegistryOptions,
} from '../../src/registry/index.js';
import { encodeCommand } from '../../src/state-machine/index.js';
import { PROTO_LOADER_OPTIONS } from '../../src/transport/raft-proto.js';
import { freePorts } from '../support/ports.js';
import { sleep, waitFor } from './api-harness.js';

export { sleep, waitFor };

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

export type RawRegistryClient = grpc.Client & Record<string, Unary>;

let registryConstructor:
  (new (address: string, credentials: grpc.ChannelCredentials) => RawRegistryClient) | null = null;

export function connectRegistry(address: string): RawRegistryClient {
  if (registryConstructor === null) {
    const loaded = grpc.loadPackageDefinition(loadRegistryProto(PROTO_LOADER_OPTIONS)) as unknown as {
      raftree: { v1: { Registry: typeof registryConstructor } };
    };
    registryConstructor = loaded.raftree.v1.Registry;
  }
  return new registryConstructor!(address, grpc.credentials.createInsecure());
}

export function call<T = Record<string, unknown>>(
  client: RawRegistryClient,
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

export interface RegistryCluster {
  readonly nodes: (RaftreeNode | null)[];
  readonly addresses: string[];
  readonly httpPorts: number[];
  readonly registries: RegistryExtension[];
  readonly clients: RawRegistryClient[];
  leaderIndex(): number;
  followerIndex(): number;
  /** Opens a session through the log (on the leader); returns its id. */
  openSession(ttlMs?: number): Promise<number>;
  closeSession(sessionId: number): Promise<void>;
  stopNode(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RegistryClusterOptions {
  readonly size?: number;
  readonly registry?: RegistryOptions;
}

export async function startRegistryCluster(options: RegistryClusterOptions = {}): Promise<RegistryCluster> {
  const size = options.size ?? 3;
  const ports = await freePorts(size * 2);
  const grpcPorts = ports.slice(0, size);
  const httpPorts = ports.slice(size);
  const ids = grpcPorts.map((_, i) => `n${i + 1}`);
  const addresses = grpcPorts.map((port) => `127.0.0.1:${port}`);
  const peers = new Map(ids.map((id, i) => [id, addresses[i]!]));
  const dataDirs = await Promise.all(ids.map((id) => mkdtemp(join(tmpdir(), `raftree-registry-${id}-`))));
  const registries = ids.map(() => registryExtension({ staggerFirstProbe: false, ...options.registry }));
  const https: HttpExtension[] = ids.map(() => httpExtension());
  const nodes: (RaftreeNode | null)[] = await Promise.all(
    ids.map((id, i) => {
      const config: NodeConfig = {
        id,
        listen: addresses[i]!,
        http: `127.0.0.1:${httpPorts[i]}`,
        peers,
        dataDir: dataDirs[i]!,
        tickMs: 10,
        electionTicks: 10,
        heartbeatTicks: 2,
        snapshotEveryEntries: 100_000,
        logLevel: 'silent',
        limits: defaultLimits,
      };
      return RaftreeNode.start(config, {
        logger: silentLogger(),
        extensions: [clientApiExtension(), registries[i]!, https[i]!],
      });
    }),
  );
  const clients = addresses.map(connectRegistry);
  const leaderIndex = (): number => nodes.findIndex((node) => node !== null && node.replica.isLeader);
  const leader = (): RaftreeNode => {
    const index = leaderIndex();
    if (index === -1) throw new Error('no leader');
    return nodes[index]!;
  };
  const cluster: RegistryCluster = {
    nodes,
    addresses,
    httpPorts,
    registries,
    clients,
    leaderIndex,
    followerIndex: () => {
      const l = leaderIndex();
      return nodes.findIndex((node, i) => node !== null && i !== l && node.replica.leaderId !== null);
    },
    async openSession(ttlMs = 60_000) {
      const outcome = await leader().replica.propose(encodeCommand({ type: 'openSession', ttlMs }));
      if (!outcome.ok || outcome.result.type !== 'openSession') throw new Error('openSession failed');
      return outcome.result.sessionId;
    },
    async closeSession(sessionId) {
      const outcome = await leader().replica.propose(
        encodeCommand({ type: 'closeSession', sessionId, reason: 'closed' }),
      );
      if (!outcome.ok) throw outcome.error;
    },
    async stopNode(index) {
      const node = nodes[index];
      nodes[index] = null;
      await node?.stop();
    },
    async stop() {
      for (const client of clients) client.close();
      await Promise.all(nodes.map((node, i) => (node === null ? undefined : cluster.stopNode(i))));
      await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
  try {
    await waitFor(
      () =>
        leaderIndex() !== -1 &&
        nodes.every((n) => n?.replica.leaderId === nodes[leaderIndex()]!.config.id) &&
        nodes[leaderIndex()]!.replica.isLeaderCaughtUp,
      'a caught-up leader known to every member',
    );
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

// --- HTTP helpers ---------------------------------------------------------------------------------

export async function httpJson(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : {
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

// --- check targets ---------------------------------------------------------------------------------

/** An HTTP server answering 200 "ok" or 503, switchable. */
export interface HttpTarget {
  readonly port: number;
  readonly url: string;
  healthy: boolean;
  hits: number;
  close(): Promise<void>;
}

export async function startHttpTarget(): Promise<HttpTarget> {
  const server: HttpServer = createHttpServer((_request, response) => {
    target.hits++;
    if (target.healthy) {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('ok: all good');
    } else {
      response.writeHead(503, { 'content-type': 'text/plain' });
      response.end('down');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const target: HttpTarget = {
    port,
    url: `http://127.0.0.1:${port}/health`,
    healthy: true,
    hits: 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return target;
}

/** A TCP port that can be closed (connection refused) and reopened on the same port. */
export interface TcpTarget {
  readonly port: number;
  up(): Promise<void>;
  down(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpTarget(): Promise<TcpTarget> {
  const [port] = await freePorts(1);
  let server: TcpServer | null = null;
  const sockets = new Set<Socket>();
  const up = async (): Promise<void> => {
    if (server !== null) return;
    const s = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      socket.end();
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
  };
  const down = async (): Promise<void> => {
    const s = server;
    server = null;
    if (s === null) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await up();
  return { port: port!, up, down, close: down };
}

/** A gRPC server with the standard health service; its status can be switched. */
export interface GrpcHealthTarget {
  readonly port: number;
  status: ServingStatus;
  close(): Promise<void>;
}

export async function startGrpcHealthTarget(): Promise<GrpcHealthTarget> {
  const server = new grpc.Server();
  const definition = healthServiceDefinition();
  const target = { status: 'SERVING' as ServingStatus } as GrpcHealthTarget & { status: ServingStatus };
  server.addService(definition as unknown as grpc.ServiceDefinition, {
    Check: (
      _call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<{ status: ServingStatus }>,
    ) => callback(null, { status: target.status }),
    Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return Object.assign(target, {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  });
}
