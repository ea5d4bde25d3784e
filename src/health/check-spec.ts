/**
 * Health check definitions and their validation. A spec is validated once, when it is
 * registered, so that the runner (and the probe code) can trust every field; defaults are
 * filled in at the same time so what is stored is exactly what runs.
 */
import { isIPv6 } from 'node:net';
import { InvalidCheckSpecError, type CheckSpecProblem } from './errors.js';

export type CheckKind = 'http' | 'tcp' | 'grpc' | 'ttl';
export const CHECK_KINDS: readonly CheckKind[] = ['http', 'tcp', 'grpc', 'ttl'];

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** setTimeout fires at once for delays above 2^31 - 1 ms, which would turn a long interval into a busy loop. */
export const MAX_DURATION_MS = 2_147_483_647;
export const MAX_THRESHOLD = 100;
export const DEFAULT_FAILURES_BEFORE_CRITICAL = 3;
export const DEFAULT_SUCCESSES_BEFORE_PASSING = 1;

/** What every probed (non-TTL) check has. */
export interface ProbeSchedule {
  /** Time from the start of one probe to the start of the next. */
  readonly intervalMs: number;
  /** A probe not finished by then fails. Always below intervalMs. */
  readonly timeoutMs: number;
  /** Consecutive failed probes that turn a passing check critical. */
  readonly failuresBeforeCritical: number;
  /** Consecutive good probes that turn a critical check passing. */
  readonly successesBeforePassing: number;
}

export interface HttpCheckSpec extends ProbeSchedule {
  readonly kind: 'http';
  readonly url: string;
  readonly method: HttpMethod;
  /** Accepted status codes; undefined means any 2xx. */
  readonly expectStatus: readonly number[] | undefined;
  /** A substring the response body must contain (searched in the first 64 KiB). */
  readonly expectBody: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Accept any TLS certificate for https: URLs (self-signed internal services). */
  readonly tlsSkipVerify: boolean;
}

export interface TcpCheckSpec extends ProbeSchedule {
  readonly kind: 'tcp';
  readonly host: string;
  readonly port: number;
}

export interface GrpcCheckSpec extends ProbeSchedule {
  readonly kind: 'grpc';
  readonly host: string;
  readonly port: number;
  /** The service name sent in grpc.health.v1 HealthCheckRequest; "" asks about the whole server. */
  readonly service: string;
  /** Connect with TLS (system roots) instead of plaintext. */
  readonly tls: boolean;
}

export interface TtlCheckSpec {
  readonly kind: 'ttl';
  /** The check passes while heartbeats arrive less than this far apart. */
  readonly ttlMs: number;
}

export type ProbeCheckSpec = HttpCheckSpec | TcpCheckSpec | GrpcCheckSpec;
export type CheckSpec = ProbeCheckSpec | TtlCheckSpec;

type Optional<T, K extends keyof T> = Omit<T, K> & { readonly [P in K]?: T[P] | undefined };
type ScheduleDefaults = 'failuresBeforeCritical' | 'successesBeforePassing';

/** What callers write: the specs above with their defaulted fields optional. */
export type HttpCheckSpecInput = Optional<
  Omit<HttpCheckSpec, 'method' | 'expectStatus'>,
  ScheduleDefaults | 'expectBody' | 'headers' | 'tlsSkipVerify'
> & {
  readonly method?: HttpMethod | Lowercase<HttpMethod> | undefined;
  readonly expectStatus?: number | readonly number[] | undefined;
};
export type TcpCheckSpecInput = Optional<TcpCheckSpec, ScheduleDefaults>;
export type GrpcCheckSpecInput = Optional<GrpcCheckSpec, ScheduleDefaults | 'service' | 'tls'>;
export type TtlCheckSpecInput = TtlCheckSpec;
export type CheckSpecInput = HttpCheckSpecInput | TcpCheckSpecInput | GrpcCheckSpecInput | TtlCheckSpecInput;

const SCHEDULE_FIELDS = ['intervalMs', 'timeoutMs', 'failuresBeforeCritical', 'successesBeforePassing'];
const ALLOWED_FIELDS: Record<CheckKind, readonly string[]> = {
  http: [
    'kind',
    ...SCHEDULE_FIELDS,
    'url',
    'method',
    'expectStatus',
    'expectBody',
    'headers',
    'tlsSkipVerify',
  ],
  tcp: ['kind', ...SCHEDULE_FIELDS, 'host', 'port'],
  grpc: ['kind', ...SCHEDULE_FIELDS, 'host', 'port', 'service', 'tls'],
  ttl: ['kind', 'ttlMs'],
};

