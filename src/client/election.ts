/**
 * Leader election (the ZooKeeper recipe, run by the cluster):
 *
 *   const session = await client.session({ ttlMs: 10_000 });
 *   const election = client.election('scheduler');
 *   const leadership = await election.campaign('host-a:8080', session);   // waits for its turn
 *   doLeaderWork({ fencingToken: leadership.fencingToken });
 *   session.on('lost', () => stopLeaderWork());
 *   await leadership.resign();
 *
 *   for await (const leader of election.observe()) console.log(leader?.text() ?? 'nobody');
 *
 * One candidacy per session and election: campaigning again with the same session resumes
 * the same candidate (that is what makes a Campaign safe to retry after a failover).
 */
import { EventEmitter } from 'node:events';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { fullJitterDelayMs } from './backoff.js';
import { NotConnectedError, type Connection } from './connection.js';
import type { ClientResource, CoordinationDeps } from './coordination-deps.js';
import type { LeaderKeyWire, LeaderResponseWire } from './coordination-wire.js';
import { codeName, isStatusLike, RaftreeError, type RaftreeErrorCode } from './errors.js';
import { Session } from './session.js';
import { sessionIdOf, type SessionRef } from './tree.js';
import { bytesToText, headerFromWire, toBytes, type Bytes, type ResponseHeader } from './types.js';
import type { ResponseHeaderWire } from './wire.js';
import { eventIterator } from './event-iterator.js';

export interface LeaderKey {
  readonly name: string;
  /** The candidate node, e.g. /_election/scheduler/c-0000000007. */
  readonly key: string;
  readonly sessionId: number;
  /**
   * The candidate's create revision: it only grows from one holder to the next. Pass it with
   * every write to the resource you protect, and have the resource refuse tokens lower than
   * the highest it has seen.
   */
  readonly fencingToken: number;
}

export interface ElectionLeader extends LeaderKey {
  readonly value: Uint8Array;
  /** The store revision at which this was read. */
  readonly revision: number;
  text(): string;
}

export interface WaitOptions {
  /** Give up (and withdraw the candidate) after this long; default: wait as long as it takes. */
  readonly deadlineMs?: number;
  /** Abort the wait (the candidate is withdrawn). */
  readonly signal?: AbortSignal;
}

/** Codes after which a Campaign / Lock is simply tried again (it resumes the same candidate). */
const WAIT_RETRYABLE: ReadonlySet<RaftreeErrorCode> = new Set<RaftreeErrorCode>([
  'UNAVAILABLE',
  'ABORTED',
  'DEADLINE_EXCEEDED',
  'UNKNOWN',
]);

/** A single server call may wait at most this long; the client then asks again. */
const MAX_WAIT_CALL_MS = 3_000_000;

function leaderKeyFromWire(wire: LeaderKeyWire): LeaderKey {
  return { name: wire.name, key: wire.key, sessionId: wire.sessionId, fencingToken: wire.fencingToken };
}

export function leaderKeyToWire(key: LeaderKey): LeaderKeyWire {
  return { name: key.name, key: key.key, sessionId: key.sessionId, fencingToken: key.fencingToken };
}

/**
 * Runs a waiting call (Campaign / Lock) until it succeeds, fails for good, the deadline
 * passes, the signal aborts or the session is lost. Retries after failovers: the server
 * resumes the session's existing candidate.
 */
export async function waitingCall<Res extends { header: ResponseHeaderWire | null }>(
  deps: CoordinationDeps,
  operation: string,
  session: SessionRef,
  options: WaitOptions,
  send: (connection: Connection, deadline: number, signal: AbortSignal) => Promise<Res>,
): Promise<Res> {
  const deadline = options.deadlineMs !== undefined ? Date.now() + options.deadlineMs : Infinity;
  const abort = new AbortController();
  const onUserAbort = (): void => abort.abort(cancelled(operation, 'the wait was aborted'));
  const helper = session instanceof Session ? session : null;
  const onLost = (error: RaftreeError): void =>
    abort.abort(
      new RaftreeError({
        code: 'NOT_FOUND',
        details: `the session was lost while waiting (${error.details})`,
        operation,
      }),
    );
  if (options.signal?.aborted === true) throw cancelled(operation, 'the wait was aborted');
  if (helper !== null && !helper.isAlive) {
    throw new RaftreeError({
      code: 'NOT_FOUND',
      details: `session ${helper.id} is no longer alive`,
      operation,
    });
  }
  options.signal?.addEventListener('abort', onUserAbort, { once: true });
  helper?.once('lost', onLost);
  try {
    let failures = 0;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new RaftreeError({
          code: 'DEADLINE_EXCEEDED',
          details: 'the deadline passed while waiting',
          operation,
        });
      }
      try {
        return await deps.call({
          operation,
          kind: 'write',
          idempotent: false,
          deadlineMs: Math.min(remaining, MAX_WAIT_CALL_MS),
          send: (c, d) => send(c, d, abort.signal),
          headerOf: (r) => r.header,
        });
      } catch (error) {
        if (abort.signal.aborted) throw abort.signal.reason;
        if (!(error instanceof RaftreeError) || !WAIT_RETRYABLE.has(error.code) || Date.now() >= deadline) {
          throw error;
        }
        const delay = fullJitterDelayMs(failures++, deps.retry);
        await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), abort.signal);
        if (abort.signal.aborted) throw abort.signal.reason;
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', onUserAbort);
    helper?.off('lost', onLost);
  }
}

