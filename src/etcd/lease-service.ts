/**
 * etcdserverpb.Lease on raftree sessions: an etcd lease is a session, its ID the session id,
 * and a key put with `lease` is owned by it (revoking or expiring the lease deletes the key).
 *
 * Grant and Revoke are writes (proposed on the leader, forwarded there by a follower).
 * Deadlines live only in the leader's SessionKeeper — the node's one keeper, shared with the
 * native coordination API (coordination/shared-keeper.ts) — so TimeToLive is forwarded to the
 * leader, and a follower relays KeepAlive streams to the leader's LeaseKeepAlive over one
 * upstream stream per client stream. When that upstream breaks (the leader died or stepped
 * down) the client's stream ends with UNAVAILABLE; etcd clients re-open it and keep sending.
 *
 * TTLs: etcd counts whole seconds, raftree milliseconds. A granted TTL below the minimum is
 * raised to it, as etcd does (see minimumTtlSeconds); one above raftree's maximum, one hour, is
 * refused with etcd's "too large lease TTL" (etcd's own limit is 9,000,000,000 s). Remaining
 * TTLs are truncated to whole seconds, as etcd does.
 */
import * as grpc from '@grpc/grpc-js';
import { FORWARDED_BY_METADATA, forwardedByOf, type CallContext } from '../api/call-context.js';
import { proposeCommand } from '../api/propose.js';
import { RejectedRequest } from '../api/proto.js';
import { acquireSessionKeeper } from '../coordination/shared-keeper.js';
import type { SessionKeeper } from '../coordination/session-keeper.js';
import { LeaderChannels } from '../coordination/session-service.js';
import { ReplicaError } from '../replica/errors.js';
import {
  MAX_SESSION_TTL_MS,
  MIN_SESSION_TTL_MS,
  StateMachineError,
  StateMachineErrorCode,
} from '../state-machine/index.js';
import { etcdHeader, type EtcdContext } from './context.js';
import { EtcdError, EtcdErrors, toEtcdError } from './errors.js';
import { encodeKey } from './key-bytes.js';
import { linearizableBarrier } from './kv-service.js';
import type {
  LeaseGrantRequestWire,
  LeaseGrantResponseWire,
  LeaseKeepAliveRequestWire,
  LeaseKeepAliveResponseWire,
  LeaseLeasesRequestWire,
  LeaseLeasesResponseWire,
  LeaseRevokeRequestWire,
  LeaseRevokeResponseWire,
  LeaseTimeToLiveRequestWire,
  LeaseTimeToLiveResponseWire,
} from './wire-types.js';

/** The longest lease raftree holds, in etcd's seconds. */
export const MAX_LEASE_TTL_SECONDS = MAX_SESSION_TTL_MS / 1000;

/**
 * The shortest TTL a lease gets: etcd's rule (1.5 election timeouts, rounded up to a whole
 * second, so a lease outlives the election that follows a leader failure) on raftree's election
 * timeout, and never below the state machine's minimum session TTL. Failovers are covered
 * separately: a new leader grants every session a grace of two election timeouts.
 */
export function minimumTtlSeconds(electionTimeoutMs: number): number {
  return Math.max(Math.ceil(MIN_SESSION_TTL_MS / 1000), Math.ceil((3 * electionTimeoutMs) / 2000));
}

/**
 * A session TTL in etcd's whole seconds. Rounded down (never below 1): sessions opened through
 * the native API may have any millisecond TTL, and a client schedules its keep-alives from this
 * number, so it must not overstate it.
 */
function ttlSeconds(ttlMs: number): number {
  return Math.max(1, Math.floor(ttlMs / 1000));
}

/** The TTL to grant for LeaseGrant's `TTL` field, in ms, or etcd's error for it. */
function grantedTtlMs(wire: string, minimumSeconds: number): number {
  // Any int64 the wire can carry converts to a finite number; precision above 2^53 does not
  // matter for comparisons against one hour.
  const requested = wire === '' ? 0 : Number(wire);
  if (!Number.isFinite(requested)) {
    throw new EtcdError(grpc.status.INVALID_ARGUMENT, `raftree: lease TTL must be an integer, got ${wire}`);
  }
  if (requested > MAX_LEASE_TTL_SECONDS) throw EtcdErrors.leaseTTLTooLarge;
  return Math.max(requested, minimumSeconds) * 1000;
}

