/**
 * The Election service: elections and locks by the recipe in recipe.ts. Campaign and Lock wait
 * on the member that received them (watching the local state machine); only their writes go
 * to the leader. Resign and Unlock delete the candidate if it is still the same incarnation.
 * Leader reads the lowest candidate linearizably; Observe streams the leader as it changes.
 */
import * as grpc from '@grpc/grpc-js';
import type { CallContext } from '../api/call-context.js';
import { ApiError, invalidArgument } from '../api/errors.js';
import { RejectedRequest } from '../api/proto.js';
import type { Watcher, WatchEvent } from '../state-machine/index.js';
import { type CoordinationContext, readBarrier, unary } from './context.js';
import { toCoordinationApiError } from './errors.js';
import {
  acquire,
  candidateOf,
  candidatesOf,
  compareCandidates,
  withdraw,
  type Candidate,
  type Grant,
} from './recipe.js';
import {
  ELECTION_ROOT,
  LOCK_ROOT,
  recipeDirectory,
  toCampaignValue,
  toLeaderKey,
  toRecipeName,
  toSessionId,
} from './validation.js';
import type {
  CampaignRequestWire,
  CampaignResponseWire,
  HeaderOnlyResponseWire,
  LeaderKeyWire,
  LeaderRequestWire,
  LeaderResponseWire,
  LockRequestWire,
  LockResponseWire,
  ResignRequestWire,
  UnlockRequestWire,
} from './wire-types.js';

function leaderKeyOf(name: string, candidate: Candidate): LeaderKeyWire {
  return { name, key: candidate.key, sessionId: candidate.session, fencingToken: candidate.createRevision };
}

export function electionServiceImplementation(ctx: CoordinationContext): grpc.UntypedServiceImplementation {
  const { node, runner, waitRunner, headers, limits } = ctx;

  const campaign = async (wire: CampaignRequestWire, context: CallContext): Promise<CampaignResponseWire> => {
    const name = toRecipeName(wire.name, 'campaign name');
    const sessionId = toSessionId(wire.sessionId, 'campaign session_id');
    const value = toCampaignValue(wire.value, limits);
    const grant: Grant = await acquire(ctx, 'election', ELECTION_ROOT, name, sessionId, value, context);
    return { header: headers.make(grant.revision), leader: leaderKeyOf(name, grant.candidate) };
  };

  const lock = async (wire: LockRequestWire, context: CallContext): Promise<LockResponseWire> => {
    const name = toRecipeName(wire.name, 'lock name');
    const sessionId = toSessionId(wire.sessionId, 'lock session_id');
    const grant = await acquire(ctx, 'lock', LOCK_ROOT, name, sessionId, new Uint8Array(0), context);
    return { header: headers.make(grant.revision), lock: leaderKeyOf(name, grant.candidate) };
  };

  const resign = async (wire: ResignRequestWire, context: CallContext): Promise<HeaderOnlyResponseWire> => {
    const key = toLeaderKey(wire.leader, ELECTION_ROOT, 'resign leader');
    return withdraw(
      ctx,
      'election',
      key.name,
      { ...key, createRevision: key.fencingToken, session: key.sessionId },
      {
        ...context,
      },
    );
  };

  const unlock = async (wire: UnlockRequestWire, context: CallContext): Promise<HeaderOnlyResponseWire> => {
    const key = toLeaderKey(wire.lock, LOCK_ROOT, 'unlock lock');
    return withdraw(
      ctx,
      'lock',
      key.name,
      { ...key, createRevision: key.fencingToken, session: key.sessionId },
      context,
    );
  };

  const leader = async (wire: LeaderRequestWire, context: CallContext): Promise<LeaderResponseWire> => {
    const name = toRecipeName(wire.name, 'leader name');
    await readBarrier(node, context);
    const first = candidatesOf(node.replica.stateMachine, recipeDirectory(ELECTION_ROOT, name))[0];
    return first === undefined
      ? { header: headers.make(), leader: null, value: new Uint8Array(0) }
      : { header: headers.make(), leader: leaderKeyOf(name, first), value: first.value };
  };

  const observe = (call: ObserveCall): void => {
    new ObserveStream(ctx, call).start();
  };

  return {
    Campaign: unary(waitRunner, 'Election/Campaign', 'write', campaign),
    Lock: unary(waitRunner, 'Election/Lock', 'write', lock),
    Resign: unary(runner, 'Election/Resign', 'write', resign),
    Unlock: unary(runner, 'Election/Unlock', 'write', unlock),
    Leader: unary(runner, 'Election/Leader', 'read', leader),
    Observe: observe,
  };
}

type ObserveCall = grpc.ServerWritableStream<LeaderRequestWire | RejectedRequest, LeaderResponseWire>;

