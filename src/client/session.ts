/**
 * A session (etcd lease / ZooKeeper session) kept alive by the client.
 *
 *   const session = await client.session({ ttlMs: 10_000 });
 *   session.on('lost', (error) => stopActingAsLeader(error));
 *   await client.create('/workers/w-', 'me', { session, sequential: true });
 *   ...
 *   await session.close();   // deletes its ephemeral nodes at once
 *
 * Keep-alives go over one bidirectional stream, every ttl/3, preferably to the leader (any
 * member relays them). When the stream breaks the session reconnects to another endpoint at
 * once and sends a keep-alive straight away.
 *
 * 'lost' is emitted once, when the server says the session no longer exists, or when a whole
 * TTL has passed since the SENDING of the last keep-alive that was acknowledged. The server's
 * deadline was reset after that send, so the client gives up no later than the server does:
 * when 'lost' fires, stop doing whatever the session entitled you to (and use fencing tokens
 * for what may already be in flight).
 */
import { EventEmitter } from 'node:events';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { fullJitterDelayMs } from './backoff.js';
import { NotConnectedError } from './connection.js';
import type { ClientResource, CoordinationDeps } from './coordination-deps.js';
import type {
  SessionKeepAliveRequestWire,
  SessionKeepAliveResponseWire,
  SessionInfoResponseWire,
} from './coordination-wire.js';
import { codeName, isStatusLike, RaftreeError } from './errors.js';
import { headerFromWire, type ResponseHeader } from './types.js';

export interface SessionOptions {
  /** The session's time to live in ms (at least 1000, at most one hour). */
  readonly ttlMs: number;
  /** How often to send keep-alives (default ttlMs / 3). */
  readonly keepAliveIntervalMs?: number;
  /** Deadline of the Open call. */
  readonly deadlineMs?: number;
}

export interface SessionKeepAliveInfo {
  readonly endpoint: string;
  /** The TTL the server granted from now. */
  readonly ttlMs: number;
}

export interface SessionEvents {
  /** Emitted once: the session is gone (or cannot be confirmed within its TTL). */
  lost: [error: RaftreeError];
  keepalive: [info: SessionKeepAliveInfo];
  reconnecting: [info: { readonly endpoint: string; readonly error: Error; readonly delayMs: number }];
  /** The keep-alive ended (closed, lost or stopped). */
  end: [];
}

export interface SessionInfo {
  readonly header: ResponseHeader;
  readonly id: number;
  readonly ttlMs: number;
  /** Milliseconds before the leader expires it unless kept alive. */
  readonly remainingMs: number;
  /** The ephemeral keys it owns. */
  readonly keys: readonly string[];
}

export function sessionInfoFromWire(wire: SessionInfoResponseWire): SessionInfo {
  return {
    header: headerFromWire(wire.header),
    id: wire.sessionId,
    ttlMs: wire.ttlMs,
    remainingMs: wire.remainingMs,
    keys: wire.keys,
  };
}

type State = 'alive' | 'lost' | 'closed' | 'stopped';

const LOST_CHECK_MAX_MS = 250;

export class Session extends EventEmitter<SessionEvents> implements ClientResource {
  readonly id: number;
  readonly ttlMs: number;
  private state: State = 'alive';
  private readonly intervalMs: number;
  /** performance.now() of the send of the last acknowledged keep-alive (or of the Open). */
  private lastConfirmedAt: number;
  private stream: ClientDuplexStream<SessionKeepAliveRequestWire, SessionKeepAliveResponseWire> | null = null;
  private sendTimer: NodeJS.Timeout | null = null;
  private readonly lostTimer: NodeJS.Timeout;
  private wakeSleeper: (() => void) | null = null;
  private lostReason: RaftreeError | null = null;
  private readonly lostPromise: Promise<RaftreeError>;
  private resolveLost!: (error: RaftreeError) => void;
  private readonly untrack: () => void;

  /** @internal Use client.session() or client.sessionById(). */
  constructor(
    private readonly deps: CoordinationDeps,
    id: number,
    ttlMs: number,
    confirmedAt: number,
    options: { keepAliveIntervalMs?: number | undefined } = {},
  ) {
    super();
    this.id = id;
    this.ttlMs = ttlMs;
    this.lastConfirmedAt = confirmedAt;
    this.intervalMs = Math.max(50, options.keepAliveIntervalMs ?? Math.floor(ttlMs / 3));
    this.lostPromise = new Promise((resolve) => (this.resolveLost = resolve));
    this.untrack = deps.track(this);
    this.lostTimer = setInterval(
      () => this.checkExpiry(),
      Math.min(LOST_CHECK_MAX_MS, Math.floor(ttlMs / 10)),
    );
    setImmediate(() => {
      this.run().catch((error: unknown) =>
        this.markLost(
          new RaftreeError({
            code: 'INTERNAL',
            details: error instanceof Error ? error.message : String(error),
            operation: `keep session ${id} alive`,
          }),
        ),
      );
    });
  }

