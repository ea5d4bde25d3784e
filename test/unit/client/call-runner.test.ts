/** The retry loop against fake connections: which attempts happen, where, and what surfaces. */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CallRunner, type CallSpec } from '../../../src/client/call-runner.js';
import { ClientClosedError, NotConnectedError, type ConnectionPool } from '../../../src/client/connection.js';
import { EndpointSelector } from '../../../src/client/endpoint-selector.js';
import { RaftreeError } from '../../../src/client/errors.js';

const [A, B, C] = ['h1:1', 'h2:1', 'h3:1'] as const;
const members = [
  { id: 'n1', address: A },
  { id: 'n2', address: B },
  { id: 'n3', address: C },
];

function statusError(code: grpc.status, details: string, trailers: Record<string, string> = {}) {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata });
}

interface Harness {
  runner: CallRunner;
  selector: EndpointSelector;
  sent: string[];
}

function harness(
  options: { down?: string[]; discover?: (selector: EndpointSelector) => void; maxAttempts?: number } = {},
): Harness {
  const selector = new EndpointSelector([A, B, C]);
  const down = new Set(options.down ?? []);
  // The runner only calls get(); ready() and the endpoint are all the fake connection needs.
  const pool = {
    get: (endpoint: string) => ({
      endpoint,
      ready: async () => {
        if (down.has(endpoint)) throw new NotConnectedError(`cannot connect to ${endpoint}`);
      },
    }),
  } as unknown as ConnectionPool;
  const runner = new CallRunner({
    pool,
    selector,
    retry: { maxAttempts: options.maxAttempts ?? 6, baseDelayMs: 1, maxDelayMs: 5 },
    deadlineMs: 2_000,
    connectTimeoutMs: 100,
    attemptTimeoutMs: 500,
    discoverLeader: async () => options.discover?.(selector),
  });
  return { runner, selector, sent: [] };
}

/** A call whose attempts answer from `script` in turn (an Error is thrown, anything else returned). */
function spec(h: Harness, kind: 'read' | 'write', script: unknown[]): CallSpec<string> {
  return {
    operation: `${kind} /k`,
    kind,
    idempotent: kind === 'read',
    send: async (connection) => {
      const endpoint = (connection as unknown as { endpoint: string }).endpoint;
      h.sent.push(endpoint);
      const next = script.shift();
      if (next instanceof Error) throw next;
      return `ok from ${endpoint}`;
    },
    headerOf: () => null,
  };
}

async function failure(promise: Promise<unknown>): Promise<RaftreeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RaftreeError);
    return error as RaftreeError;
  }
  throw new Error('expected the call to fail');
}

