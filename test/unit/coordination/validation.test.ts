/** The coordination API's request checks and the CLI's duration parsing. */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/api/errors.js';
import { parseDuration, parseSessionId, formatMs } from '../../../src/cli/commands/session.js';
import { CliError } from '../../../src/cli/cli-error.js';
import {
  ELECTION_ROOT,
  toCreateCommand,
  toDeleteNodeCommand,
  toLeaderKey,
  toReadPath,
  toRecipeName,
  toSessionId,
  toTtlMs,
} from '../../../src/coordination/validation.js';
import { defaultLimits } from '../../../src/node/node-config.js';

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected a refusal');
}

const create = (path: unknown, extra: Record<string, unknown> = {}) =>
  toCreateCommand(
    { path, value: Buffer.from('v'), sessionId: 0, sequential: false, parents: false, ...extra },
    defaultLimits,
  );

describe('session TTL', () => {
  it('accepts 1 s to 1 h', () => {
    expect(toTtlMs(1000)).toBe(1000);
    expect(toTtlMs(3_600_000)).toBe(3_600_000);
  });

  it.each([
    [0, /must be positive/],
    [-5000, /must be positive/],
    [999, /too short/],
    [3_600_001, /too long/],
    [1.5, /integer/],
    ['10', /integer/],
  ])('refuses %s with INVALID_ARGUMENT', (ttl, message) => {
    const error = refusal(() => toTtlMs(ttl));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.message).toMatch(message);
  });
});

describe('session ids', () => {
  it('needs a positive integer', () => {
    expect(toSessionId(7)).toBe(7);
    for (const bad of [0, -1, 2.5, 'x']) {
      expect(refusal(() => toSessionId(bad)).code).toBe(grpc.status.INVALID_ARGUMENT);
    }
  });
});

describe('create and delete requests', () => {
  it('builds a create command with only the options that are set', () => {
    expect(create('/a/b')).toEqual({ type: 'create', path: '/a/b', value: Buffer.from('v') });
    expect(create('/q/n-', { sessionId: 3, sequential: true, parents: true })).toEqual({
      type: 'create',
      path: '/q/n-',
      value: Buffer.from('v'),
      session: 3,
      sequential: true,
      parents: true,
    });
  });

  it.each(['', 'a/b', '/a//b', '/a/', '/', '/a/../b'])(
    'refuses the path %j with INVALID_ARGUMENT',
    (path) => {
      const error = refusal(() => create(path));
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.message).toMatch(/path/);
    },
  );

  it('allows a sequential path that ends with /', () => {
    expect(create('/queue/', { sequential: true }).path).toBe('/queue/');
  });

  it('refuses a negative session id and an oversized value', () => {
    expect(refusal(() => create('/a', { sessionId: -1 })).code).toBe(grpc.status.INVALID_ARGUMENT);
    const big = Buffer.alloc(defaultLimits.maxValueBytes + 1);
    expect(refusal(() => create('/a', { value: big })).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('treats expected_version 0 and -1 as any version', () => {
    expect(toDeleteNodeCommand({ path: '/a', expectedVersion: 0 }, defaultLimits)).toEqual({
      type: 'deleteNode',
      path: '/a',
    });
    expect(toDeleteNodeCommand({ path: '/a', expectedVersion: -1 }, defaultLimits)).toEqual({
      type: 'deleteNode',
      path: '/a',
    });
    expect(toDeleteNodeCommand({ path: '/a', expectedVersion: 4 }, defaultLimits)).toEqual({
      type: 'deleteNode',
      path: '/a',
      expectedVersion: 4,
    });
    expect(refusal(() => toDeleteNodeCommand({ path: '/a', expectedVersion: -2 }, defaultLimits)).code).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
  });

  it('reads the root and well-formed paths only', () => {
    expect(toReadPath('/', 'ls', defaultLimits)).toBe('/');
    expect(toReadPath('/a/b', 'ls', defaultLimits)).toBe('/a/b');
    expect(refusal(() => toReadPath('a', 'ls', defaultLimits)).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('election and lock names and keys', () => {
  it('accepts one path segment of safe characters', () => {
    expect(toRecipeName('jobs.cleanup-1', 'name')).toBe('jobs.cleanup-1');
    for (const bad of ['', 'a/b', '..', 'sp ace', 'x'.repeat(129)]) {
      expect(refusal(() => toRecipeName(bad, 'name')).code).toBe(grpc.status.INVALID_ARGUMENT);
    }
  });

  it('accepts only a candidate key of the named election in Resign / Unlock', () => {
    const key = { name: 'e', key: '/_election/e/c-0000000003', sessionId: 5, fencingToken: 9 };
    expect(toLeaderKey(key, ELECTION_ROOT, 'resign')).toEqual(key);
    for (const bad of [
      { ...key, key: '/important/data' },
      { ...key, key: '/_election/other/c-0000000003' },
      { ...key, key: '/_election/e/c-1/x' },
      { ...key, fencingToken: 0 },
      null,
    ]) {
      expect(refusal(() => toLeaderKey(bad, ELECTION_ROOT, 'resign')).code).toBe(
        grpc.status.INVALID_ARGUMENT,
      );
    }
  });
});

describe('CLI durations and ids', () => {
  it.each([
    ['10', 10_000],
    ['10s', 10_000],
    ['1.5', 1_500],
    ['1500ms', 1_500],
    ['2m', 120_000],
  ])('parses %s as %d ms', (text, ms) => {
    expect(parseDuration(text, 'TTL')).toBe(ms);
  });

  it.each(['0', '-3', 'abc', '10h', ''])('refuses %j as a usage error', (text) => {
    expect(() => parseDuration(text, 'TTL')).toThrow(CliError);
    try {
      parseDuration(text, 'TTL');
    } catch (error) {
      expect((error as CliError).exitCode).toBe(2);
    }
  });

  it('parses session ids and formats durations', () => {
    expect(parseSessionId('42')).toBe(42);
    expect(() => parseSessionId('0')).toThrow(CliError);
    expect(() => parseSessionId('x')).toThrow(CliError);
    expect(formatMs(10_000)).toBe('10s');
    expect(formatMs(1_500)).toBe('1.5s');
  });
});