function cancelled(operation: string, details: string): RaftreeError {
  return new RaftreeError({ code: 'CANCELLED', details, operation });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Held leadership of an election. */
export class Leadership implements LeaderKey {
  readonly name: string;
  readonly key: string;
  readonly sessionId: number;
  readonly fencingToken: number;
  /** The store revision at which leadership was confirmed. */
  readonly revision: number;
  readonly header: ResponseHeader;

  /** @internal */
  constructor(
    private readonly election: Election,
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

  /** Gives leadership up (deletes the candidate node); harmless if already gone. */
  resign(options: { deadlineMs?: number } = {}): Promise<void> {
    return this.election.resign(this, options);
  }
}

export class Election {
  constructor(
    private readonly deps: CoordinationDeps,
    readonly name: string,
  ) {}

  /**
   * Joins the election with `value` (what Leader / Observe show, e.g. an address) and waits
   * until this candidate leads. If the session is lost, the deadline passes or the signal
   * aborts first, it rejects (and the candidate is withdrawn, or goes with the session).
   */
  async campaign(value: Bytes, session: SessionRef, options: WaitOptions = {}): Promise<Leadership> {
    const request = { name: this.name, value: toBytes(value), sessionId: sessionIdOf(session) };
    const response = await waitingCall(
      this.deps,
      `campaign ${this.name}`,
      session,
      options,
      (c, deadline, signal) => c.unary(this.deps.methods.campaign, request, deadline, signal),
    );
    if (response.leader === null) {
      throw new RaftreeError({
        code: 'INTERNAL',
        details: 'Campaign returned no leader key',
        operation: `campaign ${this.name}`,
      });
    }
    return new Leadership(this, leaderKeyFromWire(response.leader), headerFromWire(response.header));
  }

  /** Deletes a leader key (the one Campaign returned); harmless if it is already gone. */
  async resign(key: LeaderKey, options: { deadlineMs?: number } = {}): Promise<void> {
    await this.deps.call({
      operation: `resign ${this.name}`,
      kind: 'write',
      // Conditional on the create revision: repeating it cannot delete anything else.
      idempotent: true,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.deps.methods.resign, { leader: leaderKeyToWire(key) }, deadline),
      headerOf: (r) => r.header,
    });
  }

  /** The current leader (linearizable), or undefined when nobody leads. */
  async leader(options: { deadlineMs?: number } = {}): Promise<ElectionLeader | undefined> {
    const response = await this.deps.call({
      operation: `leader ${this.name}`,
      kind: 'read',
      idempotent: true,
      deadlineMs: options.deadlineMs,
      send: (c, deadline) => c.unary(this.deps.methods.leader, { name: this.name }, deadline),
      headerOf: (r) => r.header,
    });
    return electionLeaderOf(response) ?? undefined;
  }

  /** The leader now, then every change (null when nobody leads); survives node failures. */
  observe(): LeaderObserver {
    return new LeaderObserver(this.deps, this.name);
  }
}

function electionLeaderOf(response: LeaderResponseWire): ElectionLeader | null {
  if (response.leader === null) return null;
  const value = response.value;
  return {
    ...leaderKeyFromWire(response.leader),
    value,
    revision: headerFromWire(response.header).revision,
    text: () => bytesToText(value),
  };
}

export interface LeaderObserverEvents {
  leader: [leader: ElectionLeader | null];
  reconnecting: [info: { readonly endpoint: string; readonly error: Error; readonly delayMs: number }];
  error: [error: RaftreeError];
  close: [];
}

/**
 * A stream of leader changes. Async-iterable (`for await`) or an EventEmitter ('leader').
 * After a reconnect the current leader is reported again only if it differs from the last.
 */
export class LeaderObserver
  extends EventEmitter<LeaderObserverEvents>
  implements AsyncIterable<ElectionLeader | null>, ClientResource
{
  private closed = false;
  private stream: ClientReadableStream<LeaderResponseWire> | null = null;
  private last: string | undefined;
  private wakeSleeper: (() => void) | null = null;
  private readonly untrack: () => void;
  error: RaftreeError | null = null;

  constructor(
    private readonly deps: CoordinationDeps,
    readonly name: string,
  ) {
    super();
    this.untrack = deps.track(this);
    setImmediate(() => {
      this.run().catch((error: unknown) =>
        this.finish(
          new RaftreeError({
            code: 'INTERNAL',
            details: error instanceof Error ? error.message : String(error),
            operation: `observe ${name}`,
          }),
        ),
      );
    });
  }

  close(): void {
    this.finish(null);
  }

  stopLocally(): void {
    this.finish(null);
  }

  [Symbol.asyncIterator](): AsyncIterator<ElectionLeader | null> {
    return eventIterator<ElectionLeader | null>({
      emitter: this,
      valueEvent: 'leader',
      ended: this.closed,
      error: this.error,
      close: () => this.close(),
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    let avoid: string | undefined;
    while (!this.closed) {
      const plan = this.deps.selector.plan('read');
      const endpoint = plan.find((e) => e !== avoid) ?? plan[0]!;
      const end = await this.session(endpoint);
      if (this.closed) return;
      if (end.fatal !== undefined) return this.finish(end.fatal);
      this.deps.selector.reportFailure(endpoint);
      avoid = endpoint;
      failures = end.received ? 0 : failures + 1;
      if (failures >= 30) {
        return this.finish(
          new RaftreeError({
            code: 'UNAVAILABLE',
            details: `gave up after ${failures} attempts to observe (last error: ${end.error.message})`,
            operation: `observe ${this.name}`,
          }),
        );
      }
      const delayMs = failures === 0 ? 0 : fullJitterDelayMs(failures - 1, this.deps.retry);
      this.emit('reconnecting', { endpoint, error: end.error, delayMs });
      await this.pause(delayMs);
    }
  }

  private async session(
    endpoint: string,
  ): Promise<{ fatal?: RaftreeError; error: Error; received: boolean }> {
    let connection;
    try {
      connection = this.deps.pool.get(endpoint);
      await connection.ready(Date.now() + this.deps.connectTimeoutMs);
    } catch (error) {
      if (!(error instanceof NotConnectedError)) throw error;
      return { error, received: false };
    }
    if (this.closed) return { error: new Error('closed'), received: false };
    const stream = connection.serverStream(this.deps.methods.observe, { name: this.name });
    this.stream = stream;
    return new Promise((resolve) => {
      let received = false;
      let settled = false;
      const finish = (result: { fatal?: RaftreeError; error: Error; received: boolean }): void => {
        if (settled) return;
        settled = true;
        this.stream = null;
        stream.removeAllListeners('data');
        stream.on('error', () => undefined);
        stream.cancel();
        resolve(result);
      };
      stream.on('data', (response: LeaderResponseWire) => {
        if (settled || this.closed) return;
        received = true;
        const leader = electionLeaderOf(response);
        const fingerprint =
          leader === null
            ? ''
            : `${leader.key}@${leader.fencingToken}:${Buffer.from(leader.value).toString('base64')}`;
        if (fingerprint === this.last) return;
        this.last = fingerprint;
        this.emit('leader', leader);
      });
      stream.on('error', (error: unknown) => {
        if (isStatusLike(error)) {
          const code = codeName(error.code);
          if (code === 'INVALID_ARGUMENT' || code === 'UNIMPLEMENTED') {
            finish({
              fatal: new RaftreeError({
                code,
                details: error.details,
                operation: `observe ${this.name}`,
                endpoint,
              }),
              error: new Error(error.details),
              received,
            });
            return;
          }
          finish({ error: new Error(`${code}: ${error.details}`), received });
          return;
        }
        finish({ error: error instanceof Error ? error : new Error(String(error)), received });
      });
      stream.on('end', () => finish({ error: new Error(`observe stream from ${endpoint} ended`), received }));
    });
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeSleeper = null;
        resolve();
      }, ms);
      this.wakeSleeper = () => {
        clearTimeout(timer);
        this.wakeSleeper = null;
        resolve();
      };
    });
  }

  private finish(error: RaftreeError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.wakeSleeper?.();
    this.stream?.cancel();
    this.untrack();
    if (error !== null) {
      this.error = error;
      if (this.listenerCount('error') > 0) this.emit('error', error);
    }
    this.emit('close');
  }
}