/**
 * Checks `input` and returns it with defaults filled in, or throws InvalidCheckSpecError naming
 * every bad field. Accepts `unknown` because specs arrive from the network and from files.
 */
export function validateCheckSpec(input: CheckSpecInput | unknown): CheckSpec {
  const problems: CheckSpecProblem[] = [];
  const spec = readSpec(input, problems);
  if (problems.length > 0 || spec === undefined) throw new InvalidCheckSpecError(problems);
  return spec;
}

function readSpec(input: unknown, problems: CheckSpecProblem[]): CheckSpec | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    problems.push({
      field: '',
      message: `a health check must be an object such as { kind: 'http', url, intervalMs, timeoutMs }, got ${describe(input)}`,
    });
    return undefined;
  }
  const fields = new FieldReader(input as Record<string, unknown>, problems);
  const kind = fields.raw('kind');
  if (kind === undefined) {
    problems.push({ field: 'kind', message: `kind is missing; use one of ${CHECK_KINDS.join(', ')}` });
    return undefined;
  }
  if (typeof kind !== 'string' || !(CHECK_KINDS as readonly string[]).includes(kind)) {
    problems.push({
      field: 'kind',
      message: `kind ${describe(kind)} is not a check kind; use one of ${CHECK_KINDS.join(', ')}`,
    });
    return undefined;
  }
  fields.rejectUnknown(ALLOWED_FIELDS[kind as CheckKind], kind);
  switch (kind as CheckKind) {
    case 'http':
      return readHttp(fields);
    case 'tcp':
      return { kind: 'tcp', ...readSchedule(fields), host: fields.host('host'), port: fields.port('port') };
    case 'grpc':
      return {
        kind: 'grpc',
        ...readSchedule(fields),
        host: fields.host('host'),
        port: fields.port('port'),
        service: fields.optionalString('service') ?? '',
        tls: fields.optionalBoolean('tls') ?? false,
      };
    case 'ttl':
      return { kind: 'ttl', ttlMs: fields.duration('ttlMs') };
  }
}

function readSchedule(fields: FieldReader): ProbeSchedule {
  const intervalMs = fields.duration('intervalMs');
  const timeoutMs = fields.duration('timeoutMs');
  if (intervalMs > 0 && timeoutMs > 0 && timeoutMs >= intervalMs) {
    fields.problem(
      'timeoutMs',
      `timeoutMs (${timeoutMs}) must be less than intervalMs (${intervalMs}), so each probe ends before the next is due; lower timeoutMs or raise intervalMs`,
    );
  }
  return {
    intervalMs,
    timeoutMs,
    failuresBeforeCritical: fields.threshold('failuresBeforeCritical', DEFAULT_FAILURES_BEFORE_CRITICAL),
    successesBeforePassing: fields.threshold('successesBeforePassing', DEFAULT_SUCCESSES_BEFORE_PASSING),
  };
}

function readHttp(fields: FieldReader): HttpCheckSpec {
  const schedule = readSchedule(fields);
  const url = fields.url('url');
  const method = fields.method('method');
  const expectBody = fields.optionalString('expectBody');
  if (expectBody === '') {
    fields.problem(
      'expectBody',
      'expectBody is empty, which every body contains; omit it or give the text to look for',
    );
  }
  if (expectBody !== undefined && method === 'HEAD') {
    fields.problem(
      'expectBody',
      'expectBody cannot be checked with method HEAD, whose responses have no body; use GET',
    );
  }
  return {
    kind: 'http',
    ...schedule,
    url,
    method,
    expectStatus: fields.statusCodes('expectStatus'),
    expectBody,
    headers: fields.headers('headers'),
    tlsSkipVerify: fields.optionalBoolean('tlsSkipVerify') ?? false,
  };
}

/** Reads typed fields, recording a problem (and returning a harmless placeholder) for bad ones. */
class FieldReader {
  constructor(
    private readonly input: Record<string, unknown>,
    private readonly problems: CheckSpecProblem[],
  ) {}

  raw(field: string): unknown {
    return Object.hasOwn(this.input, field) ? this.input[field] : undefined;
  }

  problem(field: string, message: string): void {
    this.problems.push({ field, message });
  }

  rejectUnknown(allowed: readonly string[], kind: string): void {
    for (const field of Object.keys(this.input)) {
      if (allowed.includes(field)) continue;
      const near = allowed.find((candidate) => candidate.toLowerCase() === field.toLowerCase());
      this.problem(
        field,
        near !== undefined
          ? `unknown field ${field} (did you mean ${near}?)`
          : `unknown field ${field} for a ${kind} check; allowed: ${allowed.join(', ')}`,
      );
    }
  }

