/**
 * Runs one client call across the endpoint list: picks endpoints (leader first for writes),
 * waits for a ready channel, sends with a deadline, and on failure decides (retry-decision.ts)
 * whether to try again, pacing retries with full-jitter backoff, all within the call's overall
 * deadline.
 */
import { fullJitterDelayMs, type RetryPolicy } from './backoff.js';
import { ClientClosedError, NotConnectedError, type Connection, type ConnectionPool } from './connection.js';
import type { CallKind, EndpointSelector } from './endpoint-selector.js';
import {
  codeName,
  isStatusLike,
  RaftreeError,
  SERVER_TRAILERS,
  serverTrailers,
  type RaftreeErrorCode,
} from './errors.js';
import { decideRetry, type AttemptFailure } from './retry-decision.js';
import type { ResponseHeaderWire } from './wire.js';

export interface CallSpec<Res> {
  /** For messages, e.g. "put /a". */
  readonly operation: string;
  readonly kind: CallKind;
  /** Repeating it is harmless (reads, status). */
  readonly idempotent: boolean;
  readonly send: (connection: Connection, deadline: number) => Promise<Res>;
  readonly headerOf: (response: Res) => ResponseHeaderWire | null;
  /** Only this endpoint, no fallback. */
  readonly endpoint?: string | undefined;
  readonly deadlineMs?: number | undefined;
}

export interface CallResult<Res> {
  readonly response: Res;
  readonly endpoint: string;
}

export interface CallRunnerOptions {
  readonly pool: ConnectionPool;
  readonly selector: EndpointSelector;
  readonly retry: RetryPolicy;
  readonly deadlineMs: number;
  /** How long to wait for a connection before trying the next endpoint. */
  readonly connectTimeoutMs: number;
  /** A single attempt of an idempotent call gives up after this, so a hung node costs one slot, not the whole deadline. */
  readonly attemptTimeoutMs: number;
  /** Called before a write when no leader is known (throttled by the selector). */
  readonly discoverLeader: (deadline: number) => Promise<void>;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class CallRunner {
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: CallRunnerOptions) {
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? defaultSleep;
  }

  async call<Res>(spec: CallSpec<Res>): Promise<CallResult<Res>> {
    const { selector, retry } = this.options;
    const deadline = Date.now() + (spec.deadlineMs ?? this.options.deadlineMs);
    let lastError: RaftreeError | undefined;
    let triedThisRound = new Set<string>();
    let retries = 0;
    let outOfTime = false;

    for (let attempt = 0; attempt < retry.maxAttempts; attempt++) {
      if (attempt > 0) {
        const untriedLeft = this.planFor(spec).some((e) => !triedThisRound.has(e));
        // A refused connection says nothing about the other endpoints: try the next at once.
        const delay =
          lastError?.notSent === true && untriedLeft ? 0 : fullJitterDelayMs(retries++, retry, this.random);
        if (Date.now() + delay >= deadline) {
          outOfTime = true;
          break;
        }
        if (delay > 0) await this.sleep(delay);
      }
      if (spec.kind === 'write' && spec.endpoint === undefined && selector.discoveryDue()) {
        selector.markDiscovery();
        await this.options.discoverLeader(Math.min(deadline, Date.now() + this.options.connectTimeoutMs));
      }
      let plan = this.planFor(spec);
      if (plan.every((e) => triedThisRound.has(e))) triedThisRound = new Set();
      plan = plan.filter((e) => !triedThisRound.has(e));
      const endpoint = plan[0]!;
      triedThisRound.add(endpoint);

      const outcome = await this.attempt(spec, endpoint, deadline);
      if (outcome.ok) return { response: outcome.response, endpoint };
      lastError = outcome.error;
      if (outcome.decision !== 'retry') throw outcome.error;
      if (Date.now() >= deadline) {
        outOfTime = true;
        break;
      }
    }
    throw this.exhausted(spec, lastError, outOfTime);
  }

