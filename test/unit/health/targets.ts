/**
 * Real probe targets on 127.0.0.1, port 0: an HTTP server whose behaviour can be switched, a
 * TCP listener that can be closed and reopened on the same port, and a grpc.health.v1 server.
 * Every target's close() tears down open connections too, so tests leak nothing.
 */
import * as grpc from '@grpc/grpc-js';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import {
  healthServiceDefinition,
  type HealthCheckRequestWire,
  type HealthCheckResponseWire,
  type ServingStatus,
} from '../../../src/health/index.js';

export type HttpMode = 'ok' | 'error' | 'wrong-body' | 'hang';

export interface HttpTarget {
  mode: HttpMode;
  readonly hits: number;
  url(path?: string): string;
  close(): Promise<void>;
}

export async function startHttpTarget(): Promise<HttpTarget> {
  let hits = 0;
  const target = {
    mode: 'ok' as HttpMode,
    get hits() {
      return hits;
    },
    url: (path = '/health') => `http://127.0.0.1:${port}${path}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: HttpServer = createHttpServer((request, response) => {
    hits += 1;
    switch (target.mode) {
      case 'ok':
        response.writeHead(200, { 'content-type': 'text/plain' }).end('status: ok');
        return;
      case 'error':
        response.writeHead(500).end('status: broken');
        return;
      case 'wrong-body':
        response.writeHead(200).end('status: degraded');
        return;
      case 'hang':
        // Never answers; close() cuts the connection.
        request.resume();
        return;
    }
  });
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  return target;
}

export interface TcpTarget {
  readonly port: number;
  close(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
}

export async function startTcpTarget(): Promise<TcpTarget> {
  const sockets = new Set<Socket>();
  let server: TcpServer | undefined;
  const open = async (port: number): Promise<number> => {
    server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await listen(server, port);
    return (server.address() as AddressInfo).port;
  };
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    const closing = server;
    server = undefined;
    if (closing !== undefined) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  const port = await open(0);
  return {
    port,
    close,
    reopen: async () => {
      await close();
      await open(port);
    },
  };
}

export interface GrpcHealthTarget {
  readonly port: number;
  /** Status per service name ('' is the whole server); a service not listed answers NOT_FOUND. */
  readonly statuses: Map<string, ServingStatus>;
  /** Delay before answering Check, to exercise timeouts. */
  delayMs: number;
  shutdown(): void;
}

export async function startGrpcHealthTarget(): Promise<GrpcHealthTarget> {
  const statuses = new Map<string, ServingStatus>([['', 'SERVING']]);
  const server = new grpc.Server();
  const target = { port: 0, statuses, delayMs: 0, shutdown: () => server.forceShutdown() };
  const check: grpc.handleUnaryCall<HealthCheckRequestWire, HealthCheckResponseWire> = (call, callback) => {
    const answer = () => {
      const status = statuses.get(call.request.service);
      if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else callback(null, { status });
    };
    if (target.delayMs > 0) setTimeout(answer, target.delayMs);
    else answer();
  };
  // grpc-js wants its own ServiceDefinition type; proto-loader's is the same object at runtime.
  server.addService(healthServiceDefinition() as unknown as grpc.ServiceDefinition, {
    Check: check,
    Watch: (call: grpc.ServerWritableStream<HealthCheckRequestWire, HealthCheckResponseWire>) => call.end(),
  });
  target.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  return target;
}

function listen(server: HttpServer | TcpServer, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
