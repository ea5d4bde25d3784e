/**
 * Turns untrusted registry requests (gRPC wire objects, or HTTP JSON bodies) into validated
 * values. Everything is checked before anything is proposed, and each refusal names the field
 * and what would be accepted.
 */
import { invalidArgument } from '../api/errors.js';
import { text } from '../api/field-readers.js';
import { validateCheckSpec } from '../health/check-spec.js';
import { InvalidCheckSpecError } from '../health/errors.js';
import { nameProblem, type CheckDefinition, type DiscoverFilter, type ServiceInstance } from './model.js';
import {
  checkInputFromWire,
  type DiscoverRequestWire,
  type RegisterRequestWire,
  type ServiceInstanceWire,
} from './wire.js';

export const DEFAULT_CHECK_INTERVAL_MS = 10_000;
export const MAX_DEFAULT_TIMEOUT_MS = 5_000;
export const MAX_CHECKS = 16;
export const MAX_TAGS = 64;
export const MAX_METADATA_ENTRIES = 64;
export const MAX_TAG_LENGTH = 256;
export const MAX_METADATA_KEY_LENGTH = 128;
export const MAX_METADATA_VALUE_LENGTH = 1024;
export const MAX_HOST_LENGTH = 253;
export const MAX_WEIGHT = 1_000_000;

/** What a validated registration proposes: the instance without its health, and its session. */
export interface Registration {
  readonly instance: Omit<ServiceInstance, 'health'>;
  /** 0 = not tied to a session. */
  readonly sessionId: number;
}

// --- field readers ------------------------------------------------------------------------------

