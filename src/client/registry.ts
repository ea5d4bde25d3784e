/**
 * The service registry from the client: register / deregister / heartbeat / discover, and
 * watchService — a stream of a service's instances (a snapshot, then each change) built on the
 * resumable KV watch of `/_services/NAME/`, so it survives node failures without missing or
 * repeating a change, and starts over from a fresh snapshot if its history was compacted.
 */
import { EventEmitter } from 'node:events';
import type * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { CheckSpecInput } from '../health/check-spec.js';
import { validateCheckSpec } from '../health/check-spec.js';
import {
  classifyChange,
  decodeInstance,
  overallStatus,
  servicePrefix,
  type CheckDefinition,
  type CheckState,
  type DiscoverFilter,
  type HealthStatus,
  type InstanceRecord,
  type ServiceChangeType,
  type ServiceInstance,
} from '../registry/model.js';
import { loadRegistryProto, REGISTRY_SERVICE_NAME } from '../registry/proto.js';
import {
  checkInputFromWire,
  type DeregisterResponseWire,
  type DiscoverRequestWire,
  type DiscoverResponseWire,
  type HealthCheckWire,
  type HeartbeatRequestWire,
  type HeartbeatResponseWire,
  type RegisterRequestWire,
  type RegisterResponseWire,
  type ServiceInstanceWire,
} from '../registry/wire.js';
import { fullJitterDelayMs, type RetryPolicy } from './backoff.js';
import type { CallSpec } from './call-runner.js';
import { RaftreeError } from './errors.js';
import { CLIENT_PROTO_OPTIONS, ClientProtoError } from './proto.js';
import { headerFromWire, type KeyValue, type ResponseHeader } from './types.js';
import type { WatchEvent, Watcher, WatchOptions } from './watch.js';

export type { DiscoverFilter, HealthStatus, CheckState, CheckDefinition, ServiceChangeType };

/** A health check as a caller writes it: src/health's spec input plus an optional name. */
export type RegistryCheckInput = CheckSpecInput & { readonly name?: string };

export interface InstanceRegistration {
  readonly name: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly tags?: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  /** >= 1 (default 1): weighted strategies share traffic by it. */
  readonly weight?: number;
  /** Tie the registration to a session: the instance disappears when the session ends. */
  readonly session?: number | { readonly id: number };
  readonly checks?: readonly RegistryCheckInput[];
}

/** A registered instance as discovery returns it. */
export interface RegisteredInstance extends ServiceInstance {
  /** health.status === 'passing'. */
  readonly healthy: boolean;
  /** The owning session (0 = none, or not known to a watch-fed cache). */
  readonly session: number;
  readonly createRevision: number;
  readonly modRevision: number;
}

export interface RegisterResult {
  readonly header: ResponseHeader;
  readonly revision: number;
  readonly instance: RegisteredInstance;
}

export interface DiscoverResult {
  readonly header: ResponseHeader;
  readonly revision: number;
  readonly instances: RegisteredInstance[];
  /** Matches before the limit. */
  readonly count: number;
}

export interface DiscoverOptions extends DiscoverFilter {
  /** Serve from any member's local state (faster, possibly stale). */
  readonly serializable?: boolean;
  readonly deadlineMs?: number;
}

/** One change to a watched service. */
export type ServiceWatchEvent =
  | {
      readonly type: 'snapshot';
      readonly revision: number;
      readonly instances: readonly RegisteredInstance[];
    }
  | {
      readonly type: ServiceChangeType;
      readonly revision: number;
      readonly name: string;
      readonly id: string;
      /** The instance now (for 'deregistered': as it was). */
      readonly instance: RegisteredInstance | undefined;
      /** Before the change ('health' and 'updated'). */
      readonly previous: RegisteredInstance | undefined;
    };

// --- methods ------------------------------------------------------------------------------------

