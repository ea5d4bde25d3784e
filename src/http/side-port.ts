import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/logger.js';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void> | void;

/** Path → handler for GET (and HEAD, which Node answers without a body). */
export type Routes = ReadonlyMap<string, RouteHandler>;

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, contentType: string, text: string): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

async function dispatch(
  routes: Routes,
  request: IncomingMessage,
  response: ServerResponse,
  logger: Logger,
  v1?: RouteHandler,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://side-port').pathname;
  // `/v1/…` (the registry's HTTP API) takes any method; its handler answers wrong ones itself.
  const delegated = v1 !== undefined && path.startsWith('/v1/');
  const handler = delegated ? v1 : routes.get(path);
  if (!handler) {
    sendJson(response, 404, {
      error: 'NOT_FOUND',
      message: `no endpoint ${path}; try /status, /health, /metrics or /`,
    });
    return;
  }
  if (!delegated && request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    sendJson(response, 405, {
      error: 'METHOD_NOT_ALLOWED',
      message: `${path} accepts GET and HEAD, not ${request.method}`,
    });
    return;
  }
  try {
    await handler(request, response);
  } catch (error) {
    logger.error({ err: error, path }, 'HTTP handler failed');
    if (!response.headersSent)
      sendJson(response, 500, { error: 'INTERNAL', message: 'the handler failed; see the node log' });
    else response.destroy();
  }
}

/** Splits "host:port" (or "[v6]:port") for net.listen. */
export function parseHostPort(address: string): { host: string; port: number } {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  if (!match) throw new Error(`HTTP address "${address}" is not HOST:PORT`);
  return { host: match[1]!, port: Number(match[2]) };
}

/**
 * A small HTTP server; resolves once listening, rejects (with the address) when it cannot bind.
 * `v1`, when given, handles every path under `/v1/` (the service registry's routes).
 */
export async function listenSidePort(
  address: string,
  routes: Routes,
  logger: Logger,
  v1?: RouteHandler,
): Promise<Server> {
  const { host, port } = parseHostPort(address);
  const server = createServer((request, response) => void dispatch(routes, request, response, logger, v1));
  // A slow or idle scraper must not hold the node's shutdown.
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.message;
      reject(new Error(`cannot listen for HTTP on ${address}: ${why}`));
    });
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

export async function closeSidePort(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
