/**
 * The shapes @grpc/proto-loader makes of proto/registry.proto (camelCase, int64 as number,
 * enums as numbers on the server, defaults filled in) and the conversions to and from the
 * stored model. Requests are untrusted: validation.ts reads them field by field.
 */
import type { ResponseHeaderWire } from '../api/wire-types.js';
import type { ProbeSchedule } from '../health/check-spec.js';
import type { CheckDefinition, CheckState, InstanceRecord, ServiceChange, ServiceInstance } from './model.js';

export interface HealthCheckWire {
  readonly name: string;
  readonly kind: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failuresBeforeCritical: number;
  readonly successesBeforePassing: number;
  readonly url: string;
  readonly method: string;
  readonly expectStatus: readonly number[];
  readonly expectBody: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tlsSkipVerify: boolean;
  readonly host: string;
  readonly port: number;
  readonly service: string;
  readonly tls: boolean;
  readonly ttlMs: number;
}

export interface CheckStatusWire {
  readonly name: string;
  readonly kind: string;
  readonly status: string;
  readonly output: string;
  readonly sinceMs: number;
}

export interface InstanceHealthWire {
  readonly status: string;
  readonly checks: readonly CheckStatusWire[];
}

export interface ServiceInstanceWire {
  readonly name: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly weight: number;
  readonly sessionId: number;
  readonly checks: readonly HealthCheckWire[];
  readonly health: InstanceHealthWire | null;
  readonly createRevision: number;
  readonly modRevision: number;
}

export interface RegisterRequestWire {
  readonly instance: ServiceInstanceWire | null;
}
export interface RegisterResponseWire {
  readonly header: ResponseHeaderWire;
  readonly instance: ServiceInstanceWire;
}
export interface DeregisterRequestWire {
  readonly name: string;
  readonly id: string;
}
export interface DeregisterResponseWire {
  readonly header: ResponseHeaderWire;
}
export interface HeartbeatRequestWire {
  readonly name: string;
  readonly id: string;
  readonly check: string;
}
export interface HeartbeatResponseWire {
  readonly header: ResponseHeaderWire;
  readonly checks: readonly string[];
}
export interface DiscoverRequestWire {
  readonly name: string;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly healthyOnly: boolean;
  readonly limit: number;
  readonly serializable: boolean;
}
export interface DiscoverResponseWire {
  readonly header: ResponseHeaderWire;
  readonly instances: readonly ServiceInstanceWire[];
  readonly count: number;
}
export interface WatchServiceRequestWire {
  readonly name: string;
  readonly startRevision: number;
}

/** proto ServiceEvent.Type. */
export const ServiceEventTypeWire = {
  SNAPSHOT: 0,
  REGISTERED: 1,
  HEALTH_CHANGED: 2,
  UPDATED: 3,
  DEREGISTERED: 4,
} as const;

export interface ServiceEventWire {
  readonly type: number;
  readonly revision: number;
  readonly instance: ServiceInstanceWire | null;
  readonly previous: ServiceInstanceWire | null;
  readonly instances: readonly ServiceInstanceWire[];
}

export interface WatchServiceResponseWire {
  readonly header: ResponseHeaderWire;
  readonly events: readonly ServiceEventWire[];
}

/**
 * A check's input as src/health expects it, from the wire: every field left at its proto
 * default is omitted, so a field that does not belong to the kind is reported as such.
 */
export function checkInputFromWire(wire: HealthCheckWire): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const set = (field: keyof HealthCheckWire, isSet: boolean): void => {
    if (isSet) input[field] = wire[field];
  };
  set('name', typeof wire.name === 'string' && wire.name !== '');
  set('kind', typeof wire.kind === 'string' && wire.kind !== '');
  set('intervalMs', wire.intervalMs !== 0);
  set('timeoutMs', wire.timeoutMs !== 0);
  set('failuresBeforeCritical', wire.failuresBeforeCritical !== 0);
  set('successesBeforePassing', wire.successesBeforePassing !== 0);
  set('url', wire.url !== '');
  set('method', wire.method !== '');
  set('expectStatus', Array.isArray(wire.expectStatus) && wire.expectStatus.length > 0);
  set('expectBody', wire.expectBody !== '');
  set(
    'headers',
    typeof wire.headers === 'object' && wire.headers !== null && Object.keys(wire.headers).length > 0,
  );
  set('tlsSkipVerify', wire.tlsSkipVerify === true);
  set('host', wire.host !== '');
  set('port', wire.port !== 0);
  set('service', wire.service !== '');
  set('tls', wire.tls === true);
  set('ttlMs', wire.ttlMs !== 0);
  return input;
}

