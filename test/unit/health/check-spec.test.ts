import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FAILURES_BEFORE_CRITICAL,
  DEFAULT_SUCCESSES_BEFORE_PASSING,
  InvalidCheckSpecError,
  validateCheckSpec,
} from '../../../src/health/index.js';

/** The problems validateCheckSpec reports for `input`, as "field: message". */
function problemsOf(input: unknown): string[] {
  try {
    validateCheckSpec(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCheckSpecError);
    return (error as InvalidCheckSpecError).problems.map((p) => `${p.field}: ${p.message}`);
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

const http = { kind: 'http', url: 'http://127.0.0.1:8080/health', intervalMs: 1_000, timeoutMs: 500 };
const tcp = { kind: 'tcp', host: '127.0.0.1', port: 5432, intervalMs: 1_000, timeoutMs: 500 };

describe('validateCheckSpec', () => {
  it('fills in the defaults of an HTTP check', () => {
    expect(validateCheckSpec(http)).toEqual({
      ...http,
      method: 'GET',
      expectStatus: undefined,
      expectBody: undefined,
      headers: {},
      tlsSkipVerify: false,
      failuresBeforeCritical: DEFAULT_FAILURES_BEFORE_CRITICAL,
      successesBeforePassing: DEFAULT_SUCCESSES_BEFORE_PASSING,
    });
  });

  it('accepts every kind, normalizing what it can', () => {
    expect(validateCheckSpec({ ...http, method: 'head', expectStatus: 204 })).toMatchObject({
      method: 'HEAD',
      expectStatus: [204],
    });
    expect(validateCheckSpec({ ...tcp, host: '::1' })).toMatchObject({ kind: 'tcp', host: '::1' });
    expect(validateCheckSpec({ ...tcp, kind: 'grpc' })).toMatchObject({
      kind: 'grpc',
      service: '',
      tls: false,
    });
    expect(validateCheckSpec({ kind: 'ttl', ttlMs: 30_000 })).toEqual({ kind: 'ttl', ttlMs: 30_000 });
  });

  it('is idempotent: a validated spec validates to itself', () => {
    for (const input of [http, tcp, { ...tcp, kind: 'grpc', service: 'db' }, { kind: 'ttl', ttlMs: 5 }]) {
      const once = validateCheckSpec(input);
      expect(validateCheckSpec(once)).toEqual(once);
      expect(validateCheckSpec(JSON.parse(JSON.stringify(once)))).toEqual(once);
    }
  });

  it('rejects zero, negative, non-numeric and timer-overflowing durations', () => {
    expect(problemsOf({ ...http, intervalMs: 0 })).toEqual([
      'intervalMs: intervalMs must be a positive number of milliseconds, got 0',
    ]);
    expect(problemsOf({ ...http, intervalMs: -5 })[0]).toMatch(
      /intervalMs must be a positive number.*got -5/,
    );
    expect(problemsOf({ ...http, timeoutMs: '5s' })[0]).toMatch(
      /timeoutMs must be a positive number.*got "5s"/,
    );
    expect(problemsOf({ ...http, intervalMs: 2 ** 31 })[0]).toMatch(
      /intervalMs must be at most 2147483647 ms/,
    );
    expect(problemsOf({ kind: 'ttl', ttlMs: Number.NaN })[0]).toMatch(/ttlMs must be a positive number/);
    expect(problemsOf({ kind: 'http', url: 'http://x/' })).toEqual([
      'intervalMs: intervalMs is missing; give it in milliseconds',
      'timeoutMs: timeoutMs is missing; give it in milliseconds',
    ]);
  });

  it('rejects a timeout that is not below the interval, saying how to fix it', () => {
    expect(problemsOf({ ...http, timeoutMs: 1_000 })).toEqual([
      'timeoutMs: timeoutMs (1000) must be less than intervalMs (1000), so each probe ends before the next is due; lower timeoutMs or raise intervalMs',
    ]);
  });

  it('rejects a missing, relative or non-HTTP URL', () => {
    expect(problemsOf({ ...http, url: undefined })[0]).toMatch(/^url: url is missing; give the full address/);
    expect(problemsOf({ ...http, url: '/health' })[0]).toMatch(/is not an absolute URL; write it as http/);
    expect(problemsOf({ ...http, url: 'ftp://host/health' })[0]).toMatch(
      /must use http: or https:, got ftp:/,
    );
  });

  it('rejects bad ports and hosts', () => {
    for (const port of [0, -1, 65_536, 80.5, '80']) {
      expect(problemsOf({ ...tcp, port })[0]).toMatch(/^port: port must be a whole number from 1 to 65535/);
    }
    expect(problemsOf({ ...tcp, port: undefined })[0]).toMatch(/port is missing/);
    expect(problemsOf({ ...tcp, host: '' })[0]).toMatch(/host is missing/);
    expect(problemsOf({ ...tcp, host: 'db:5432' })[0]).toMatch(
      /bare host name or IP address \(no scheme, port or path\)/,
    );
    expect(problemsOf({ ...tcp, host: 'http://db' })[0]).toMatch(/bare host name/);
  });

  it('rejects an unknown or missing kind, listing the valid ones', () => {
    expect(problemsOf({ ...tcp, kind: 'icmp' })).toEqual([
      'kind: kind "icmp" is not a check kind; use one of http, tcp, grpc, ttl',
    ]);
    expect(problemsOf({ intervalMs: 1 })[0]).toBe('kind: kind is missing; use one of http, tcp, grpc, ttl');
    expect(problemsOf(null)[0]).toMatch(/must be an object such as \{ kind: 'http'/);
    expect(problemsOf([http])[0]).toMatch(/got a list/);
  });

  it('rejects fields that do not belong to the kind, suggesting the right spelling', () => {
    expect(problemsOf({ ...tcp, intervalMS: 5 })).toEqual([
      'intervalMS: unknown field intervalMS (did you mean intervalMs?)',
    ]);
    expect(problemsOf({ kind: 'ttl', ttlMs: 5, url: 'http://x/' })[0]).toMatch(
      /unknown field url for a ttl check; allowed: kind, ttlMs/,
    );
  });

  it('checks thresholds, status codes, methods, bodies and headers', () => {
    expect(problemsOf({ ...http, failuresBeforeCritical: 0 })[0]).toMatch(
      /failuresBeforeCritical must be a whole number from 1 to 100, got 0/,
    );
    expect(problemsOf({ ...http, successesBeforePassing: 1.5 })[0]).toMatch(
      /successesBeforePassing must be a whole number/,
    );
    expect(problemsOf({ ...http, expectStatus: [200, 999] })[0]).toMatch(
      /expectStatus must be a status code from 100 to 599/,
    );
    expect(problemsOf({ ...http, expectStatus: [] })[0]).toMatch(/non-empty list/);
    expect(problemsOf({ ...http, method: 'FETCH' })[0]).toMatch(/method must be one of GET, HEAD, POST/);
    expect(problemsOf({ ...http, method: 'HEAD', expectBody: 'ok' })[0]).toMatch(
      /cannot be checked with method HEAD/,
    );
    expect(problemsOf({ ...http, expectBody: '' })[0]).toMatch(/expectBody is empty/);
    expect(problemsOf({ ...http, headers: { 'Bad Header': 'x' } })[0]).toMatch(
      /^headers.Bad Header: header name "Bad Header" is not a valid HTTP token/,
    );
    expect(problemsOf({ ...http, headers: { 'X-A': 'one\r\nX-Injected: two' } })[0]).toMatch(
      /single-line string/,
    );
  });

  it('reports every problem at once, in one message a person can act on', () => {
    const error = (() => {
      try {
        validateCheckSpec({ kind: 'tcp', host: '', port: 0, intervalMs: -1, timeoutMs: 0 });
      } catch (caught) {
        return caught as InvalidCheckSpecError;
      }
      throw new Error('not rejected');
    })();
    expect(error.problems.map((p) => p.field)).toEqual(['intervalMs', 'timeoutMs', 'host', 'port']);
    expect(error.message).toMatch(
      /^invalid health check: intervalMs must be .*; timeoutMs must be .*; host is missing.*; port must be/,
    );
  });
});