export interface RegistryMethods {
  readonly register: MethodDefinition<RegisterRequestWire, RegisterResponseWire>;
  readonly deregister: MethodDefinition<{ name: string; id: string }, DeregisterResponseWire>;
  readonly heartbeat: MethodDefinition<HeartbeatRequestWire, HeartbeatResponseWire>;
  readonly discover: MethodDefinition<DiscoverRequestWire, DiscoverResponseWire>;
}

let cachedMethods: RegistryMethods | null = null;

export function registryMethods(): RegistryMethods {
  if (cachedMethods !== null) return cachedMethods;
  const definition = loadRegistryProto(CLIENT_PROTO_OPTIONS);
  const service = definition[REGISTRY_SERVICE_NAME] as protoLoader.ServiceDefinition | undefined;
  const method = (name: string): MethodDefinition<object, object> => {
    const found = service?.[name];
    if (found === undefined)
      throw new ClientProtoError(`${REGISTRY_SERVICE_NAME}/${name} is not in registry.proto`);
    return found;
  };
  cachedMethods = {
    register: method('Register'),
    deregister: method('Deregister'),
    heartbeat: method('Heartbeat'),
    discover: method('Discover'),
  } as unknown as RegistryMethods;
  return cachedMethods;
}

/** What the registry helpers need from RaftreeClient. */
export interface RegistryDeps {
  call<Res>(spec: CallSpec<Res>): Promise<Res>;
  watch(key: string, options: WatchOptions): Watcher;
  readonly retry: RetryPolicy;
}

// --- conversions --------------------------------------------------------------------------------

const CHECK_FIELDS: readonly (keyof HealthCheckWire)[] = [
  'name',
  'kind',
  'intervalMs',
  'timeoutMs',
  'failuresBeforeCritical',
  'successesBeforePassing',
  'url',
  'method',
  'expectStatus',
  'expectBody',
  'headers',
  'tlsSkipVerify',
  'host',
  'port',
  'service',
  'tls',
  'ttlMs',
];

function invalid(operation: string, details: string): RaftreeError {
  return new RaftreeError({ code: 'INVALID_ARGUMENT', details, operation, notSent: true });
}

/** A check in its wire shape. Unknown fields are refused here: the wire would silently drop them. */
export function checkToWireInput(check: RegistryCheckInput, index: number, operation: string): object {
  if (typeof check !== 'object' || check === null)
    throw invalid(operation, `checks[${index}] must be an object`);
  const wire: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(check)) {
    if (value === undefined) continue;
    if (!(CHECK_FIELDS as readonly string[]).includes(field)) {
      throw invalid(
        operation,
        `checks[${index}]: unknown field ${field}; allowed: ${CHECK_FIELDS.join(', ')}`,
      );
    }
    wire[field] = field === 'expectStatus' && !Array.isArray(value) ? [value] : value;
  }
  return wire;
}

function checkFromWire(wire: HealthCheckWire): CheckDefinition | undefined {
  const { name, ...input } = checkInputFromWire(wire);
  try {
    return { ...validateCheckSpec(input), name: typeof name === 'string' ? name : wire.kind };
  } catch {
    return undefined;
  }
}

export function instanceFromWire(wire: ServiceInstanceWire): RegisteredInstance {
  const checks = (wire.health?.checks ?? []).map((c): CheckState => ({
    name: c.name,
    kind: c.kind as CheckState['kind'],
    status: c.status === 'passing' ? 'passing' : 'critical',
    output: c.output,
    since: c.sinceMs,
  }));
  const status: HealthStatus =
    wire.health?.status === 'passing' || wire.health?.status === 'critical'
      ? wire.health.status
      : overallStatus(checks);
  return {
    name: wire.name,
    id: wire.id,
    host: wire.host,
    port: wire.port,
    tags: [...wire.tags],
    metadata: { ...wire.metadata },
    weight: wire.weight,
    checks: wire.checks.map(checkFromWire).filter((c): c is CheckDefinition => c !== undefined),
    health: { status, checks },
    healthy: status === 'passing',
    session: wire.sessionId,
    createRevision: wire.createRevision,
    modRevision: wire.modRevision,
  };
}

