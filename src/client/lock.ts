/**
 * Distributed locks (the election recipe under /_lock/NAME), each held by a session:
 *
 *   const session = await client.session({ ttlMs: 10_000 });
 *   const lock = await client.lock('invoices', session);
 *   try {
 *     await storage.write(data, { fencingToken: lock.fencingToken });
 *   } finally {
 *     await lock.unlock();
 *   }
 *
 * A lock is only as good as its session: if the session is lost (a long GC pause, a network
 * partition) another client may get the lock while this one still thinks it holds it. That is
 * why every grant carries a fencing token, which only grows: the protected resource must
 * refuse any token lower than the highest it has already seen (see docs/coordination.md).
 *
 * One holder per session and lock name: locking again with the same session returns the same
 * hold (the lock is re-entrant per session, as in etcd). Give each worker its own session.
 */
import type { CoordinationDeps } from './coordination-deps.js';
import { leaderKeyToWire, waitingCall, type LeaderKey, type WaitOptions } from './election.js';
import { RaftreeError } from './errors.js';
import { sessionIdOf, type SessionRef } from './tree.js';
import { headerFromWire, type ResponseHeader } from './types.js';

export class Lock implements LeaderKey {
  readonly name: string;
  readonly key: string;
  readonly sessionId: number;
  /** The lock node's create revision: strictly greater than every earlier holder's. */
  readonly fencingToken: number;
  /** The store revision at which the lock was confirmed held. */
  readonly revision: number;
  readonly header: ResponseHeader;

  /** @internal */
  constructor(
    private readonly deps: CoordinationDeps,
    key: LeaderKey,
    header: ResponseHeader,
  ) {
    this.name = key.name;
    this.key = key.key;
    this.sessionId = key.sessionId;
    this.fencingToken = key.fencingToken;
    this.header = header;
    this.revision = header.revision;
  }

  /** Releases the lock (deletes its node if it is still this hold's); harmless if already gone. */
  async unlock(options: { deadlineMs?: number } = {}): Promise<void> {
    await unlock(this.deps, this, options);
  }
}

/** Waits until `session` holds the lock `name`. */
export async function acquireLock(
  deps: CoordinationDeps,
  name: string,
  session: SessionRef,
  options: WaitOptions = {},
): Promise<Lock> {
  const operation = `lock ${name}`;
  const request = { name, sessionId: sessionIdOf(session) };
  const response = await waitingCall(deps, operation, session, options, (c, deadline, signal) =>
    c.unary(deps.methods.lock, request, deadline, signal),
  );
  if (response.lock === null) {
    throw new RaftreeError({ code: 'INTERNAL', details: 'Lock returned no lock key', operation });
  }
  const wire = response.lock;
  return new Lock(
    deps,
    { name: wire.name, key: wire.key, sessionId: wire.sessionId, fencingToken: wire.fencingToken },
    headerFromWire(response.header),
  );
}

export async function unlock(
  deps: CoordinationDeps,
  key: LeaderKey,
  options: { deadlineMs?: number } = {},
): Promise<void> {
  await deps.call({
    operation: `unlock ${key.name}`,
    kind: 'write',
    // Conditional on the create revision: repeating it cannot release anyone else's hold.
    idempotent: true,
    deadlineMs: options.deadlineMs,
    send: (c, deadline) => c.unary(deps.methods.unlock, { lock: leaderKeyToWire(key) }, deadline),
    headerOf: (r) => r.header,
  });
}