function integer(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalidArgument(`${what} must be a whole number, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidArgument(`${what} must be a list of strings`);
  return value.map((item, i) => text(item, `${what}[${i}]`));
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgument(`${what} must be an object of string keys to string values`);
  }
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) out[key] = text(item, `${what}.${key}`);
  return out;
}

export function requireName(value: unknown, what: 'name' | 'id'): string {
  const label = what === 'name' ? 'service name' : 'instance id';
  const name = text(value, label);
  const problem = nameProblem(name, label);
  if (problem !== null) throw invalidArgument(problem);
  return name;
}

/** An optional service name (discover / watch): "" means every service. */
export function optionalName(value: unknown): string {
  const name = text(value, 'service name');
  return name === '' ? '' : requireName(name, 'name');
}

// --- checks -------------------------------------------------------------------------------------

/**
 * Validates one check (name + spec input) with src/health's rules, after filling in the
 * registry's schedule defaults for probed kinds. Throws INVALID_ARGUMENT naming the check.
 */
export function validateCheck(input: unknown, index: number): CheckDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidArgument(
      `checks[${index}] must be an object such as { "kind": "tcp", "host": "10.0.0.5", "port": 8080 }`,
    );
  }
  const { name: rawName, ...spec } = input as Record<string, unknown>;
  if (rawName !== undefined && typeof rawName !== 'string') {
    throw invalidArgument(`checks[${index}].name must be a string`);
  }
  const kind = spec['kind'];
  const label = `checks[${index}]${typeof rawName === 'string' && rawName !== '' ? ` (${rawName})` : ''}`;
  if (kind === 'http' || kind === 'tcp' || kind === 'grpc') {
    const interval = spec['intervalMs'] ?? DEFAULT_CHECK_INTERVAL_MS;
    spec['intervalMs'] = interval;
    if (spec['timeoutMs'] === undefined && typeof interval === 'number' && interval > 1) {
      spec['timeoutMs'] = Math.min(MAX_DEFAULT_TIMEOUT_MS, Math.floor(interval / 2));
    }
  }
  let validated;
  try {
    validated = validateCheckSpec(spec);
  } catch (error) {
    if (error instanceof InvalidCheckSpecError) throw invalidArgument(`${label}: ${error.message}`);
    throw error;
  }
  const name = typeof rawName === 'string' && rawName !== '' ? rawName : validated.kind;
  const problem = nameProblem(name, `${label} name`);
  if (problem !== null) throw invalidArgument(problem);
  return { ...validated, name };
}

export function validateChecks(inputs: readonly unknown[]): CheckDefinition[] {
  if (inputs.length > MAX_CHECKS) {
    throw invalidArgument(`an instance may have at most ${MAX_CHECKS} health checks, got ${inputs.length}`);
  }
  const checks = inputs.map((input, i) => validateCheck(input, i));
  const seen = new Set<string>();
  for (const check of checks) {
    if (seen.has(check.name)) {
      throw invalidArgument(
        `two health checks are named ${JSON.stringify(check.name)}; give each check of an instance its own name`,
      );
    }
    seen.add(check.name);
  }
  return checks;
}

// --- registration -------------------------------------------------------------------------------

/** Checks an instance's fields (shared by the gRPC and HTTP paths). */
export function validateInstanceFields(fields: {
  name: unknown;
  id: unknown;
  host: unknown;
  port: unknown;
  tags: unknown;
  metadata: unknown;
  weight: unknown;
  sessionId: unknown;
  checks: readonly unknown[];
}): Registration {
  const name = requireName(fields.name, 'name');
  const id = requireName(fields.id, 'id');
  const host = text(fields.host, 'host');
  if (host === '')
    throw invalidArgument('host is empty; give the host name or IP address clients should connect to');
  if (host.length > MAX_HOST_LENGTH || /[\s/]/.test(host)) {
    throw invalidArgument(
      `host ${JSON.stringify(host.slice(0, 64))} must be a host name or IP address (no spaces, scheme or path)`,
    );
  }
  const port = integer(fields.port, 'port');
  if (port < 1 || port > 65_535) throw invalidArgument(`port must be from 1 to 65535, got ${port}`);
  const rawWeight = integer(fields.weight, 'weight');
  const weight = fields.weight === undefined || fields.weight === null || rawWeight === 0 ? 1 : rawWeight;
  if (weight < 1 || weight > MAX_WEIGHT) {
    throw invalidArgument(`weight must be from 1 to ${MAX_WEIGHT} (0 or absent means 1), got ${rawWeight}`);
  }
  const tags = stringList(fields.tags, 'tags');
  if (tags.length > MAX_TAGS)
    throw invalidArgument(`an instance may have at most ${MAX_TAGS} tags, got ${tags.length}`);
  for (const tag of tags) {
    if (tag === '' || tag.length > MAX_TAG_LENGTH) {
      throw invalidArgument(`tags must be non-empty strings of at most ${MAX_TAG_LENGTH} characters`);
    }
  }
  const metadata = stringMap(fields.metadata, 'metadata');
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_ENTRIES) {
    throw invalidArgument(
      `an instance may have at most ${MAX_METADATA_ENTRIES} metadata entries, got ${entries.length}`,
    );
  }
  for (const [key, value] of entries) {
    if (key === '' || key.length > MAX_METADATA_KEY_LENGTH) {
      throw invalidArgument(
        `metadata keys must be non-empty and at most ${MAX_METADATA_KEY_LENGTH} characters`,
      );
    }
    if (value.length > MAX_METADATA_VALUE_LENGTH) {
      throw invalidArgument(`metadata.${key} is longer than ${MAX_METADATA_VALUE_LENGTH} characters`);
    }
  }
  const sessionId = integer(fields.sessionId, 'session id');
  if (sessionId < 0) throw invalidArgument(`session id must not be negative, got ${sessionId}`);
  const checks = validateChecks(fields.checks);
  return {
    instance: { name, id, host, port, tags: [...new Set(tags)], metadata, weight, checks },
    sessionId,
  };
}

export function registrationFromWire(wire: RegisterRequestWire): Registration {
  const instance: ServiceInstanceWire | null = wire.instance ?? null;
  if (instance === null || typeof instance !== 'object') {
    throw invalidArgument('RegisterRequest.instance is missing: give name, id, host and port');
  }
  const checks = Array.isArray(instance.checks) ? instance.checks : [];
  return validateInstanceFields({
    ...instance,
    checks: checks.map((check) => checkInputFromWire(check)),
  });
}

// --- discovery ----------------------------------------------------------------------------------

export function discoverFilterFromWire(wire: DiscoverRequestWire): { name: string; filter: DiscoverFilter } {
  const name = optionalName(wire.name);
  const tags = stringList(wire.tags, 'tags');
  const metadata = stringMap(wire.metadata, 'metadata');
  const limit = integer(wire.limit, 'limit');
  if (limit < 0) throw invalidArgument(`limit must not be negative, got ${limit}`);
  return {
    name,
    filter: { tags, metadata, healthyOnly: wire.healthyOnly === true, limit },
  };
}
