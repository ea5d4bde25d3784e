/**
 * The service registry's data model, shared by the server, the client and the CLI. Pure: no
 * I/O, no clocks.
 *
 * An instance lives at `/_services/NAME/ID` as one JSON document (the registry is not a hot
 * path, and JSON keeps it readable by `raftree get` and by any watch):
 *
 *   { "name": "api", "id": "api-1", "host": "10.0.0.5", "port": 8080,
 *     "tags": ["v2"], "metadata": { "zone": "a" }, "weight": 1,
 *     "checks": [ { "name": "http", "kind": "http", "url": "http://10.0.0.5:8080/health",
 *                   "intervalMs": 10000, "timeoutMs": 5000, ... } ],
 *     "health": { "status": "critical",
 *                 "checks": [ { "name": "http", "kind": "http", "status": "critical",
 *                               "output": "not checked yet", "since": 1700000000000 } ] } }
 *
 * Health starts like Consul's: an instance without checks is passing; every check of a new
 * instance starts critical ("not checked yet") until it first passes, so a fresh instance is
 * not handed traffic before anything has seen it work.
 */

import { CHECK_KINDS, validateCheckSpec, type CheckKind, type CheckSpec } from '../health/check-spec.js';

export const SERVICES_PREFIX = '/_services/';

export type { CheckKind } from '../health/check-spec.js';
export { CHECK_KINDS } from '../health/check-spec.js';

export type HealthStatus = 'passing' | 'critical';

/**
 * A check as stored with the instance: a validated spec of src/health (every default filled
 * in, so what is stored is exactly what runs) plus a name unique within the instance.
 */
export type CheckDefinition = CheckSpec & { readonly name: string };

export interface CheckState {
  readonly name: string;
  readonly kind: CheckKind;
  readonly status: HealthStatus;
  readonly output: string;
  /** Epoch ms of the last transition (the leader's clock). */
  readonly since: number;
}

export interface InstanceHealth {
  readonly status: HealthStatus;
  readonly checks: readonly CheckState[];
}

/** A registered instance as stored (the JSON value of its key). */
export interface ServiceInstance {
  readonly name: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly weight: number;
  readonly checks: readonly CheckDefinition[];
  readonly health: InstanceHealth;
}

/** A stored instance with what its key says about it. */
export interface InstanceRecord {
  readonly instance: ServiceInstance;
  readonly key: string;
  readonly createRevision: number;
  readonly modRevision: number;
  /** The owning session (ephemeral registration), or 0. */
  readonly session: number;
}

export interface DiscoverFilter {
  /** The instance must carry every one of these tags. */
  readonly tags?: readonly string[];
  /** The instance's metadata must contain each entry with an equal value. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Only instances whose health is passing. */
  readonly healthyOnly?: boolean;
  /** At most this many (0 / absent = all). */
  readonly limit?: number;
}

export type ServiceChangeType = 'registered' | 'health' | 'updated' | 'deregistered';

/** One change to a service's instances, derived from a put or delete of its key. */
export interface ServiceChange {
  readonly type: ServiceChangeType;
  readonly revision: number;
  readonly name: string;
  readonly id: string;
  /** The instance now (for 'deregistered': as it was, when known). */
  readonly instance: InstanceRecord | undefined;
  /** The instance before the change ('health' and 'updated'). */
  readonly previous: InstanceRecord | undefined;
}

// --- names and keys ---------------------------------------------------------------------------

/** Service names and instance ids: path-safe, so the key has exactly two segments below the prefix. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
export const MAX_NAME_LENGTH = 128;

/** Why `value` is not a usable service name / instance id, or null when it is. */
export function nameProblem(value: string, what: string): string | null {
  if (value === '') return `${what} is empty`;
  if (value.length > MAX_NAME_LENGTH) return `${what} is longer than ${MAX_NAME_LENGTH} characters`;
  if (!NAME_PATTERN.test(value)) {
    return (
      `${what} ${JSON.stringify(value)} may contain only letters, digits, '_', '.', ':' and '-', ` +
      `and must start with a letter or digit`
    );
  }
  return null;
}

export function serviceKey(name: string, id: string): string {
  return `${SERVICES_PREFIX}${name}/${id}`;
}

/** `/_services/NAME/` — or the whole registry for name "". */
export function servicePrefix(name: string): string {
  return name === '' ? SERVICES_PREFIX : `${SERVICES_PREFIX}${name}/`;
}

/** NAME and ID of an instance key, or undefined for any other key (deeper, shallower, elsewhere). */
export function parseServiceKey(key: string): { name: string; id: string } | undefined {
  if (!key.startsWith(SERVICES_PREFIX)) return undefined;
  const parts = key.slice(SERVICES_PREFIX.length).split('/');
  if (parts.length !== 2) return undefined;
  const [name, id] = parts as [string, string];
  if (nameProblem(name, 'name') !== null || nameProblem(id, 'id') !== null) return undefined;
  return { name, id };
}

// --- JSON ---------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeInstance(instance: ServiceInstance): Uint8Array {
  return encoder.encode(JSON.stringify(instance));
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isStatus = (value: unknown): value is HealthStatus => value === 'passing' || value === 'critical';

function parseCheckDefinition(value: unknown): CheckDefinition | undefined {
  if (!isRecord(value)) return undefined;
  const { name, ...spec } = value;
  if (typeof name !== 'string' || name === '') return undefined;
  try {
    return { ...validateCheckSpec(spec), name };
  } catch {
    return undefined;
  }
}

