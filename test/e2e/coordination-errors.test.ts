/**
 * Bad coordination input gets a clear error with the right status, and nothing stored changes:
 * unknown and expired sessions, children under an ephemeral node, create on an existing node,
 * bad TTLs, paths and names. Through the client library (in-process cluster) and the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RaftreeClient } from '../../src/client/index.js';
import { runCli } from '../support/cli-runner.js';
import { rejection, startCoordinationCluster, type CoordinationCluster } from './coordination-harness.js';

let cluster: CoordinationCluster;
let client: RaftreeClient;
const UNKNOWN_SESSION = 987_654_321;

beforeAll(async () => {
  cluster = await startCoordinationCluster();
  client = cluster.client();
  await client.create('/bad/persistent', 'p', { parents: true });
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
});

/** The store's revision and every key under /bad, to compare before and after a refusal. */
async function snapshot(): Promise<{ revision: number; keys: string[]; sessions: number[] }> {
  const result = await client.get('/bad', { prefix: true });
  const sessions = (await client.sessions()).map((s) => s.id);
  return { revision: result.revision, keys: result.kvs.map((kv) => `${kv.key}=${kv.text()}`), sessions };
}

async function refusedWithoutChange(
  promise: () => Promise<unknown>,
  code: string,
  message: RegExp,
): Promise<void> {
  const before = await snapshot();
  const error = await rejection(promise());
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.outcomeUnknown).toBe(false);
  expect(await snapshot()).toEqual(before);
}

describe('unknown and expired sessions', () => {
  it('refuses an ephemeral create, info, revoke, campaign and lock for an unknown session', async () => {
    const session = new RegExp(`session ${UNKNOWN_SESSION} does not exist`);
    await refusedWithoutChange(
      () => client.create('/bad/e', 'x', { session: UNKNOWN_SESSION }),
      'NOT_FOUND',
      session,
    );
    await refusedWithoutChange(() => client.sessionInfo(UNKNOWN_SESSION), 'NOT_FOUND', session);
    await refusedWithoutChange(() => client.revokeSession(UNKNOWN_SESSION), 'NOT_FOUND', session);
    await refusedWithoutChange(
      () => client.election('bad').campaign('x', UNKNOWN_SESSION, { deadlineMs: 3_000 }),
      'NOT_FOUND',
      session,
    );
    await refusedWithoutChange(
      () => client.lock('bad', UNKNOWN_SESSION, { deadlineMs: 3_000 }),
      'NOT_FOUND',
      session,
    );
    await refusedWithoutChange(() => client.sessionById(UNKNOWN_SESSION), 'NOT_FOUND', session);
  });

  it('refuses the same for a session that expired, whose keys are gone', async () => {
    const session = await client.session({ ttlMs: 1_000 });
    await client.create('/bad/expiring', 'x', { session });
    session.stopLocally();
    await expect.poll(() => client.exists('/bad/expiring'), { timeout: 5_000, interval: 100 }).toBe(false);
    const gone = new RegExp(`session ${session.id} does not exist`);
    await refusedWithoutChange(
      () => client.create('/bad/late', 'x', { session: session.id }),
      'NOT_FOUND',
      gone,
    );
    await refusedWithoutChange(
      () => client.lock('bad', session.id, { deadlineMs: 3_000 }),
      'NOT_FOUND',
      gone,
    );
    await refusedWithoutChange(() => client.sessionInfo(session.id), 'NOT_FOUND', gone);
  });
});