/** LeaseGrant's `ID`: undefined for 0 (the server picks), else a session id raftree can hold. */
function chosenLeaseId(wire: string): number | undefined {
  const id = wire === '' ? 0 : Number(wire);
  if (id === 0) return undefined;
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new EtcdError(
      grpc.status.INVALID_ARGUMENT,
      `raftree: a chosen lease ID must be a positive integer below 2^53 (raftree's lease ids are ` +
        `session ids), got ${wire}; pass 0 to let the server pick one`,
    );
  }
  return id;
}

/** The session a lease ID names, or null when no session can have it (0, negative, ≥ 2^53). */
function sessionIdOf(wire: string): number | null {
  const id = Number(wire);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

function isSessionNotFound(error: unknown): boolean {
  return error instanceof StateMachineError && error.code === StateMachineErrorCode.SessionNotFound;
}

/** What the handlers and the keep-alive streams share. */
interface LeaseParts {
  readonly context: EtcdContext;
  readonly keeper: SessionKeeper;
  readonly channels: LeaderChannels;
}

export function leaseServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const { node, runner, router, services } = context;
  const replica = node.replica;
  const lease = services.lease;
  const sessions = acquireSessionKeeper(node);
  const parts: LeaseParts = { context, keeper: sessions.keeper, channels: new LeaderChannels() };
  // The service lives as long as the extension's runner: its stop() aborts every tracked
  // controller, and this one gives the keeper back and closes the relay channels.
  const lifetime = new AbortController();
  runner.track(lifetime);
  lifetime.signal.addEventListener('abort', () => {
    sessions.release();
    parts.channels.close();
  });

  const grant = async (wire: LeaseGrantRequestWire, call: CallContext): Promise<LeaseGrantResponseWire> => {
    const ttlMs = grantedTtlMs(wire.TTL, minimumTtlSeconds(replica.electionTimeoutMs));
    const sessionId = chosenLeaseId(wire.ID);
    const command = {
      type: 'openSession',
      ttlMs,
      ...(sessionId === undefined ? {} : { sessionId }),
    } as const;
    const result = await proposeCommand(replica, command, call, ['openSession']);
    return {
      header: etcdHeader(context, result.revision),
      ID: String(result.sessionId),
      TTL: String(ttlSeconds(result.ttlMs)),
      error: '',
    };
  };

  const revoke = async (
    wire: LeaseRevokeRequestWire,
    call: CallContext,
  ): Promise<LeaseRevokeResponseWire> => {
    const sessionId = sessionIdOf(wire.ID);
    if (sessionId === null) throw EtcdErrors.leaseNotFound;
    const command = { type: 'closeSession', sessionId, reason: 'closed' } as const;
    const result = await proposeCommand(replica, command, call, ['closeSession']);
    return { header: etcdHeader(context, result.revision) };
  };

  const timeToLive = async (
    wire: LeaseTimeToLiveRequestWire,
    call: CallContext,
  ): Promise<LeaseTimeToLiveResponseWire> => {
    // etcd answers an unknown lease with TTL -1 rather than an error.
    const unknown = (): LeaseTimeToLiveResponseWire => ({
      header: etcdHeader(context),
      ID: wire.ID,
      TTL: '-1',
      grantedTTL: '0',
      keys: [],
    });
    const sessionId = sessionIdOf(wire.ID);
    if (sessionId === null) return unknown();
    // Only the leader's keeper knows how much time is left.
    return router.route(lease['LeaseTimeToLive']!, wire, call, 'read', async () => {
      await linearizableBarrier(context, call);
      const session = replica.stateMachine.session(sessionId);
      if (session === undefined) return unknown();
      let remainingMs: number;
      try {
        remainingMs = parts.keeper.remainingMs(sessionId);
      } catch (error) {
        if (isSessionNotFound(error)) return unknown();
        throw error;
      }
      return {
        header: etcdHeader(context),
        ID: wire.ID,
        TTL: String(Math.floor(remainingMs / 1000)),
        grantedTTL: String(ttlSeconds(session.ttlMs)),
        keys: wire.keys ? session.keys.map(encodeKey) : [],
      };
    });
  };

  const leases = async (
    _wire: LeaseLeasesRequestWire,
    call: CallContext,
  ): Promise<LeaseLeasesResponseWire> => {
    await linearizableBarrier(context, call);
    return {
      header: etcdHeader(context),
      leases: replica.stateMachine.sessions().map((s) => ({ ID: String(s.sessionId) })),
    };
  };

  return {
    LeaseGrant: runner.unary('etcd.Lease/LeaseGrant', 'write', grant),
    LeaseRevoke: runner.unary('etcd.Lease/LeaseRevoke', 'write', revoke),
    LeaseKeepAlive: (call: KeepAliveCall): void => new LeaseKeepAliveStream(parts, call).start(),
    LeaseTimeToLive: runner.unary('etcd.Lease/LeaseTimeToLive', 'read', timeToLive),
    LeaseLeases: runner.unary('etcd.Lease/LeaseLeases', 'read', leases),
  };
}

