/**
 * The registry over plain HTTP/JSON on the node's side port, for clients without gRPC:
 *
 *   GET  /v1/services?service=NAME&tag=T&tag=U&meta=k:v&healthy=true&limit=N
 *   POST /v1/services/register     {"name","id","host","port","tags","metadata","weight","session","checks"}
 *   POST /v1/services/deregister   {"name","id"}
 *   POST /v1/services/heartbeat    {"name","id","check"?}
 *
 * The seed's field names (service_name, service_id) are accepted too. Answers are JSON; errors
 * are {"error": CODE, "message": ...} with 400 (bad input), 404 (unknown instance or session),
 * 409 (heartbeat to an instance without a TTL check), 503 (no leader), 504 (deadline). Writes
 * go through the same code as gRPC, so a follower forwards them to the leader.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { CallContext } from '../api/call-context.js';
import type { CallRunner } from '../api/call-runner.js';
import { ApiError, invalidArgument, toApiError, type RequestKind } from '../api/errors.js';
import { sendJson, type RouteHandler } from '../http/side-port.js';
import type { RaftreeNode } from '../node/raftree-node.js';
import type { HealthManager } from './health-manager.js';
import type { RegistryOperations } from './registry-service.js';
import { validateChecks } from './validation.js';
import {
  checkToWire,
  type DiscoverRequestWire,
  type RegisterRequestWire,
  type ServiceInstanceWire,
} from './wire.js';

/** Deadline of an HTTP request (the `timeout` query parameter may shorten it). */
const HTTP_TIMEOUT_MS = 10_000;

interface RegistryHttpDependencies {
  readonly operations: RegistryOperations;
  readonly runner: CallRunner;
  readonly health: HealthManager;
}

const attached = new WeakMap<RaftreeNode, RegistryHttpDependencies>();

/** Called by registryExtension() when it attaches to a node. */
export function attachRegistryHttp(node: RaftreeNode, deps: RegistryHttpDependencies): void {
  attached.set(node, deps);
}

export function detachRegistryHttp(node: RaftreeNode): void {
  attached.delete(node);
}

/** The side port's handler for every `/v1/…` path of `node`. */
export function registryHttpHandler(node: RaftreeNode): RouteHandler {
  return (request, response) => handle(node, request, response);
}

/** gRPC status → HTTP status. */
export function httpStatusOf(code: grpc.status): number {
  switch (code) {
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.OUT_OF_RANGE:
      return 400;
    case grpc.status.NOT_FOUND:
      return 404;
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.ABORTED:
      return 409;
    case grpc.status.RESOURCE_EXHAUSTED:
      return 413;
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
      return 503;
    case grpc.status.DEADLINE_EXCEEDED:
      return 504;
    case grpc.status.UNIMPLEMENTED:
      return 501;
    default:
      return 500;
  }
}

function sendError(response: ServerResponse, error: ApiError): void {
  const status = httpStatusOf(error.code);
  if (status === 503) response.setHeader('retry-after', '1');
  sendJson(response, status, {
    error: grpc.status[error.code] ?? String(error.code),
    message: error.message,
    ...(error.trailers['raftree-outcome'] === 'unknown' ? { outcome: 'unknown' } : {}),
  });
}

const ROUTES: Record<string, { method: 'GET' | 'POST'; kind: RequestKind }> = {
  '/v1/services': { method: 'GET', kind: 'read' },
  '/v1/services/register': { method: 'POST', kind: 'write' },
  '/v1/services/deregister': { method: 'POST', kind: 'write' },
  '/v1/services/heartbeat': { method: 'POST', kind: 'write' },
};

