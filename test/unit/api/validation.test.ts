/** Wire-to-command validation: limits, paths and enum values, without a cluster. */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/api/errors.js';
import {
  checkChildrenPath,
  toCompactRevision,
  toDeleteCommand,
  toMemberAddress,
  toPutCommand,
  toRangeRequest,
  toTxnCommand,
  toWatchOptions,
} from '../../../src/api/validation.js';
import { defaultLimits } from '../../../src/node/node-config.js';
import type { RangeRequestWire, TxnRequestWire } from '../../../src/api/wire-types.js';

const limits = defaultLimits;

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return { code: grpc.status[error.code], message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

const range = (fields: Partial<RangeRequestWire>): RangeRequestWire => ({
  key: '/a',
  mode: 0,
  revision: 0,
  limit: 0,
  keysOnly: false,
  countOnly: false,
  serializable: false,
  ...fields,
});

describe('children paths', () => {
  it.each(['/', '/a', '/a/b', '/a.b/c-d'])('accepts %s', (path) => {
    expect(() => checkChildrenPath(path, 'key')).not.toThrow();
  });
  it.each(['a', 'a/b', '/a/', '/a//b', '//'])('refuses %s', (path) => {
    expect(refusal(() => checkChildrenPath(path, 'key')).code).toBe('INVALID_ARGUMENT');
  });
});

describe('keys and values', () => {
  it('measures keys in UTF-8 bytes', () => {
    expect(() =>
      toPutCommand({ key: 'a'.repeat(4096), value: new Uint8Array(), prevKv: false }, limits),
    ).not.toThrow();
    expect(
      refusal(() => toPutCommand({ key: '€'.repeat(1366), value: new Uint8Array(), prevKv: false }, limits)),
    ).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'put key is 4098 bytes (UTF-8); keys may be at most 4096 bytes',
    });
  });

  it('refuses an oversized value with RESOURCE_EXHAUSTED', () => {
    const value = new Uint8Array(limits.maxValueBytes + 1);
    expect(refusal(() => toPutCommand({ key: '/k', value, prevKv: false }, limits)).code).toBe(
      'RESOURCE_EXHAUSTED',
    );
  });

  it('refuses wrong field types from a hand-rolled client', () => {
    const bogus = { key: 42, value: 'not bytes', prevKv: 'yes' } as unknown as Parameters<
      typeof toPutCommand
    >[0];
    expect(refusal(() => toPutCommand(bogus, limits)).message).toBe('put key must be a string');
  });
});

describe('reads', () => {
  it('builds a canonical range request', () => {
    expect(toRangeRequest(range({ mode: 1, key: '', limit: 2, serializable: true }), limits)).toEqual({
      request: { key: '', range: 'prefix', limit: 2 },
      serializable: true,
    });
  });

  it('refuses negative and unsafe numbers and unknown modes', () => {
    expect(refusal(() => toRangeRequest(range({ revision: -1 }), limits)).message).toMatch(
      /must not be negative/,
    );
    expect(refusal(() => toRangeRequest(range({ limit: 2 ** 60 }), limits)).message).toMatch(/below 2\^53/);
    expect(refusal(() => toRangeRequest(range({ mode: 3 }), limits)).message).toMatch(/mode 3 is not one of/);
  });
});

describe('writes', () => {
  it('refuses deleting everything, and turns prefix deletes into deleteRange', () => {
    expect(refusal(() => toDeleteCommand({ key: '', prefix: true, prevKv: false }, limits)).message).toMatch(
      /empty prefix/,
    );
    expect(toDeleteCommand({ key: '/a/', prefix: true, prevKv: true }, limits)).toEqual({
      type: 'deleteRange',
      prefix: '/a/',
      prevKv: true,
    });
  });

  it('refuses non-positive compact revisions', () => {
    expect(toCompactRevision(5)).toBe(5);
    expect(refusal(() => toCompactRevision(0)).code).toBe('INVALID_ARGUMENT');
  });

  it('limits txn ops per list and reports duplicate keys', () => {
    const put = (key: string) => ({
      request: 'put' as const,
      put: { key, value: new Uint8Array(), prevKv: false },
    });
    const txn = (success: ReturnType<typeof put>[]): TxnRequestWire => ({
      compare: [],
      success,
      failure: [],
    });
    expect(() =>
      toTxnCommand(txn(Array.from({ length: 128 }, (_, i) => put(`/k${i}`))), limits),
    ).not.toThrow();
    expect(
      refusal(() => toTxnCommand(txn(Array.from({ length: 129 }, (_, i) => put(`/k${i}`))), limits)).code,
    ).toBe('INVALID_ARGUMENT');
    expect(refusal(() => toTxnCommand(txn([put('/d'), put('/d')]), limits)).message).toMatch(/duplicate key/);
  });
});

describe('watch and cluster requests', () => {
  it('validates watch creation', () => {
    const create = { key: '/a', mode: 2, startRevision: 0, prevKv: true, progressNotify: true, watchId: 4 };
    expect(toWatchOptions(create, limits)).toEqual({
      options: { key: '/a', range: 'children', prevKv: true },
      progressNotify: true,
      watchId: 4,
    });
    expect(refusal(() => toWatchOptions({ ...create, watchId: -2 }, limits)).code).toBe('INVALID_ARGUMENT');
  });

  it('validates member addresses', () => {
    expect(toMemberAddress('10.0.0.4:7001')).toBe('10.0.0.4:7001');
    for (const bad of ['', 'host', 'host:0', 'host:99999', ' h:1']) {
      expect(refusal(() => toMemberAddress(bad)).code).toBe('INVALID_ARGUMENT');
    }
  });
});