function instanceFromRecord(record: InstanceRecord): RegisteredInstance {
  return {
    ...record.instance,
    healthy: record.instance.health.status === 'passing',
    session: record.session,
    createRevision: record.createRevision,
    modRevision: record.modRevision,
  };
}

/** An instance from a key-value the KV API returned (undefined for anything else under the prefix). */
export function instanceFromKv(kv: KeyValue): RegisteredInstance | undefined {
  const record = recordFromKv(kv);
  return record === undefined ? undefined : instanceFromRecord(record);
}

function recordFromKv(kv: KeyValue): InstanceRecord | undefined {
  const instance = decodeInstance(kv.key, kv.value);
  if (instance === undefined) return undefined;
  return {
    instance,
    key: kv.key,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    session: 0,
  };
}

// --- calls --------------------------------------------------------------------------------------

export async function registerInstance(
  deps: RegistryDeps,
  registration: InstanceRegistration,
  deadlineMs?: number,
): Promise<RegisterResult> {
  const operation = `register ${registration.name}/${registration.id}`;
  const session =
    registration.session === undefined
      ? 0
      : typeof registration.session === 'number'
        ? registration.session
        : registration.session.id;
  const request = {
    instance: {
      name: registration.name,
      id: registration.id,
      host: registration.host,
      port: registration.port,
      tags: [...(registration.tags ?? [])],
      metadata: { ...(registration.metadata ?? {}) },
      weight: registration.weight ?? 0,
      sessionId: session,
      checks: (registration.checks ?? []).map((c, i) => checkToWireInput(c, i, operation)),
    },
  } as unknown as RegisterRequestWire;
  const methods = registryMethods();
  const response = await deps.call({
    operation,
    kind: 'write',
    // Registering the same instance again writes the same value: safe to repeat.
    idempotent: true,
    deadlineMs,
    send: (c, deadline) => c.unary(methods.register, request, deadline),
    headerOf: (r) => r.header,
  });
  const header = headerFromWire(response.header);
  return { header, revision: header.revision, instance: instanceFromWire(response.instance) };
}

export async function deregisterInstance(
  deps: RegistryDeps,
  name: string,
  id: string,
  deadlineMs?: number,
): Promise<{ header: ResponseHeader; revision: number }> {
  const methods = registryMethods();
  const response = await deps.call({
    operation: `deregister ${name}/${id}`,
    kind: 'write',
    idempotent: false,
    deadlineMs,
    send: (c, deadline) => c.unary(methods.deregister, { name, id }, deadline),
    headerOf: (r) => r.header,
  });
  const header = headerFromWire(response.header);
  return { header, revision: header.revision };
}

export async function heartbeatInstance(
  deps: RegistryDeps,
  name: string,
  id: string,
  options: { check?: string; deadlineMs?: number } = {},
): Promise<{ header: ResponseHeader; checks: string[] }> {
  const methods = registryMethods();
  const response = await deps.call({
    operation: `heartbeat ${name}/${id}`,
    kind: 'write',
    idempotent: true,
    deadlineMs: options.deadlineMs,
    send: (c, deadline) => c.unary(methods.heartbeat, { name, id, check: options.check ?? '' }, deadline),
    headerOf: (r) => r.header,
  });
  return { header: headerFromWire(response.header), checks: [...response.checks] };
}

export async function discoverInstances(
  deps: RegistryDeps,
  name: string,
  options: DiscoverOptions = {},
): Promise<DiscoverResult> {
  const methods = registryMethods();
  const request: DiscoverRequestWire = {
    name,
    tags: [...(options.tags ?? [])],
    metadata: { ...(options.metadata ?? {}) },
    healthyOnly: options.healthyOnly ?? false,
    limit: options.limit ?? 0,
    serializable: options.serializable ?? false,
  };
  const response = await deps.call({
    operation: name === '' ? 'discover' : `discover ${name}`,
    kind: 'read',
    idempotent: true,
    deadlineMs: options.deadlineMs,
    send: (c, deadline) => c.unary(methods.discover, request, deadline),
    headerOf: (r) => r.header,
  });
  const header = headerFromWire(response.header);
  return {
    header,
    revision: header.revision,
    instances: response.instances.map(instanceFromWire),
    count: response.count,
  };
}