type KeepAliveCall = grpc.ServerDuplexStream<
  LeaseKeepAliveRequestWire | RejectedRequest,
  LeaseKeepAliveResponseWire
>;
type Upstream = grpc.ClientDuplexStream<LeaseKeepAliveRequestWire, LeaseKeepAliveResponseWire>;

const KEEP_ALIVE_METHOD = 'etcd.Lease/LeaseKeepAlive';

/** The upstream a follower relays one client stream's keep-alives over, to `leader`. */
interface Relay {
  readonly stream: Upstream;
  readonly leader: string;
  /** Keep-alives sent on it and not yet answered. */
  outstanding: number;
}

/**
 * One client's LeaseKeepAlive stream. Each request renews on the leader and is answered with
 * the lease's granted TTL, or TTL 0 when the lease does not exist (etcd's answer, not an error).
 * A follower passes the leader's answers through. When the client half-closes, the stream ends
 * once every keep-alive it sent has been answered, as etcd's sequential loop would.
 */
class LeaseKeepAliveStream {
  private ended = false;
  private halfClosed = false;
  /** Keep-alives received and not yet answered (renewing here, or relayed). */
  private pending = 0;
  private upstream: Relay | null = null;
  private readonly abort = new AbortController();
  private forget: () => void = () => undefined;
  private readonly startedAt = performance.now();
  /** The member that relayed this stream here: we are its leader, and never relay it again. */
  private readonly relayedBy: string | null;

  constructor(
    private readonly parts: LeaseParts,
    private readonly call: KeepAliveCall,
  ) {
    this.relayedBy = forwardedByOf(call.metadata);
  }

  start(): void {
    const runner = this.parts.context.runner;
    if (runner.isStopped) {
      this.fail(EtcdErrors.stopped);
      return;
    }
    this.forget = runner.track(this.abort);
    this.abort.signal.addEventListener('abort', () => this.fail(EtcdErrors.stopped));
    this.call.on('data', (request: LeaseKeepAliveRequestWire | RejectedRequest) => this.onRequest(request));
    this.call.on('end', () => {
      this.halfClosed = true;
      this.endIfDone();
    });
    this.call.on('cancelled', () => this.finish(grpc.status.CANCELLED));
    this.call.on('error', () => this.finish(grpc.status.UNKNOWN));
    this.call.on('close', () => this.finish(grpc.status.OK));
  }

  private onRequest(request: LeaseKeepAliveRequestWire | RejectedRequest): void {
    if (this.ended) return;
    if (request instanceof RejectedRequest) {
      this.fail(toEtcdError(request));
      return;
    }
    const sessionId = sessionIdOf(request.ID);
    if (sessionId === null) {
      this.send({ header: etcdHeader(this.parts.context), ID: request.ID, TTL: '0' });
      return;
    }
    this.pending++;
    if (this.parts.context.node.replica.isLeader) this.renewHere(request.ID, sessionId);
    else this.relay(request.ID);
  }

  /** Renews on this node, the leader. The request is counted in `pending`. */
  private renewHere(id: string, sessionId: number): void {
    this.dropUpstream();
    // Made before the renewal, as etcd does: a client never sees a keep-alive at a revision
    // later than one at which the lease was already gone.
    const header = etcdHeader(this.parts.context);
    this.parts.keeper.keepAlive(sessionId).then(
      (result) => this.answered({ header, ID: id, TTL: String(ttlSeconds(result.ttlMs)) }),
      (error: unknown) => {
        if (isSessionNotFound(error)) {
          this.answered({ header, ID: id, TTL: '0' });
          return;
        }
        // Leadership moved between the check and the renewal: follow it to the new leader.
        const moved =
          error instanceof ReplicaError && (error.code === 'NOT_LEADER' || error.code === 'NO_LEADER');
        if (moved && !this.parts.context.node.replica.isLeader) this.relay(id);
        else this.fail(toEtcdError(error));
      },
    );
  }