describe('CallRunner', () => {
  it('moves a write past an endpoint it cannot connect to (nothing was sent there)', async () => {
    const h = harness({ down: [A] });
    const result = await h.runner.call(spec(h, 'write', ['ok']));
    expect(result.endpoint).toBe(B);
    expect(h.sent).toEqual([B]);
  });

  it('never repeats a write whose connection broke after sending: outcome unknown', async () => {
    const h = harness();
    const error = await failure(
      h.runner.call(spec(h, 'write', [statusError(grpc.status.UNAVAILABLE, 'Connection dropped')])),
    );
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.outcomeUnknown).toBe(true);
    expect(error.message).toMatch(/outcome unknown/);
    expect(h.sent).toHaveLength(1);
  });

  it('never repeats a write that timed out', async () => {
    const h = harness();
    const error = await failure(
      h.runner.call(spec(h, 'write', [statusError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded')])),
    );
    expect(error.outcomeUnknown).toBe(true);
    expect(h.sent).toHaveLength(1);
  });

  it('repeats a write the server refused before proposing it (no leader)', async () => {
    const h = harness();
    const noLeader = statusError(grpc.status.UNAVAILABLE, 'no leader', { 'raftree-member-id': 'n1' });
    const result = await h.runner.call(spec(h, 'write', [noLeader, 'ok']));
    expect(h.sent).toEqual([A, B]);
    expect(result.response).toBe(`ok from ${B}`);
  });

  it('surfaces the server\'s own "outcome unknown"', async () => {
    const h = harness();
    const unknown = statusError(grpc.status.UNAVAILABLE, 'leadership changed', {
      'raftree-member-id': 'n1',
      'raftree-outcome': 'unknown',
    });
    const error = await failure(h.runner.call(spec(h, 'write', [unknown])));
    expect(error.outcomeUnknown).toBe(true);
    expect(error.trailers['raftree-outcome']).toBe('unknown');
  });

  it('goes to the leader named in a refusal next', async () => {
    const h = harness();
    h.selector.observeStatus({ endpoint: A, selfId: 'n1', term: 1, leaderId: '', members });
    const refusal = statusError(grpc.status.UNAVAILABLE, 'not leader', {
      'raftree-member-id': 'n1',
      'raftree-leader-id': 'n3',
      'raftree-leader-address': C,
    });
    await h.runner.call(spec(h, 'write', [refusal, 'ok']));
    expect(h.sent).toEqual([A, C]);
  });

  it('retries reads on transient errors across endpoints', async () => {
    const h = harness();
    const result = await h.runner.call(
      spec(h, 'read', [
        statusError(grpc.status.UNAVAILABLE, 'x'),
        statusError(grpc.status.DEADLINE_EXCEEDED, 'y'),
        'ok',
      ]),
    );
    expect(h.sent).toEqual([A, B, C]);
    expect(result.endpoint).toBe(C);
  });

  it('does not retry a final answer', async () => {
    const h = harness();
    const error = await failure(
      h.runner.call(
        spec(h, 'read', [
          statusError(grpc.status.OUT_OF_RANGE, 'compacted', {
            'raftree-member-id': 'n1',
            'raftree-compact-revision': '12',
          }),
        ]),
      ),
    );
    expect(error.code).toBe('OUT_OF_RANGE');
    expect(error.compactRevision).toBe(12);
    expect(h.sent).toHaveLength(1);
  });

  it('gives up after maxAttempts when nothing answers, saying nothing was sent', async () => {
    const h = harness({ down: [A, B, C], maxAttempts: 4 });
    const error = await failure(h.runner.call(spec(h, 'write', ['ok'])));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.notSent).toBe(true);
    expect(error.outcomeUnknown).toBe(false);
    expect(error.message).toMatch(/4 attempts/);
    expect(h.sent).toHaveLength(0);
  });

  it('stops at once when the client is closed under a call', async () => {
    const selector = new EndpointSelector([A, B]);
    let gets = 0;
    const pool = {
      get: () => {
        gets++;
        throw new ClientClosedError('the client is closed');
      },
    } as unknown as ConnectionPool;
    const runner = new CallRunner({
      pool,
      selector,
      retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
      deadlineMs: 1_000,
      connectTimeoutMs: 100,
      attemptTimeoutMs: 100,
      discoverLeader: async () => undefined,
    });
    const h: Harness = { runner, selector, sent: [] };
    const error = await failure(runner.call(spec(h, 'read', ['ok'])));
    expect(error.code).toBe('CANCELLED');
    expect(gets).toBe(1);
  });

  it('stops at the call deadline', async () => {
    const selector = new EndpointSelector([A]);
    const pool = {
      get: (endpoint: string) => ({ endpoint, ready: async () => undefined }),
    } as unknown as ConnectionPool;
    const runner = new CallRunner({
      pool,
      selector,
      retry: { maxAttempts: 1_000, baseDelayMs: 20, maxDelayMs: 40 },
      deadlineMs: 250,
      connectTimeoutMs: 100,
      attemptTimeoutMs: 100,
      discoverLeader: async () => undefined,
    });
    const started = Date.now();
    const h: Harness = { runner, selector, sent: [] };
    const error = await failure(
      runner.call(
        spec(
          h,
          'read',
          Array.from({ length: 1_000 }, () => statusError(grpc.status.UNAVAILABLE, 'down')),
        ),
      ),
    );
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('asks who leads before a write, then sends it there', async () => {
    const h = harness({
      discover: (selector) =>
        selector.observeStatus({ endpoint: A, selfId: 'n1', term: 2, leaderId: 'n2', members }),
    });
    await h.runner.call(spec(h, 'write', ['ok']));
    expect(h.sent).toEqual([B]);
    // Reads are not sent to the leader on purpose.
    await h.runner.call(spec(h, 'read', ['ok']));
    expect(h.sent[1]).toBe(B);
  });
});