  /** Opens a new session. */
  static async open(deps: CoordinationDeps, options: SessionOptions): Promise<Session> {
    const startedAt = performance.now();
    const granted = await grantSession(deps, options.ttlMs, options.deadlineMs);
    return new Session(deps, granted.id, granted.ttlMs, startedAt, options);
  }

  /** Keeps an existing session alive (e.g. one opened by another process). */
  static async resume(
    deps: CoordinationDeps,
    id: number,
    options: { keepAliveIntervalMs?: number; deadlineMs?: number } = {},
  ): Promise<Session> {
    const startedAt = performance.now();
    const info = await sessionInfo(deps, id, options.deadlineMs);
    // Its deadline was not reset by us: count only what the leader says is left.
    const confirmedAt = startedAt - (info.ttlMs - info.remainingMs);
    return new Session(deps, id, info.ttlMs, confirmedAt, options);
  }

  /** The session is believed to exist (not lost, closed or stopped). */
  get isAlive(): boolean {
    return this.state === 'alive';
  }

  /** Why the session was lost, once it was. */
  get lostError(): RaftreeError | null {
    return this.lostReason;
  }

  /** Resolves when the session is lost (never, if it is closed first). */
  whenLost(): Promise<RaftreeError> {
    return this.lostPromise;
  }

  /** Milliseconds until the client would consider the session lost without another acknowledgement. */
  get confirmedRemainingMs(): number {
    return Math.max(0, this.ttlMs - (performance.now() - this.lastConfirmedAt));
  }

  /** Info from the leader: remaining TTL and owned keys. */
  info(options: { deadlineMs?: number } = {}): Promise<SessionInfo> {
    return sessionInfo(this.deps, this.id, options.deadlineMs);
  }

  /**
   * Ends the session: keep-alives stop and the server deletes its ephemeral nodes (at one
   * revision). Returns the deleted keys; a session already gone returns none.
   */
  async close(options: { deadlineMs?: number } = {}): Promise<readonly string[]> {
    const wasAlive = this.state === 'alive' || this.state === 'stopped';
    this.end('closed');
    if (!wasAlive) return [];
    try {
      return await closeSession(this.deps, this.id, options.deadlineMs);
    } catch (error) {
      if (error instanceof RaftreeError && error.code === 'NOT_FOUND') return [];
      throw error;
    }
  }

  /** Stops keeping the session alive WITHOUT closing it: the server expires it after its TTL. */
  stopLocally(): void {
    this.end('stopped');
  }

  // -------------------------------------------------------------------------------- internals

  private end(state: State): void {
    if (this.state !== 'alive') {
      if (state === 'closed') this.state = 'closed';
      return;
    }
    this.state = state;
    clearInterval(this.lostTimer);
    if (this.sendTimer !== null) clearInterval(this.sendTimer);
    this.sendTimer = null;
    this.dropStream();
    this.wakeSleeper?.();
    this.untrack();
    this.emit('end');
  }

  private markLost(error: RaftreeError): void {
    if (this.state !== 'alive') return;
    this.lostReason = error;
    this.end('lost');
    this.resolveLost(error);
    this.emit('lost', error);
  }