// --- watching a service ---------------------------------------------------------------------------

export interface ServiceWatchEvents {
  event: [event: ServiceWatchEvent];
  /** Emitted only when someone listens. The watch goes on (it restarts from a fresh snapshot). */
  error: [error: Error];
  close: [];
}

/**
 * A service's instances as a stream: a 'snapshot' event first (and again after a restart),
 * then one event per change. Iterate it (`for await`) or listen to 'event'.
 */
export class ServiceWatch
  extends EventEmitter<ServiceWatchEvents>
  implements AsyncIterable<ServiceWatchEvent>
{
  private watcher: Watcher | null = null;
  private closed = false;
  private restarts = 0;
  private readonly queue: ServiceWatchEvent[] = [];
  private waiter: (() => void) | null = null;
  /** Events are queued only while someone iterates (listeners get them as they happen). */
  private iterating = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: RegistryDeps,
    readonly name: string,
  ) {
    super();
    setImmediate(() => void this.begin());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = null;
    this.waiter?.();
    this.emit('close');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async begin(): Promise<void> {
    if (this.closed) return;
    let snapshot: DiscoverResult;
    try {
      snapshot = await discoverInstances(this.deps, this.name);
    } catch (error) {
      this.retryLater(error);
      return;
    }
    if (this.closed) return;
    this.restarts = 0;
    this.push({ type: 'snapshot', revision: snapshot.revision, instances: snapshot.instances });
    const watcher = this.deps.watch(servicePrefix(this.name), {
      prefix: true,
      prevKv: true,
      startRevision: snapshot.revision + 1,
    });
    this.watcher = watcher;
    watcher.on('event', (event) => {
      const change = serviceChangeOf(event);
      if (change !== undefined) this.push(change);
    });
    watcher.on('error', (error) => {
      if (this.watcher !== watcher) return;
      this.watcher = null;
      // Compacted history or a run of failures: start over from a fresh snapshot.
      this.retryLater(error);
    });
  }

  private retryLater(error: unknown): void {
    if (this.closed) return;
    if (this.listenerCount('error') > 0)
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    const delay = fullJitterDelayMs(this.restarts++, {
      ...this.deps.retry,
      maxDelayMs: Math.max(this.deps.retry.maxDelayMs, 2_000),
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.begin();
    }, delay);
  }

  private push(event: ServiceWatchEvent): void {
    if (this.closed) return;
    if (this.iterating) this.queue.push(event);
    this.emit('event', event);
    this.waiter?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ServiceWatchEvent> {
    // The watch starts on a later turn, so iterating right after watchService() misses nothing.
    this.iterating = true;
    try {
      for (;;) {
        while (this.queue.length > 0) yield this.queue.shift()!;
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.waiter = resolve));
        this.waiter = null;
      }
    } finally {
      this.close();
    }
  }
}

/** The service change a KV watch event of an instance key means (undefined for other keys). */
export function serviceChangeOf(event: WatchEvent): ServiceWatchEvent | undefined {
  const current = event.type === 'put' ? recordFromKv(event.kv) : undefined;
  const previous = event.prevKv === undefined ? undefined : recordFromKv(event.prevKv);
  if (event.type === 'put' && current === undefined && previous === undefined) return undefined;
  const change = classifyChange(event.revision, event.key, current, previous);
  if (change === undefined) return undefined;
  return {
    type: change.type,
    revision: change.revision,
    name: change.name,
    id: change.id,
    instance: change.instance === undefined ? undefined : instanceFromRecord(change.instance),
    previous: change.previous === undefined ? undefined : instanceFromRecord(change.previous),
  };
}