  private planFor(spec: Pick<CallSpec<unknown>, 'endpoint' | 'kind'>): string[] {
    return spec.endpoint !== undefined ? [spec.endpoint] : this.options.selector.plan(spec.kind);
  }

  private async attempt<Res>(
    spec: CallSpec<Res>,
    endpoint: string,
    deadline: number,
  ): Promise<
    | { ok: true; response: Res }
    | { ok: false; error: RaftreeError; decision: 'retry' | 'fail' | 'outcomeUnknown' }
  > {
    const { selector, pool } = this.options;
    let connection: Connection;
    try {
      connection = pool.get(endpoint);
      await connection.ready(Math.min(deadline, Date.now() + this.options.connectTimeoutMs));
    } catch (error) {
      if (!(error instanceof NotConnectedError)) throw error;
      if (error instanceof ClientClosedError) {
        const closed = new RaftreeError({
          code: 'CANCELLED',
          details: error.message,
          operation: spec.operation,
          notSent: true,
        });
        return { ok: false, error: closed, decision: 'fail' };
      }
      selector.reportFailure(endpoint);
      const notSent = new RaftreeError({
        code: 'UNAVAILABLE',
        details: error.message,
        operation: spec.operation,
        endpoint,
        notSent: true,
      });
      return { ok: false, error: notSent, decision: decideRetry(spec.idempotent, { kind: 'notSent' }) };
    }

    const attemptDeadline = spec.idempotent
      ? Math.min(deadline, Date.now() + this.options.attemptTimeoutMs)
      : deadline;
    try {
      const response = await spec.send(connection, attemptDeadline);
      const header = spec.headerOf(response);
      selector.reportSuccess(endpoint, header ?? undefined);
      return { ok: true, response };
    } catch (error) {
      if (!isStatusLike(error)) throw error;
      const code = codeName(error.code);
      const trailers = serverTrailers(error);
      this.learnFromTrailers(trailers);
      if (code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED') selector.reportFailure(endpoint);
      const failure: AttemptFailure = { kind: 'status', code, trailers };
      const decision = decideRetry(spec.idempotent, failure);
      return {
        ok: false,
        decision,
        error: new RaftreeError({
          code,
          details: error.details,
          operation: spec.operation,
          endpoint,
          trailers,
          outcomeUnknown: decision === 'outcomeUnknown',
        }),
      };
    }
  }

  /** A follower that refuses names the leader it knows: go there next. */
  private learnFromTrailers(trailers: Readonly<Record<string, string>>): void {
    const leaderId = trailers[SERVER_TRAILERS.leaderId];
    if (leaderId === undefined || leaderId === '') return;
    const address = trailers[SERVER_TRAILERS.leaderAddress];
    const selector = this.options.selector;
    const endpoint =
      selector.endpointOf(leaderId) ??
      (address !== undefined && selector.endpoints.includes(address) ? address : undefined);
    if (endpoint !== undefined) selector.preferLeader(leaderId, endpoint);
  }

  private exhausted(
    spec: Pick<CallSpec<unknown>, 'endpoint' | 'kind' | 'operation'>,
    lastError: RaftreeError | undefined,
    timedOut: boolean,
  ): RaftreeError {
    if (lastError === undefined) {
      return new RaftreeError({
        code: 'DEADLINE_EXCEEDED',
        details: 'no attempt fit in the deadline',
        operation: spec.operation,
      });
    }
    const code: RaftreeErrorCode = timedOut && !lastError.notSent ? 'DEADLINE_EXCEEDED' : lastError.code;
    const tried = this.planFor(spec).join(', ');
    return new RaftreeError({
      code,
      details: `${lastError.details} (gave up after ${timedOut ? 'the deadline' : `${this.options.retry.maxAttempts} attempts`}; endpoints: ${tried})`,
      operation: spec.operation,
      ...(lastError.endpoint !== undefined ? { endpoint: lastError.endpoint } : {}),
      trailers: lastError.trailers,
      notSent: lastError.notSent,
    });
  }
}
