/** Registration input checks (gRPC wire and HTTP JSON), without a cluster. */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/api/errors.js';
import { httpStatusOf, registerRequestFromJson } from '../../../src/registry/http-routes.js';
import {
  discoverFilterFromWire,
  registrationFromWire,
  validateCheck,
  validateChecks,
} from '../../../src/registry/validation.js';
import { checkInputFromWire, checkToWire, type ServiceInstanceWire } from '../../../src/registry/wire.js';

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return { code: grpc.status[error.code]!, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

const wire = (fields: Partial<ServiceInstanceWire> = {}): { instance: ServiceInstanceWire } => ({
  instance: {
    name: 'api',
    id: 'a1',
    host: '10.0.0.1',
    port: 8080,
    tags: [],
    metadata: {},
    weight: 0,
    sessionId: 0,
    checks: [],
    health: null,
    createRevision: 0,
    modRevision: 0,
    ...fields,
  },
});

describe('registration', () => {
  it('accepts a minimal instance with weight 1 by default', () => {
    const { instance, sessionId } = registrationFromWire(wire());
    expect(instance).toEqual({
      name: 'api',
      id: 'a1',
      host: '10.0.0.1',
      port: 8080,
      tags: [],
      metadata: {},
      weight: 1,
      checks: [],
    });
    expect(sessionId).toBe(0);
  });

  it.each([
    [{ name: '' }, /service name is empty/],
    [{ id: 'a/b' }, /instance id "a\/b" may contain only/],
    [{ host: '' }, /host is empty/],
    [{ host: 'http://x/' }, /must be a host name or IP address/],
    [{ port: 0 }, /port must be from 1 to 65535, got 0/],
    [{ port: 70000 }, /port must be from 1 to 65535, got 70000/],
    [{ weight: -2 }, /weight must be from 1 to/],
    [{ tags: [''] }, /tags must be non-empty/],
    [{ sessionId: -1 }, /session id must not be negative/],
  ])('refuses %j', (fields, message) => {
    const { code, message: text } = refusal(() => registrationFromWire(wire(fields)));
    expect(code).toBe('INVALID_ARGUMENT');
    expect(text).toMatch(message);
  });

  it('refuses a missing instance', () => {
    expect(refusal(() => registrationFromWire({ instance: null })).message).toMatch(/instance is missing/);
  });
});

describe('checks', () => {
  it('fills in the registry defaults for probed kinds and names checks after their kind', () => {
    expect(validateCheck({ kind: 'tcp', host: '127.0.0.1', port: 9 }, 0)).toEqual({
      name: 'tcp',
      kind: 'tcp',
      host: '127.0.0.1',
      port: 9,
      intervalMs: 10_000,
      timeoutMs: 5_000,
      failuresBeforeCritical: 3,
      successesBeforePassing: 1,
    });
    expect(validateCheck({ kind: 'http', url: 'http://h/health', intervalMs: 1000 }, 0)).toMatchObject({
      intervalMs: 1000,
      timeoutMs: 500,
      method: 'GET',
    });
    expect(validateCheck({ name: 'beat', kind: 'ttl', ttlMs: 3000 }, 0)).toEqual({
      name: 'beat',
      kind: 'ttl',
      ttlMs: 3000,
    });
  });

  it('refuses an invalid spec naming the check and the field (src/health rules)', () => {
    const bad = refusal(() => validateCheck({ name: 'web', kind: 'http', url: 'ftp://x' }, 2));
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(bad.message).toMatch(/checks\[2\] \(web\): invalid health check: url must use http: or https:/);
    expect(refusal(() => validateCheck({ kind: 'ttl' }, 0)).message).toMatch(/ttlMs is missing/);
    expect(refusal(() => validateCheck({ kind: 'tcp', host: 'h', port: 1, url: 'x' }, 0)).message).toMatch(
      /unknown field url for a tcp check/,
    );
    expect(refusal(() => validateCheck({ kind: 'dns' }, 0)).message).toMatch(/not a check kind/);
    expect(
      refusal(() => validateCheck({ kind: 'tcp', host: 'h', port: 1, intervalMs: 100, timeoutMs: 200 }, 0))
        .message,
    ).toMatch(/timeoutMs \(200\) must be less than intervalMs \(100\)/);
  });

  it('refuses two checks with one name', () => {
    expect(
      refusal(() =>
        validateChecks([
          { kind: 'ttl', ttlMs: 1000 },
          { kind: 'ttl', ttlMs: 2000 },
        ]),
      ).message,
    ).toMatch(/two health checks are named "ttl"/);
  });

  it('survives the wire both ways', () => {
    const checks = validateChecks([
      { kind: 'http', url: 'http://h:1/x', expectBody: 'ok', headers: { 'x-a': 'b' }, expectStatus: 204 },
      { kind: 'grpc', host: 'h', port: 50051, service: 'svc', intervalMs: 2000 },
      { name: 'beat', kind: 'ttl', ttlMs: 1500 },
    ]);
    const again = validateChecks(checks.map((c) => checkInputFromWire(checkToWire(c))));
    expect(again).toEqual(checks);
  });
});

describe('HTTP JSON', () => {
  it('accepts the seed field names', () => {
    const request = registerRequestFromJson({
      service_name: 'api',
      service_id: 'a1',
      host: '10.0.0.1',
      port: 80,
      metadata: { zone: 'a' },
      tags: ['x'],
    });
    expect(request.instance).toMatchObject({
      name: 'api',
      id: 'a1',
      port: 80,
      tags: ['x'],
      metadata: { zone: 'a' },
    });
  });

  it.each([
    [{ name: 'api', host: 'h', port: 1 }, /id is missing/],
    [{ name: 'api', id: 'a', host: 'h', port: '80' }, /port must be a whole number/],
    [{ name: 'api', id: 'a', host: 'h', port: 1, weight: 0 }, /weight must be at least 1/],
    [{ name: 'api', id: 'a', host: 'h', port: 1, tags: 'x' }, /tags must be a list/],
    [{ name: 'api', id: 'a', host: 'h', port: 1, metadata: { a: 1 } }, /metadata.a must be a string/],
    [{ name: 'api', id: 'a', host: 'h', port: 1, checks: [{ kind: 'ttl', ttl: 5 }] }, /unknown field ttl/],
  ])('refuses %j', (body, message) => {
    expect(refusal(() => registerRequestFromJson(body)).message).toMatch(message);
  });

  it('maps statuses', () => {
    expect(httpStatusOf(grpc.status.INVALID_ARGUMENT)).toBe(400);
    expect(httpStatusOf(grpc.status.NOT_FOUND)).toBe(404);
    expect(httpStatusOf(grpc.status.FAILED_PRECONDITION)).toBe(409);
    expect(httpStatusOf(grpc.status.UNAVAILABLE)).toBe(503);
    expect(httpStatusOf(grpc.status.DEADLINE_EXCEEDED)).toBe(504);
    expect(httpStatusOf(grpc.status.INTERNAL)).toBe(500);
  });
});

describe('discover request', () => {
  it('reads filters and refuses a bad name or limit', () => {
    expect(
      discoverFilterFromWire({
        name: '',
        tags: ['a'],
        metadata: { k: 'v' },
        healthyOnly: true,
        limit: 2,
        serializable: false,
      }),
    ).toEqual({ name: '', filter: { tags: ['a'], metadata: { k: 'v' }, healthyOnly: true, limit: 2 } });
    expect(
      refusal(() =>
        discoverFilterFromWire({
          name: 'a b',
          tags: [],
          metadata: {},
          healthyOnly: false,
          limit: 0,
          serializable: false,
        }),
      ).message,
    ).toMatch(/may contain only/);
    expect(
      refusal(() =>
        discoverFilterFromWire({
          name: 'a',
          tags: [],
          metadata: {},
          healthyOnly: false,
          limit: -1,
          serializable: false,
        }),
      ).message,
    ).toMatch(/limit must not be negative/);
  });
});
