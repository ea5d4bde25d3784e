/** The registry's pure model: names and keys, the stored JSON, health bookkeeping, filters, changes. */
import { describe, expect, it } from 'vitest';
import {
  applyFilter,
  classifyChange,
  decodeInstance,
  encodeInstance,
  initialHealth,
  matchesFilter,
  nameProblem,
  NOT_CHECKED_YET,
  parseServiceKey,
  serviceKey,
  servicePrefix,
  withCheckState,
  type CheckDefinition,
  type InstanceRecord,
  type ServiceInstance,
} from '../../../src/registry/model.js';

const ttl: CheckDefinition = { name: 'ttl', kind: 'ttl', ttlMs: 5000 };
const tcp: CheckDefinition = {
  name: 'tcp',
  kind: 'tcp',
  host: '127.0.0.1',
  port: 8080,
  intervalMs: 1000,
  timeoutMs: 500,
  failuresBeforeCritical: 3,
  successesBeforePassing: 1,
};

function instance(id: string, fields: Partial<ServiceInstance> = {}): ServiceInstance {
  return {
    name: 'api',
    id,
    host: '10.0.0.1',
    port: 80,
    tags: [],
    metadata: {},
    weight: 1,
    checks: [],
    health: { status: 'passing', checks: [] },
    ...fields,
  };
}

const record = (i: ServiceInstance, modRevision = 1): InstanceRecord => ({
  instance: i,
  key: serviceKey(i.name, i.id),
  createRevision: 1,
  modRevision,
  session: 0,
});

describe('names and keys', () => {
  it('accepts path-safe names and refuses the rest with a reason', () => {
    expect(nameProblem('api-v2.eu_1:a', 'service name')).toBeNull();
    expect(nameProblem('', 'service name')).toMatch(/empty/);
    expect(nameProblem('a/b', 'instance id')).toMatch(/may contain only/);
    expect(nameProblem('-x', 'instance id')).toMatch(/start with a letter or digit/);
    expect(nameProblem('x'.repeat(129), 'instance id')).toMatch(/longer than 128/);
  });

  it('maps instance keys both ways and ignores other keys', () => {
    expect(serviceKey('api', 'a1')).toBe('/_services/api/a1');
    expect(servicePrefix('api')).toBe('/_services/api/');
    expect(servicePrefix('')).toBe('/_services/');
    expect(parseServiceKey('/_services/api/a1')).toEqual({ name: 'api', id: 'a1' });
    expect(parseServiceKey('/_services/api')).toBeUndefined();
    expect(parseServiceKey('/_services/api/a1/x')).toBeUndefined();
    expect(parseServiceKey('/other/api/a1')).toBeUndefined();
  });
});

describe('stored JSON', () => {
  it('round-trips an instance with checks and health', () => {
    const stored = instance('a1', {
      tags: ['v2'],
      metadata: { zone: 'a' },
      weight: 3,
      checks: [ttl, tcp],
      health: initialHealth([ttl, tcp], undefined, 42),
    });
    expect(decodeInstance('/_services/api/a1', encodeInstance(stored))).toEqual(stored);
  });

  it('reads what a stray KV write put under the prefix as nothing, not as an error', () => {
    const key = '/_services/api/a1';
    expect(decodeInstance(key, new TextEncoder().encode('not json'))).toBeUndefined();
    expect(decodeInstance(key, new TextEncoder().encode('{"host":"h"}'))).toBeUndefined();
    expect(decodeInstance(key, new Uint8Array([0xff, 0xfe]))).toBeUndefined();
    // Name and id come from the key, whatever the value claims.
    const other = encodeInstance(instance('zz', { name: 'other' }));
    expect(decodeInstance(key, other)).toMatchObject({ name: 'api', id: 'a1' });
  });
});