  private checkExpiry(): void {
    if (this.state !== 'alive') return;
    if (performance.now() - this.lastConfirmedAt >= this.ttlMs) {
      this.markLost(
        new RaftreeError({
          code: 'UNAVAILABLE',
          details: `no keep-alive was acknowledged within the TTL (${this.ttlMs} ms); the session may have expired`,
          operation: `keep session ${this.id} alive`,
        }),
      );
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let avoid: string | undefined;
    while (this.state === 'alive') {
      const plan = this.deps.selector.plan('write');
      const endpoint = plan.find((e) => e !== avoid) ?? plan[0]!;
      const outcome = await this.streamTo(endpoint);
      if (this.state !== 'alive') return;
      if (outcome.fatal !== undefined) {
        this.markLost(outcome.fatal);
        return;
      }
      this.deps.selector.reportFailure(endpoint);
      avoid = endpoint;
      failures = outcome.acknowledged ? 0 : failures + 1;
      const delayMs = failures === 0 ? 0 : fullJitterDelayMs(failures - 1, this.deps.retry);
      this.emit('reconnecting', { endpoint, error: outcome.error, delayMs });
      await this.pause(delayMs);
    }
  }

  /** One stream to one endpoint, until it breaks. */
  private async streamTo(
    endpoint: string,
  ): Promise<{ fatal?: RaftreeError; error: Error; acknowledged: boolean }> {
    const operation = `keep session ${this.id} alive`;
    let connection;
    try {
      connection = this.deps.pool.get(endpoint);
      await connection.ready(Date.now() + this.deps.connectTimeoutMs);
    } catch (error) {
      if (!(error instanceof NotConnectedError)) throw error;
      return { error, acknowledged: false };
    }
    if (this.state !== 'alive') return { error: new Error('stopped'), acknowledged: false };
    const stream = connection.bidi(this.deps.methods.sessionKeepAlive);
    this.stream = stream;
    return new Promise((resolve) => {
      const sentAt: number[] = [];
      let acknowledged = false;
      let settled = false;
      const finish = (result: { fatal?: RaftreeError; error: Error; acknowledged: boolean }): void => {
        if (settled) return;
        settled = true;
        if (this.sendTimer !== null) clearInterval(this.sendTimer);
        this.sendTimer = null;
        if (this.stream === stream) this.dropStream();
        resolve(result);
      };
      const send = (): void => {
        if (settled || this.state !== 'alive') return;
        sentAt.push(performance.now());
        // Unanswered keep-alives pile up only on a stuck stream: keep the list short.
        if (sentAt.length > 64) sentAt.shift();
        stream.write({ sessionId: this.id });
      };
      stream.on('data', (response: SessionKeepAliveResponseWire) => {
        if (settled) return;
        // Attribute the answer to the OLDEST outstanding send: conservative.
        const at = sentAt.shift();
        if (response.ttlMs <= 0) {
          finish({
            fatal: new RaftreeError({
              code: 'NOT_FOUND',
              details: `session ${this.id} no longer exists (it expired or was closed)`,
              operation,
              endpoint,
            }),
            error: new Error('session gone'),
            acknowledged,
          });
          return;
        }
        acknowledged = true;
        if (at !== undefined && at > this.lastConfirmedAt) this.lastConfirmedAt = at;
        if (response.header !== null) this.deps.selector.reportSuccess(endpoint, response.header);
        this.emit('keepalive', { endpoint, ttlMs: response.ttlMs });
      });
      stream.on('error', (error: unknown) => {
        if (isStatusLike(error)) {
          const code = codeName(error.code);
          if (code === 'INVALID_ARGUMENT' || code === 'NOT_FOUND' || code === 'UNIMPLEMENTED') {
            finish({
              fatal: new RaftreeError({ code, details: error.details, operation, endpoint }),
              error: new Error(error.details),
              acknowledged,
            });
            return;
          }
          finish({ error: new Error(`${code}: ${error.details}`), acknowledged });
          return;
        }
        finish({ error: error instanceof Error ? error : new Error(String(error)), acknowledged });
      });
      stream.on('end', () =>
        finish({ error: new Error(`keep-alive stream from ${endpoint} ended`), acknowledged }),
      );
      send();
      this.sendTimer = setInterval(send, this.intervalMs);
    });
  }

  private dropStream(): void {
    const stream = this.stream;
    if (stream === null) return;
    this.stream = null;
    stream.removeAllListeners('data');
    stream.on('error', () => undefined);
    stream.cancel();
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.state !== 'alive') return Promise.resolve();
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
}

export interface GrantedSession {
  readonly header: ResponseHeader;
  readonly id: number;
  readonly ttlMs: number;
}

/** Opens a session WITHOUT keeping it alive (it expires after its TTL unless someone does). */
export async function grantSession(
  deps: CoordinationDeps,
  ttlMs: number,
  deadlineMs?: number,
): Promise<GrantedSession> {
  const response = await deps.call({
    operation: `open session (TTL ${ttlMs} ms)`,
    kind: 'write',
    idempotent: false,
    deadlineMs,
    send: (c, deadline) => c.unary(deps.methods.sessionOpen, { ttlMs }, deadline),
    headerOf: (r) => r.header,
  });
  return { header: headerFromWire(response.header), id: response.sessionId, ttlMs: response.ttlMs };
}

export async function sessionInfo(
  deps: CoordinationDeps,
  id: number,
  deadlineMs?: number,
): Promise<SessionInfo> {
  const response = await deps.call({
    operation: `session info ${id}`,
    kind: 'read',
    idempotent: true,
    deadlineMs,
    send: (c, deadline) => c.unary(deps.methods.sessionInfo, { sessionId: id }, deadline),
    headerOf: (r) => r.header,
  });
  return sessionInfoFromWire(response);
}

export async function listSessions(deps: CoordinationDeps, deadlineMs?: number): Promise<SessionInfo[]> {
  const response = await deps.call({
    operation: 'list sessions',
    kind: 'read',
    idempotent: true,
    deadlineMs,
    send: (c, deadline) => c.unary(deps.methods.sessionList, {}, deadline),
    headerOf: (r) => r.header,
  });
  return response.sessions.map(sessionInfoFromWire);
}

/** Closes a session by id; returns the ephemeral keys that were deleted. */
export async function closeSession(
  deps: CoordinationDeps,
  id: number,
  deadlineMs?: number,
): Promise<string[]> {
  const response = await deps.call({
    operation: `close session ${id}`,
    kind: 'write',
    idempotent: false,
    deadlineMs,
    send: (c, deadline) => c.unary(deps.methods.sessionClose, { sessionId: id }, deadline),
    headerOf: (r) => r.header,
  });
  return response.deletedKeys;
}