/**
 * Observe: the leader now (after a linearizable read), then every change, computed from the
 * candidate directory's watch events revision by revision, so no leader in between is skipped.
 */
class ObserveStream {
  private closed = false;
  private readonly abort = new AbortController();
  private untrack: () => void = () => {};
  private watcher: Watcher | null = null;
  private readonly startedAt = performance.now();
  /** Live candidates by key. */
  private readonly candidates = new Map<string, Candidate>();
  /** What was last sent: the leader's key and mod revision, or '' for nobody. */
  private lastSent: string | null = null;
  private drainScheduled = false;

  constructor(
    private readonly ctx: CoordinationContext,
    private readonly call: ObserveCall,
  ) {}

  start(): void {
    const runner = this.ctx.runner;
    if (runner.isStopped) {
      this.fail(runner.shuttingDown);
      return;
    }
    this.untrack = runner.track(this.abort);
    this.abort.signal.addEventListener('abort', () => {
      const reason: unknown = this.abort.signal.reason;
      this.fail(reason instanceof ApiError ? reason : runner.shuttingDown);
    });
    this.call.on('cancelled', () => this.close(grpc.status.CANCELLED));
    this.call.on('error', () => this.close(grpc.status.UNKNOWN));
    this.call.on('close', () => this.close(grpc.status.OK));
    this.begin().catch((error: unknown) => this.fail(toCoordinationApiError(error, 'read')));
  }

  private async begin(): Promise<void> {
    const request: unknown = this.call.request;
    if (request instanceof RejectedRequest) throw new ApiError(request.code, request.message);
    if (request === null || typeof request !== 'object') throw invalidArgument('the request is missing');
    const name = toRecipeName((request as LeaderRequestWire).name, 'observe name');
    const directory = recipeDirectory(ELECTION_ROOT, name);
    // No deadline: the stream lasts until the client goes or the node stops.
    await readBarrier(this.ctx.node, { deadline: Infinity, signal: this.abort.signal, forwardedBy: null });
    if (this.closed) return;
    const machine = this.ctx.node.replica.stateMachine;
    for (const candidate of candidatesOf(machine, directory)) this.candidates.set(candidate.key, candidate);
    const watcher = machine.watch({ key: directory, range: 'children', startRevision: machine.revision + 1 });
    this.watcher = watcher;
    this.publish(name, machine.revision);
    watcher.setListener({
      onReadable: () => this.scheduleDrain(name, directory),
      onCancel: (_watcher, reason) =>
        setImmediate(() =>
          this.fail(
            new ApiError(
              grpc.status.UNAVAILABLE,
              `the observation ended on this member (${reason.message}); observe again`,
            ),
          ),
        ),
    });
  }

  private scheduleDrain(name: string, directory: string): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain(name, directory);
    });
  }

  private drain(name: string, directory: string): void {
    const watcher = this.watcher;
    if (watcher === null || this.closed) return;
    while (watcher.readable && !this.closed) {
      const events = watcher.take(1000);
      if (events.length === 0) break;
      // One revision at a time: the leader after each.
      let i = 0;
      while (i < events.length) {
        const revision = events[i]!.kv.modRevision;
        for (; i < events.length && events[i]!.kv.modRevision === revision; i++)
          this.apply(events[i]!, directory);
        this.publish(name, revision);
      }
    }
  }

  private apply(event: WatchEvent, directory: string): void {
    if (event.type === 'delete') {
      this.candidates.delete(event.kv.key);
      return;
    }
    const candidate = candidateOf(event.kv, directory);
    if (candidate !== null) this.candidates.set(candidate.key, candidate);
  }

  private publish(name: string, revision: number): void {
    let first: Candidate | undefined;
    for (const candidate of this.candidates.values()) {
      if (first === undefined || compareCandidates(candidate, first) < 0) first = candidate;
    }
    const fingerprint = first === undefined ? '' : `${first.key}@${first.modRevision}`;
    if (fingerprint === this.lastSent) return;
    this.lastSent = fingerprint;
    this.send(
      first === undefined
        ? { header: this.ctx.headers.make(revision), leader: null, value: new Uint8Array(0) }
        : { header: this.ctx.headers.make(revision), leader: leaderKeyOf(name, first), value: first.value },
    );
  }

  private send(response: LeaderResponseWire): void {
    if (this.closed || this.call.writableEnded || this.call.destroyed) return;
    this.call.write(response);
  }

  private fail(error: ApiError): void {
    if (this.closed) return;
    this.close(error.code);
    this.call.emit('error', error.toStatus(this.ctx.node.config.id));
  }

  private close(code: grpc.status): void {
    if (this.closed) return;
    this.closed = true;
    this.untrack();
    if (this.watcher !== null) {
      this.watcher.setListener(undefined);
      this.watcher.cancel();
    }
    this.ctx.runner.report('Election/Observe', code, this.startedAt);
  }
}