  /** Sends the keep-alive to the leader. The request is counted in `pending`. */
  private relay(id: string): void {
    const node = this.parts.context.node;
    if (this.relayedBy !== null) {
      // The relaying member takes this as "its upstream broke" and ends the client's stream.
      this.fail(
        new EtcdError(
          grpc.status.UNAVAILABLE,
          `raftree: node ${node.config.id} is no longer the leader (keep-alives were relayed by ` +
            `${this.relayedBy}); re-open the stream`,
        ),
      );
      return;
    }
    const leader = node.replica.leaderId;
    if (leader === null || leader === node.config.id) {
      this.fail(EtcdErrors.noLeader);
      return;
    }
    const relay = this.relayTo(leader);
    if (relay === null) return;
    relay.outstanding++;
    relay.stream.write({ ID: id });
  }

  private relayTo(leader: string): Relay | null {
    if (this.upstream?.leader === leader) return this.upstream;
    this.dropUpstream();
    const { node, services } = this.parts.context;
    const address = node.addresses.get(leader);
    if (address === undefined) {
      this.fail(
        new EtcdError(grpc.status.UNAVAILABLE, `raftree: the leader ${leader} has no known address; retry`),
      );
      return null;
    }
    this.parts.channels.prune(node.addresses.values());
    const method = services.lease['LeaseKeepAlive']!;
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_BY_METADATA, node.config.id);
    const stream = this.parts.channels
      .get(address)
      .makeBidiStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        metadata,
        {},
      ) as Upstream;
    const relay: Relay = { stream, leader, outstanding: 0 };
    this.upstream = relay;
    stream.on('data', (response: LeaseKeepAliveResponseWire) => {
      if (this.upstream !== relay) return;
      relay.outstanding = Math.max(0, relay.outstanding - 1);
      this.answered(response);
    });
    const lost = (why: string): void => {
      if (this.upstream !== relay) return;
      this.upstream = null;
      // Keep-alives in flight to that leader are lost; the client re-opens and sends again.
      this.fail(
        new EtcdError(
          grpc.status.UNAVAILABLE,
          `raftree: lost the leader ${leader} while relaying keep-alives (${why}); re-open the stream`,
        ),
      );
    };
    stream.on('error', (error: grpc.ServiceError) =>
      lost(error.details || grpc.status[error.code] || 'error'),
    );
    stream.on('end', () => lost('its stream ended'));
    return relay;
  }

  /** Stops relaying (this node leads now, or the stream ends); its unanswered keep-alives are lost. */
  private dropUpstream(): void {
    const current = this.upstream;
    if (current === null) return;
    this.upstream = null;
    this.pending = Math.max(0, this.pending - current.outstanding);
    current.stream.removeAllListeners('data');
    // Cancelling makes grpc-js emit a CANCELLED error: swallow it.
    current.stream.on('error', () => undefined);
    current.stream.cancel();
    this.endIfDone();
  }

  /** Answers one pending keep-alive. */
  private answered(response: LeaseKeepAliveResponseWire): void {
    this.pending = Math.max(0, this.pending - 1);
    this.send(response);
    this.endIfDone();
  }

  private send(response: LeaseKeepAliveResponseWire): void {
    if (this.ended || this.call.writableEnded || this.call.destroyed) return;
    this.call.write(response);
  }

  /** Ends a half-closed stream once nothing it asked for is still unanswered. */
  private endIfDone(): void {
    if (this.ended || !this.halfClosed || this.pending > 0) return;
    this.finish(grpc.status.OK);
    this.call.end();
  }

  private fail(error: EtcdError): void {
    if (this.ended) return;
    this.finish(error.code);
    if (error.code === grpc.status.INTERNAL) {
      this.parts.context.node.logger.error({ err: error }, 'lease keep-alive stream failed');
    }
    this.call.emit('error', error.toStatus(this.parts.context.node.config.id));
  }

  private finish(code: grpc.status): void {
    if (this.ended) return;
    this.ended = true;
    this.forget();
    this.dropUpstream();
    this.parts.context.runner.report(KEEP_ALIVE_METHOD, code, this.startedAt);
  }
}