// --- model -> wire ----------------------------------------------------------------------------

/** A stored check in its wire shape (fields of other kinds left at their defaults). */
export function checkToWire(check: CheckDefinition): HealthCheckWire {
  const wire: HealthCheckWire = {
    name: check.name,
    kind: check.kind,
    intervalMs: 0,
    timeoutMs: 0,
    failuresBeforeCritical: 0,
    successesBeforePassing: 0,
    url: '',
    method: '',
    expectStatus: [],
    expectBody: '',
    headers: {},
    tlsSkipVerify: false,
    host: '',
    port: 0,
    service: '',
    tls: false,
    ttlMs: 0,
  };
  switch (check.kind) {
    case 'ttl':
      return { ...wire, ttlMs: check.ttlMs };
    case 'tcp':
      return { ...wire, ...schedule(check), host: check.host, port: check.port };
    case 'grpc':
      return {
        ...wire,
        ...schedule(check),
        host: check.host,
        port: check.port,
        service: check.service,
        tls: check.tls,
      };
    case 'http':
      return {
        ...wire,
        ...schedule(check),
        url: check.url,
        method: check.method,
        expectStatus: [...(check.expectStatus ?? [])],
        expectBody: check.expectBody ?? '',
        headers: { ...check.headers },
        tlsSkipVerify: check.tlsSkipVerify,
      };
  }
}

function schedule(
  check: ProbeSchedule,
): Pick<HealthCheckWire, 'intervalMs' | 'timeoutMs' | 'failuresBeforeCritical' | 'successesBeforePassing'> {
  return {
    intervalMs: check.intervalMs,
    timeoutMs: check.timeoutMs,
    failuresBeforeCritical: check.failuresBeforeCritical,
    successesBeforePassing: check.successesBeforePassing,
  };
}

function checkStateToWire(state: CheckState): CheckStatusWire {
  return {
    name: state.name,
    kind: state.kind,
    status: state.status,
    output: state.output,
    sinceMs: state.since,
  };
}

export function instanceToWire(
  instance: ServiceInstance,
  revisions: { createRevision: number; modRevision: number; session: number } = {
    createRevision: 0,
    modRevision: 0,
    session: 0,
  },
): ServiceInstanceWire {
  return {
    name: instance.name,
    id: instance.id,
    host: instance.host,
    port: instance.port,
    tags: [...instance.tags],
    metadata: { ...instance.metadata },
    weight: instance.weight,
    sessionId: revisions.session,
    checks: instance.checks.map(checkToWire),
    health: { status: instance.health.status, checks: instance.health.checks.map(checkStateToWire) },
    createRevision: revisions.createRevision,
    modRevision: revisions.modRevision,
  };
}

export function recordToWire(record: InstanceRecord): ServiceInstanceWire {
  return instanceToWire(record.instance, record);
}

const CHANGE_TYPE: Record<ServiceChange['type'], number> = {
  registered: ServiceEventTypeWire.REGISTERED,
  health: ServiceEventTypeWire.HEALTH_CHANGED,
  updated: ServiceEventTypeWire.UPDATED,
  deregistered: ServiceEventTypeWire.DEREGISTERED,
};

export function changeToWire(change: ServiceChange): ServiceEventWire {
  return {
    type: CHANGE_TYPE[change.type],
    revision: change.revision,
    instance: change.instance === undefined ? null : recordToWire(change.instance),
    previous:
      change.type === 'deregistered' || change.previous === undefined ? null : recordToWire(change.previous),
    instances: [],
  };
}