function parseCheckState(value: unknown): CheckState | undefined {
  if (!isRecord(value)) return undefined;
  const { name, kind, status, output, since } = value;
  if (typeof name !== 'string' || !isStatus(status)) return undefined;
  return {
    name,
    kind:
      typeof kind === 'string' && (CHECK_KINDS as readonly string[]).includes(kind)
        ? (kind as CheckKind)
        : 'ttl',
    status,
    output: typeof output === 'string' ? output : '',
    since: typeof since === 'number' && Number.isFinite(since) ? since : 0,
  };
}

/**
 * An instance from its key's bytes. Anything unreadable (a stray write through the plain KV
 * API) gives undefined: discovery skips it rather than failing everybody's lookups.
 */
export function decodeInstance(key: string, value: Uint8Array): ServiceInstance | undefined {
  const parsedKey = parseServiceKey(key);
  if (parsedKey === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(value));
  } catch {
    return undefined;
  }
  if (!isRecord(json)) return undefined;
  const { host, port, weight } = json;
  if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) return undefined;
  const tags = Array.isArray(json['tags'])
    ? json['tags'].filter((t): t is string => typeof t === 'string')
    : [];
  const metadata: Record<string, string> = {};
  if (isRecord(json['metadata'])) {
    for (const [k, v] of Object.entries(json['metadata'])) if (typeof v === 'string') metadata[k] = v;
  }
  const checks = Array.isArray(json['checks'])
    ? json['checks'].map(parseCheckDefinition).filter((c): c is CheckDefinition => c !== undefined)
    : [];
  const healthJson = isRecord(json['health']) ? json['health'] : {};
  const checkStates = Array.isArray(healthJson['checks'])
    ? healthJson['checks'].map(parseCheckState).filter((c): c is CheckState => c !== undefined)
    : [];
  const health: InstanceHealth = {
    status: isStatus(healthJson['status']) ? healthJson['status'] : overallStatus(checkStates),
    checks: checkStates,
  };
  return {
    name: parsedKey.name,
    id: parsedKey.id,
    host,
    port,
    tags,
    metadata,
    weight: typeof weight === 'number' && Number.isInteger(weight) && weight >= 1 ? weight : 1,
    checks,
    health,
  };
}

// --- health -------------------------------------------------------------------------------------

export function overallStatus(checks: readonly CheckState[]): HealthStatus {
  return checks.every((c) => c.status === 'passing') ? 'passing' : 'critical';
}

export const NOT_CHECKED_YET = 'not checked yet';

/**
 * The health a (re-)registered instance starts with: a check whose definition is unchanged
 * keeps its state (re-registering must not make a healthy instance critical); a new or changed
 * check starts critical.
 */
export function initialHealth(
  checks: readonly CheckDefinition[],
  previous: ServiceInstance | undefined,
  now: number,
): InstanceHealth {
  const states = checks.map((check): CheckState => {
    const oldDefinition = previous?.checks.find((c) => c.name === check.name);
    const oldState = previous?.health.checks.find((c) => c.name === check.name);
    if (oldDefinition !== undefined && oldState !== undefined && sameCheck(oldDefinition, check)) {
      return oldState;
    }
    return { name: check.name, kind: check.kind, status: 'critical', output: NOT_CHECKED_YET, since: now };
  });
  return { status: overallStatus(states), checks: states };
}

export function sameCheck(a: CheckDefinition, b: CheckDefinition): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted (and undefined fields dropped), for comparing definitions. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The instance with one check's state replaced (undefined if it has no such check any more). */
export function withCheckState(
  instance: ServiceInstance,
  name: string,
  status: HealthStatus,
  output: string,
  since: number,
): ServiceInstance | undefined {
  const index = instance.health.checks.findIndex((c) => c.name === name);
  if (index === -1) return undefined;
  const checks = instance.health.checks.map((c, i) =>
    i === index ? { name: c.name, kind: c.kind, status, output, since } : c,
  );
  return { ...instance, health: { status: overallStatus(checks), checks } };
}

// --- discovery ----------------------------------------------------------------------------------

export function matchesFilter(instance: ServiceInstance, filter: DiscoverFilter): boolean {
  if (filter.healthyOnly === true && instance.health.status !== 'passing') return false;
  for (const tag of filter.tags ?? []) if (!instance.tags.includes(tag)) return false;
  for (const [key, value] of Object.entries(filter.metadata ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(instance.metadata, key) || instance.metadata[key] !== value)
      return false;
  }
  return true;
}

/** Filters records (already in key order) and applies the limit; `count` is before the limit. */
export function applyFilter<T extends { readonly instance: ServiceInstance }>(
  records: readonly T[],
  filter: DiscoverFilter,
): { matched: T[]; count: number } {
  const all = records.filter((r) => matchesFilter(r.instance, filter));
  const limit = filter.limit ?? 0;
  return { matched: limit > 0 ? all.slice(0, limit) : all, count: all.length };
}

// --- changes ------------------------------------------------------------------------------------

/**
 * What a put or delete of an instance key means. `previous` is the key's value before the
 * change (the watch's prevKv), `current` after it (undefined for a delete).
 */
export function classifyChange(
  revision: number,
  key: string,
  current: InstanceRecord | undefined,
  previous: InstanceRecord | undefined,
): ServiceChange | undefined {
  const parsed = parseServiceKey(key);
  if (parsed === undefined) return undefined;
  const base = { revision, name: parsed.name, id: parsed.id };
  if (current === undefined) return { ...base, type: 'deregistered', instance: previous, previous };
  if (previous === undefined) return { ...base, type: 'registered', instance: current, previous: undefined };
  const type = previous.instance.health.status !== current.instance.health.status ? 'health' : 'updated';
  return { ...base, type, instance: current, previous };
}