async function handle(node: RaftreeNode, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://side-port');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const route = ROUTES[path];
  if (route === undefined) {
    sendJson(response, 404, {
      error: 'NOT_FOUND',
      message: `no endpoint ${url.pathname}; the registry serves GET /v1/services and POST /v1/services/register, /v1/services/deregister and /v1/services/heartbeat`,
    });
    return;
  }
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  if (method !== route.method) {
    response.setHeader('allow', route.method === 'GET' ? 'GET, HEAD' : 'POST');
    sendJson(response, 405, {
      error: 'METHOD_NOT_ALLOWED',
      message: `${path} accepts ${route.method}, not ${request.method ?? '?'}`,
    });
    return;
  }
  const deps = attached.get(node);
  if (deps === undefined) {
    sendJson(response, 404, {
      error: 'NOT_FOUND',
      message: `no endpoint ${url.pathname}: the service registry is not enabled on node ${node.config.id}`,
    });
    return;
  }
  if (deps.runner.isStopped) {
    sendJson(response, 503, {
      error: 'UNAVAILABLE',
      message: `the service registry is not running on node ${node.config.id}; try another member`,
    });
    return;
  }
  const startedAt = performance.now();
  const controller = new AbortController();
  const untrack = deps.runner.track(controller);
  const onClose = (): void => {
    if (!response.writableFinished) {
      controller.abort(new ApiError(grpc.status.CANCELLED, 'the HTTP client went away'));
    }
  };
  response.once('close', onClose);
  let code: grpc.status = grpc.status.OK;
  try {
    const context: CallContext = {
      deadline: Date.now() + timeoutOf(url),
      signal: controller.signal,
      forwardedBy: null,
    };
    switch (path) {
      case '/v1/services':
        sendJson(response, 200, await discover(deps.operations, url, context));
        return;
      case '/v1/services/register': {
        const body = await readJsonBody(request, node.config.limits.maxRequestBytes);
        const result = await deps.operations.register(registerRequestFromJson(body), context);
        sendJson(response, 201, {
          status: 'registered',
          service_id: result.instance.id,
          revision: result.header.revision,
          instance: instanceJson(result.instance),
        });
        return;
      }
      case '/v1/services/deregister': {
        const { name, id } = nameAndId(await readJsonBody(request, node.config.limits.maxRequestBytes));
        const result = await deps.operations.deregister({ name, id }, context);
        sendJson(response, 200, { status: 'deregistered', revision: result.header.revision });
        return;
      }
      case '/v1/services/heartbeat': {
        const body = await readJsonBody(request, node.config.limits.maxRequestBytes);
        const { name, id } = nameAndId(body);
        const check = body['check'];
        if (check !== undefined && typeof check !== 'string') throw invalidArgument('check must be a string');
        const result = await deps.operations.heartbeat({ name, id, check: check ?? '' }, context);
        sendJson(response, 200, { status: 'ok', checks: result.checks });
        return;
      }
    }
  } catch (error) {
    const apiError = toApiError(error, route.kind);
    code = apiError.code;
    if (code === grpc.status.INTERNAL)
      node.logger.error({ err: error, path }, 'registry HTTP request failed');
    if (!response.headersSent) sendError(response, apiError);
  } finally {
    response.off('close', onClose);
    untrack();
    deps.runner.report(`HTTP ${route.method} ${path}`, code, startedAt);
  }
}

function timeoutOf(url: URL): number {
  const raw = url.searchParams.get('timeout');
  if (raw === null) return HTTP_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw invalidArgument(`timeout must be a positive number of milliseconds, got ${JSON.stringify(raw)}`);
  return Math.min(value, 5 * 60_000);
}

async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBytes) {
      throw new ApiError(grpc.status.RESOURCE_EXHAUSTED, `the request body is larger than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw invalidArgument('the request body is empty; send a JSON object');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalidArgument(
      `the request body is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalidArgument('the request body must be a JSON object');
  }
  return json as Record<string, unknown>;
}

/** A field under either of its names (ours first, then the seed's snake_case one). */
function field(body: Record<string, unknown>, ...names: string[]): unknown {
  for (const name of names) if (body[name] !== undefined) return body[name];
  return undefined;
}

function stringField(body: Record<string, unknown>, what: string, ...names: string[]): string {
  const value = field(body, ...names);
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalidArgument(`${what} must be a string`);
  return value;
}