  duration(field: string): number {
    const value = this.raw(field);
    if (value === undefined) {
      this.problem(field, `${field} is missing; give it in milliseconds`);
      return 0;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.problem(field, `${field} must be a positive number of milliseconds, got ${describe(value)}`);
      return 0;
    }
    if (value > MAX_DURATION_MS) {
      this.problem(field, `${field} must be at most ${MAX_DURATION_MS} ms (about 24.8 days), got ${value}`);
      return 0;
    }
    return value;
  }

  threshold(field: string, fallback: number): number {
    const value = this.raw(field);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_THRESHOLD) {
      this.problem(
        field,
        `${field} must be a whole number from 1 to ${MAX_THRESHOLD}, got ${describe(value)}`,
      );
      return fallback;
    }
    return value;
  }

  host(field: string): string {
    const value = this.raw(field);
    if (value === undefined || value === '') {
      this.problem(field, `${field} is missing; give a host name or IP address such as 127.0.0.1`);
      return '';
    }
    if (typeof value !== 'string' || /[\s/]/.test(value) || (value.includes(':') && !isIPv6(value))) {
      this.problem(
        field,
        `${field} must be a bare host name or IP address (no scheme, port or path), got ${describe(value)}`,
      );
      return '';
    }
    return value;
  }

  port(field: string): number {
    const value = this.raw(field);
    if (value === undefined) {
      this.problem(field, `${field} is missing; give a TCP port from 1 to 65535`);
      return 0;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
      this.problem(field, `${field} must be a whole number from 1 to 65535, got ${describe(value)}`);
      return 0;
    }
    return value;
  }

  url(field: string): string {
    const value = this.raw(field);
    if (value === undefined || value === '') {
      this.problem(
        field,
        `${field} is missing; give the full address to probe, e.g. http://10.0.0.5:8080/health`,
      );
      return '';
    }
    if (typeof value !== 'string') {
      this.problem(field, `${field} must be a string, got ${describe(value)}`);
      return '';
    }
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      this.problem(
        field,
        `${field} ${describe(value)} is not an absolute URL; write it as http://host:port/path`,
      );
      return '';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.problem(field, `${field} must use http: or https:, got ${parsed.protocol} in ${describe(value)}`);
      return '';
    }
    if (parsed.hostname === '') {
      this.problem(field, `${field} ${describe(value)} has no host`);
      return '';
    }
    return value;
  }

  method(field: string): HttpMethod {
    const value = this.raw(field);
    if (value === undefined) return 'GET';
    const upper = typeof value === 'string' ? value.toUpperCase() : undefined;
    if (upper === undefined || !(HTTP_METHODS as readonly string[]).includes(upper)) {
      this.problem(field, `${field} must be one of ${HTTP_METHODS.join(', ')}, got ${describe(value)}`);
      return 'GET';
    }
    return upper as HttpMethod;
  }

  statusCodes(field: string): readonly number[] | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    const codes = Array.isArray(value) ? (value as unknown[]) : [value];
    const valid =
      codes.length > 0 &&
      codes.every((code) => Number.isInteger(code) && (code as number) >= 100 && (code as number) <= 599);
    if (!valid) {
      this.problem(
        field,
        `${field} must be a status code from 100 to 599 or a non-empty list of them, got ${describe(value)}`,
      );
      return undefined;
    }
    return codes as number[];
  }

  headers(field: string): Readonly<Record<string, string>> {
    const value = this.raw(field);
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problem(
        field,
        `${field} must be an object of header names to string values, got ${describe(value)}`,
      );
      return {};
    }
    const headers: Record<string, string> = {};
    for (const [name, headerValue] of Object.entries(value)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
        this.problem(`${field}.${name}`, `header name ${describe(name)} is not a valid HTTP token`);
      } else if (typeof headerValue !== 'string' || /[\r\n\0]/.test(headerValue)) {
        this.problem(
          `${field}.${name}`,
          `header ${name} must be a single-line string, got ${describe(headerValue)}`,
        );
      } else {
        headers[name] = headerValue;
      }
    }
    return headers;
  }

  optionalString(field: string): string | undefined {
    const value = this.raw(field);
    if (value === undefined || typeof value === 'string') return value;
    this.problem(field, `${field} must be a string, got ${describe(value)}`);
    return undefined;
  }

  optionalBoolean(field: string): boolean | undefined {
    const value = this.raw(field);
    if (value === undefined || typeof value === 'boolean') return value;
    this.problem(field, `${field} must be true or false, got ${describe(value)}`);
    return undefined;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (Array.isArray(value)) return `a list (${value.length} items)`;
  return `a ${typeof value}`;
}