describe('health', () => {
  it('starts with no checks passing and every new check critical (Consul semantics)', () => {
    expect(initialHealth([], undefined, 1)).toEqual({ status: 'passing', checks: [] });
    const health = initialHealth([ttl, tcp], undefined, 7);
    expect(health.status).toBe('critical');
    expect(health.checks).toEqual([
      { name: 'ttl', kind: 'ttl', status: 'critical', output: NOT_CHECKED_YET, since: 7 },
      { name: 'tcp', kind: 'tcp', status: 'critical', output: NOT_CHECKED_YET, since: 7 },
    ]);
  });

  it('keeps the state of an unchanged check on re-registration, resets a changed one', () => {
    const before = instance('a1', {
      checks: [ttl, tcp],
      health: {
        status: 'passing',
        checks: [
          { name: 'ttl', kind: 'ttl', status: 'passing', output: 'heartbeat received', since: 5 },
          { name: 'tcp', kind: 'tcp', status: 'passing', output: 'connected', since: 5 },
        ],
      },
    });
    const changedTcp: CheckDefinition = { ...tcp, port: 9090 };
    const health = initialHealth([ttl, changedTcp], before, 9);
    expect(health.checks[0]).toEqual(before.health.checks[0]);
    expect(health.checks[1]).toMatchObject({ name: 'tcp', status: 'critical', since: 9 });
    expect(health.status).toBe('critical');
  });

  it('replaces one check state and recomputes the instance status', () => {
    const start = instance('a1', { checks: [ttl], health: initialHealth([ttl], undefined, 1) });
    const passing = withCheckState(start, 'ttl', 'passing', 'ok', 2)!;
    expect(passing.health).toEqual({
      status: 'passing',
      checks: [{ name: 'ttl', kind: 'ttl', status: 'passing', output: 'ok', since: 2 }],
    });
    expect(withCheckState(start, 'nope', 'passing', 'ok', 2)).toBeUndefined();
  });
});

describe('discover filters', () => {
  const records = [
    record(instance('a1', { tags: ['v2', 'blue'], metadata: { zone: 'a', tier: 'web' } })),
    record(instance('a2', { tags: ['v2'], metadata: { zone: 'b' } })),
    record(
      instance('a3', { tags: ['blue'], metadata: { zone: 'a' }, health: { status: 'critical', checks: [] } }),
    ),
    record(instance('a4', { tags: [], metadata: {} })),
  ];
  const ids = (filter: Parameters<typeof applyFilter>[1]) =>
    applyFilter(records, filter).matched.map((r) => r.instance.id);

  it('tags: all of them', () => {
    expect(ids({ tags: ['v2'] })).toEqual(['a1', 'a2']);
    expect(ids({ tags: ['v2', 'blue'] })).toEqual(['a1']);
    expect(ids({ tags: ['v2', 'red'] })).toEqual([]);
  });

  it('metadata: every entry equal', () => {
    expect(ids({ metadata: { zone: 'a' } })).toEqual(['a1', 'a3']);
    expect(ids({ metadata: { zone: 'a', tier: 'web' } })).toEqual(['a1']);
    expect(ids({ metadata: { zone: '' } })).toEqual([]);
    // An inherited property is not metadata.
    expect(matchesFilter(records[3]!.instance, { metadata: { toString: 'x' } })).toBe(false);
  });

  it('healthy only and limit (count is before the limit)', () => {
    expect(ids({ healthyOnly: true })).toEqual(['a1', 'a2', 'a4']);
    expect(applyFilter(records, { healthyOnly: true, limit: 2 })).toMatchObject({ count: 3 });
    expect(ids({ healthyOnly: true, limit: 2 })).toEqual(['a1', 'a2']);
    expect(ids({})).toEqual(['a1', 'a2', 'a3', 'a4']);
  });
});

describe('changes', () => {
  const key = '/_services/api/a1';
  const critical = record(instance('a1', { health: { status: 'critical', checks: [] } }), 1);
  const passing = record(instance('a1'), 2);
  const moved = record(instance('a1', { port: 81 }), 3);

  it('classifies puts and deletes', () => {
    expect(classifyChange(1, key, critical, undefined)).toMatchObject({
      type: 'registered',
      name: 'api',
      id: 'a1',
    });
    expect(classifyChange(2, key, passing, critical)).toMatchObject({ type: 'health', previous: critical });
    expect(classifyChange(3, key, moved, passing)).toMatchObject({ type: 'updated' });
    expect(classifyChange(4, key, undefined, moved)).toMatchObject({ type: 'deregistered', instance: moved });
    expect(classifyChange(5, '/_services/api', undefined, undefined)).toBeUndefined();
  });
});