function nameAndId(body: Record<string, unknown>): { name: string; id: string } {
  const name = stringField(body, 'name', 'name', 'service_name', 'service');
  const id = stringField(body, 'id', 'id', 'service_id');
  if (name === '')
    throw invalidArgument('name is missing: give the service name ("name") and the instance id ("id")');
  if (id === '')
    throw invalidArgument('id is missing: give the service name ("name") and the instance id ("id")');
  return { name, id };
}

function integerField(body: Record<string, unknown>, what: string, ...names: string[]): number {
  const value = field(body, ...names);
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalidArgument(`${what} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The register body as a RegisterRequest (checks validated here so their errors name JSON fields). */
export function registerRequestFromJson(body: Record<string, unknown>): RegisterRequestWire {
  const { name, id } = nameAndId(body);
  const checksJson = field(body, 'checks') ?? [];
  if (!Array.isArray(checksJson)) throw invalidArgument('checks must be a list of check objects');
  const tags = field(body, 'tags') ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
    throw invalidArgument('tags must be a list of strings');
  }
  const metadata = field(body, 'metadata', 'meta') ?? {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalidArgument('metadata must be an object of string values');
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw invalidArgument(`metadata.${key} must be a string`);
  }
  const port = integerField(body, 'port', 'port');
  if (port < 1 || port > 65_535) throw invalidArgument(`port must be from 1 to 65535, got ${port}`);
  const weight = integerField(body, 'weight', 'weight');
  if (field(body, 'weight') !== undefined && weight < 1) {
    throw invalidArgument(`weight must be at least 1, got ${weight}`);
  }
  const sessionId = integerField(body, 'session', 'session', 'sessionId', 'session_id');
  if (sessionId < 0) throw invalidArgument(`session must not be negative, got ${sessionId}`);
  const instance: ServiceInstanceWire = {
    name,
    id,
    host: stringField(body, 'host', 'host', 'address'),
    port,
    tags: tags as string[],
    metadata: metadata as Record<string, string>,
    weight,
    sessionId,
    checks: validateChecks(checksJson).map(checkToWire),
    health: null,
    createRevision: 0,
    modRevision: 0,
  };
  return { instance };
}

async function discover(operations: RegistryOperations, url: URL, context: CallContext): Promise<object> {
  const params = url.searchParams;
  const metadata: Record<string, string> = {};
  for (const entry of params.getAll('meta')) {
    const separator = entry.search(/[:=]/);
    if (separator <= 0)
      throw invalidArgument(`meta must be KEY:VALUE (or KEY=VALUE), got ${JSON.stringify(entry)}`);
    metadata[entry.slice(0, separator)] = entry.slice(separator + 1);
  }
  const limitText = params.get('limit');
  const limit = limitText === null || limitText === '' ? 0 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 0) {
    throw invalidArgument(`limit must be a non-negative whole number, got ${JSON.stringify(limitText)}`);
  }
  const wire: DiscoverRequestWire = {
    name: params.get('service') ?? params.get('name') ?? '',
    tags: params.getAll('tag'),
    metadata,
    healthyOnly: booleanParam(params.get('healthy'), 'healthy'),
    limit,
    serializable: booleanParam(params.get('serializable'), 'serializable'),
  };
  const result = await operations.discover(wire, context);
  return {
    revision: result.header.revision,
    count: result.count,
    services: result.instances.map(instanceJson),
  };
}

function booleanParam(value: string | null, what: string): boolean {
  if (value === null || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw invalidArgument(`${what} must be true or false, got ${JSON.stringify(value)}`);
}

/** An instance as the HTTP API shows it (the stored JSON plus key facts). */
export function instanceJson(wire: ServiceInstanceWire): object {
  const health = wire.health ?? { status: 'critical', checks: [] };
  return {
    name: wire.name,
    id: wire.id,
    host: wire.host,
    port: wire.port,
    tags: wire.tags,
    metadata: wire.metadata,
    weight: wire.weight,
    healthy: health.status === 'passing',
    health: {
      status: health.status,
      checks: health.checks.map((c) => ({
        name: c.name,
        kind: c.kind,
        status: c.status,
        output: c.output,
        since: c.sinceMs,
      })),
    },
    session: wire.sessionId,
    createRevision: wire.createRevision,
    modRevision: wire.modRevision,
  };
}