describe('the tree', () => {
  it('refuses children under an ephemeral node', async () => {
    const session = await client.session({ ttlMs: 5_000 });
    await client.create('/bad/eph', 'x', { session });
    await refusedWithoutChange(
      () => client.create('/bad/eph/child', 'x'),
      'FAILED_PRECONDITION',
      /parent \/bad\/eph is ephemeral.*persistent node/,
    );
    await refusedWithoutChange(
      () => client.create('/bad/eph/child/deeper', 'x', { parents: true }),
      'FAILED_PRECONDITION',
      /ephemeral/,
    );
    await session.close();
  });

  it('refuses a create on an existing node, a missing parent and malformed paths', async () => {
    await refusedWithoutChange(
      () => client.create('/bad/persistent', 'other'),
      'ALREADY_EXISTS',
      /already exists/,
    );
    await refusedWithoutChange(() => client.create('/bad/no/parent', 'x'), 'FAILED_PRECONDITION', /parent/);
    for (const path of ['bad/relative', '/bad//double', '/bad/trailing/', '/']) {
      await refusedWithoutChange(() => client.create(path, 'x'), 'INVALID_ARGUMENT', /path/);
    }
  });

  it('refuses deletes of missing, non-empty and changed nodes', async () => {
    await refusedWithoutChange(() => client.deleteNode('/bad/missing'), 'NOT_FOUND', /does not exist/);
    await refusedWithoutChange(() => client.deleteNode('/bad'), 'FAILED_PRECONDITION', /children/);
    await refusedWithoutChange(
      () => client.deleteNode('/bad/persistent', { expectedVersion: 9 }),
      'FAILED_PRECONDITION',
      /version is 1, not the expected 9/,
    );
  });
});

describe('sessions and elections', () => {
  it.each([
    [-1_000, /must be positive/],
    [0, /must be positive/],
    [10, /too short/],
    [7_200_000, /too long/],
  ])('refuses a session TTL of %d ms', async (ttlMs, message) => {
    await refusedWithoutChange(() => client.session({ ttlMs }), 'INVALID_ARGUMENT', message);
  });

  it('refuses bad election names and a resign of a key outside the election', async () => {
    const session = await client.session({ ttlMs: 5_000 });
    await refusedWithoutChange(
      () => client.election('a/b').campaign('x', session, { deadlineMs: 3_000 }),
      'INVALID_ARGUMENT',
      /may contain only/,
    );
    await refusedWithoutChange(
      () =>
        client
          .election('real')
          .resign({ name: 'real', key: '/bad/persistent', sessionId: session.id, fencingToken: 1 }),
      'INVALID_ARGUMENT',
      /not a candidate/,
    );
    await session.close();
  });
});

describe('the CLI', () => {
  const cli = (args: readonly string[]) =>
    runCli([...args, '--endpoints', cluster.addresses.join(',')], { timeoutMs: 20_000 });

  it('prints one clear line and exits non-zero', async () => {
    const exists = await cli(['create', '/bad/persistent', 'x']);
    expect(exists.code).toBe(1);
    expect(exists.stderr.trim().split('\n')).toHaveLength(1);
    expect(exists.stderr).toMatch(/ALREADY_EXISTS.*already exists/);

    const unknown = await cli(['create', '/bad/e', 'x', '--ephemeral', String(UNKNOWN_SESSION)]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND.*does not exist/);

    const negative = await cli(['session', 'grant', '-5']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/TTL must be positive/);

    const revoke = await cli(['session', 'revoke', String(UNKNOWN_SESSION)]);
    expect(revoke.code).toBe(1);
    expect(revoke.stderr).toMatch(/NOT_FOUND/);

    expect((await client.get('/bad/e')).kvs).toHaveLength(0);
  });

  it('grants, lists and revokes a session, and lists children', async () => {
    const granted = await cli(['session', 'grant', '10s', '--json']);
    expect(granted.code).toBe(0);
    const { id } = JSON.parse(granted.stdout) as { id: number };
    expect(id).toBeGreaterThan(0);
    expect((await cli(['create', '/bad/cli-e', 'v', '--ephemeral', String(id)])).code).toBe(0);
    const created = await cli(['create', '/bad/seq-', 'v', '--sequential', '--json']);
    expect(JSON.parse(created.stdout)).toMatchObject({ path: expect.stringMatching(/^\/bad\/seq-\d{10}$/) });
    const list = await cli(['session', 'list', '--json']);
    const sessions = (JSON.parse(list.stdout) as { sessions: { id: number; keys: string[] }[] }).sessions;
    expect(sessions.find((s) => s.id === id)?.keys).toEqual(['/bad/cli-e']);
    const ls = await cli(['ls', '/bad']);
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['cli-e', 'persistent']));
    const revoked = await cli(['session', 'revoke', String(id)]);
    expect(revoked.stdout).toMatch(/revoked \(1 ephemeral key deleted\)/);
    expect(await client.exists('/bad/cli-e')).toBe(false);
  });
});
